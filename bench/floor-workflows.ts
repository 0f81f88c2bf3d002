/**
 * The bare-Temporal floor (workflow code, bundled on its own): N targets through a window of lanes, then one more
 * activity (a final callback's share), nothing else: no search attributes, no metadata, no records.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export interface FloorActivities {
  target(n: number): Promise<number>;
  final(count: number): Promise<void>;
}

const plain = proxyActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

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
  await activities.final(values.length);
  return values.length;
}

export async function floorPlainActivities(width: number, window: number): Promise<number> {
  return floor(plain, width, window);
}

export async function floorLocalActivities(width: number, window: number): Promise<number> {
  return floor(local, width, window);
}
