/** Medians for the benchmarks: of a series of runs, and of the pair ratios of two contenders' runs round by round. */

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The median of a[i] / b[i]: rounds run alternately in one run, so each pair saw the same machine state. */
export function medianPairRatio(a: number[], b: number[]): number {
  return median(a.map((value, i) => value / b[i]));
}
