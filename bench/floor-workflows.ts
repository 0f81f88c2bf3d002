/**
 * The bare-Temporal floor (workflow code, bundled on its own): N targets through a window of lanes, then one more
 * plain activity (a final callback's share: the fan-out's callbacks are plain activities, whatever its targets are),
 * nothing else: no search attributes, no metadata, no records.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export interface FloorActivities {
  target(n: number): Promise<number>;
  final(count: number): Promise<void>;
}

const plain = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

/** Targets as `activities` (plain or local); then the final callback's share, a plain activity as callbacks are. */
async function floor(activities: FloorActivities, width: number, window: number): Promise<number> {
  const values = new Array<number>(width);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < width) {
      const i = next++;
      values[i] = await activities.target(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, window) }, lane));
  await plain.final(values.length);
  return values.length;
}

export async function floorPlainActivities(width: number, window: number): Promise<number> {
  return floor(plain, width, window);
}

export async function floorLocalActivities(width: number, window: number): Promise<number> {
  return floor(local, width, window);
}
