/**
 * What the tests of limits per service share, on the dev server and on the cluster: a service limited to N calls in
 * any one-second window and one limited to N at once, each with what its receiver saw; three fan-outs of one service
 * started at once; and the busiest one-second window of call times.
 */
import { expect } from 'vitest';
import type { FanoutClient } from '../../src/client';
import type { ActivityService } from '../../src/registry';
import { defineService } from '../../src/registry';
import { busiestSecond as busiestOfSorted } from '../../bench/stats';

export interface LimitedServices {
  /** `windowed` (perSecond without a burst) and `narrow` (concurrency). */
  services: ActivityService[];
  /** When `windowed` was called (ms since the epoch). */
  windowed: number[];
  /** `narrow`'s calls running now, and the most at once. */
  running: { now: number; peak: number };
}

export function limitedServices(perSecond: number, concurrency: number): LimitedServices {
  const windowed: number[] = [];
  const running = { now: 0, peak: 0 };
  const services = [
    defineService({
      name: 'windowed',
      limits: { perSecond, burst: false },
      handler: async () => {
        windowed.push(Date.now());
        return 'ok';
      },
    }),
    defineService({
      name: 'narrow',
      limits: { concurrency },
      handler: async () => {
        running.now++;
        running.peak = Math.max(running.peak, running.now);
        await new Promise((resolve) => setTimeout(resolve, 50));
        running.now--;
        return 'ok';
      },
    }),
  ];
  return { services, windowed, running };
}

/** The most calls any one-second window holds, of call times in any order. */
export function busiestSecond(times: number[]): number {
  return busiestOfSorted([...times].sort((a, b) => a - b));
}

/** Three fan-outs of `width` targets of `service` started at once, each run to the end with every target ok. */
export async function threeFanouts(
  fanout: FanoutClient,
  prefixes: [string, string, string],
  width: number,
  service: string,
  options: object = {},
): Promise<void> {
  const cids = await Promise.all(
    prefixes.map((prefix) => {
      const names = Array.from({ length: width }, (_, i) => `${prefix}${i}`);
      return fanout.invoke(Object.fromEntries(names.map((name) => [name, null])), ['done'], {
        targetOptions: Object.fromEntries(names.map((name) => [name, { service }])),
        ...options,
      });
    }),
  );
  for (const cid of cids) expect((await fanout.result(cid)).counts).toMatchObject({ total: width, ok: width });
}
