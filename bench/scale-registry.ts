/** The services and callbacks of `npm run bench:scale`, known to its client and to its worker process alike. */
import { Registry, defineCallback, defineService } from '../src/registry';

export const SCALE_SERVICE = 'scale.target';
export const SCALE_ON_TARGET = 'scale.each';
export const SCALE_FINAL = 'scale.final';

/** Targets answering `responseBytes` bytes, a no-op on-target callback, and a final callback streaming the records. */
export function scaleRegistry(responseBytes: number): Registry {
  const response = 'x'.repeat(responseBytes);
  return new Registry(
    [defineService({ name: SCALE_SERVICE, handler: async () => response })],
    [
      defineCallback({ name: SCALE_ON_TARGET, handler: async () => undefined }),
      // Streams the records: a final callback over 100,000 records need not hold them all.
      defineCallback({
        name: SCALE_FINAL,
        records: 'stream',
        handler: async (_payload, ctx) => {
          let n = 0;
          for await (const record of ctx.records!()) if (record.ok) n++;
          console.log(`  final callback streamed ${n} ok records`);
        },
      }),
    ],
  );
}
