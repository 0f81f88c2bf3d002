/**
 * Figures for the benchmarks: medians of a series of runs and of the pair ratios of two contenders' runs round by
 * round, and the busiest one-second window of a series of calls.
 */

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** a[i] / b[i]: rounds run alternately in one run, so each pair saw the same machine state. */
export function pairRatios(a: number[], b: number[]): number[] {
  return a.map((value, i) => value / b[i]);
}

export function medianPairRatio(a: number[], b: number[]): number {
  return median(pairRatios(a, b));
}

/** The most calls any one-second window [t, t + 1 s) holds, of call times (ms) in ascending order. */
export function busiestSecond(times: number[]): number {
  let most = 0;
  for (let start = 0, end = 0; end < times.length; end++) {
    while (times[end] - times[start] >= 1000) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}
