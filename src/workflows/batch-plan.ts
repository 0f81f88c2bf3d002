/**
 * How a fan-out's targets are cut into the items its lane pool runs: consecutive activity targets with the same
 * batching (and the same local or not) form batches of at most `maxTargets`, and at most `maxBytes` of requests as
 * JSON; every other target is an item of its own. Pure arithmetic, shared by the workflows and the client's dry run.
 */
import type { Batching, PlannedTarget } from '../contracts';

/** One item of the lane pool: the targets at positions start .. end - 1, batched or a single target. */
export interface Unit {
  start: number;
  end: number;
  batch?: Batching;
}

function sameBatching(a: PlannedTarget, b: PlannedTarget): boolean {
  return (
    a.batch !== undefined &&
    b.batch !== undefined &&
    a.batch.maxTargets === b.batch.maxTargets &&
    a.batch.maxBytes === b.batch.maxBytes &&
    (a.local ?? false) === (b.local ?? false)
  );
}

function batchable(target: PlannedTarget): boolean {
  return target.batch !== undefined && target.kind === 'activity' && target.limits === undefined;
}

/** The pool's items for these targets, in order. */
export function planUnits(targets: PlannedTarget[], { byService = false } = {}): Unit[] {
  const units: Unit[] = [];
  let current: (Unit & { bytes: number }) | undefined;
  targets.forEach((target, position) => {
    if (!batchable(target)) {
      current = undefined;
      units.push({ start: position, end: position + 1 });
      return;
    }
    const { maxTargets, maxBytes } = target.batch!;
    const bytes = maxBytes === undefined ? 0 : JSON.stringify(target.request ?? null).length;
    const fits =
      current &&
      sameBatching(targets[current.start], target) &&
      (!byService || targets[current.start].service === target.service) &&
      current.end - current.start < maxTargets &&
      (maxBytes === undefined || current.bytes + bytes <= maxBytes);
    if (fits) {
      current!.end++;
      current!.bytes += bytes;
    } else {
      current = { start: position, end: position + 1, batch: target.batch, bytes };
      units.push(current);
    }
  });
  return units.map(({ start, end, batch }) => (batch ? { start, end, batch } : { start, end }));
}

/** The narrowest batch when every target is batched (the plan then counts batches), else 1. */
export function batchWidthOf(targets: PlannedTarget[]): number {
  let narrowest = Infinity;
  for (const target of targets) {
    if (!batchable(target)) return 1;
    narrowest = Math.min(narrowest, target.batch!.maxTargets);
  }
  return Number.isFinite(narrowest) ? narrowest : 1;
}
