/**
 * `npm run bench:scale`: wide fan-outs on the official dev server (in memory), one worker in this process, records
 * in a local result store in a scratch folder. For each width (BENCH_SCALE_WIDTHS, default 10000,100000): targets
 * answering 1 KB (BENCH_RESPONSE_BYTES) with one on-target callback and one final callback, maxConcurrency 1,000.
 * Prints wall time, targets/s, the largest history of any execution (fan-out and shards), the largest payload in
 * any of them, and peak RSS of worker and server; its last line is one JSON object for the widest run.
 * A benchmark: it asserts nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { FanoutClient } from '../src/client';
import type { FanoutResult } from '../src/contracts';
import { bundleFanoutWorkflows } from '../src/local/local-temporal';
import { startDevServer } from '../src/local/temporal-servers';
import { Registry, defineCallback, defineService } from '../src/registry';
import { LocalBlobStore } from '../src/store/local-store';
import { fanoutDataConverter } from '../src/store/payload-driver';
import { createFanoutWorker } from '../src/worker/create-worker';
import { planShards, shardWorkflowId } from '../src/workflows/sharding';
import { largestPayload } from '../test/helpers/histories';
import { describeMachine } from './machine';
import { findChildPids } from './proc';
import { startSampling } from './sampler';

const WIDTHS = (process.env.BENCH_SCALE_WIDTHS ?? '10000,100000').split(',').map(Number);
const RESPONSE_BYTES = Number(process.env.BENCH_RESPONSE_BYTES ?? 1024);
const MAX_CONCURRENCY = 1000;
const MIB = 2 ** 20;

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-bench-scale-'));
  const store = new LocalBlobStore(storeDir);
  const env = await startDevServer({ dataConverter: fanoutDataConverter(store) });
  const [serverPid] = findChildPids(process.pid, /temporal/);
  const response = 'x'.repeat(RESPONSE_BYTES);
  let callbacks = 0;
  const registry = new Registry(
    [defineService({ name: 'scale.target', handler: async () => response })],
    [
      defineCallback({ name: 'scale.each', handler: async () => void callbacks++ }),
      // Streams the records: a final callback over 100,000 records need not hold them all.
      defineCallback({
        name: 'scale.final',
        records: 'stream',
        handler: async (_payload, ctx) => {
          let n = 0;
          for await (const record of ctx.records!()) if (record.ok) n++;
          console.log(`  final callback streamed ${n} ok records`);
        },
      }),
    ],
  );
  const worker = await createFanoutWorker({
    connection: env.nativeConnection,
    registry,
    store,
    workflowBundle: await bundleFanoutWorkflows(),
    workerOptions: { maxConcurrentActivityTaskExecutions: MAX_CONCURRENCY, maxConcurrentActivityTaskPolls: 10 },
  });
  const fanout = new FanoutClient({ client: env.client, registry, store });
  console.log(JSON.stringify(describeMachine()));
  console.log(
    `fan-outs of ${RESPONSE_BYTES}-byte responses, one on-target and one final callback, maxConcurrency ${MAX_CONCURRENCY}`,
  );
  let last: Record<string, unknown> = {};
  await worker.runUntil(async () => {
    for (const width of WIDTHS) {
      const targets = Object.fromEntries(Array.from({ length: width }, (_, i) => [`t${i}`, i]));
      const targetOptions = Object.fromEntries(Object.keys(targets).map((name) => [name, { service: 'scale.target' }]));
      const sampling = startSampling(serverPid);
      const started = Date.now();
      const cid = await fanout.invoke(targets, ['scale.final'], {
        targetOptions,
        onTarget: ['scale.each'],
        maxConcurrency: MAX_CONCURRENCY,
      });
      const outcome = (await env.client.workflow.getHandle(cid).result()) as Pick<FanoutResult, 'counts'>;
      const wallSeconds = (Date.now() - started) / 1000;
      const cost = sampling.stop();
      const { shardCount } = planShards(width, 1, MAX_CONCURRENCY);
      const ids =
        shardCount > 1 ? [cid, ...Array.from({ length: shardCount }, (_, i) => shardWorkflowId(cid, i))] : [cid];
      let maxEvents = 0;
      let maxPayload = 0;
      for (const id of ids) {
        const history = await env.client.workflow.getHandle(id).fetchHistory();
        maxEvents = Math.max(maxEvents, history.events!.length);
        maxPayload = Math.max(maxPayload, largestPayload([history]));
      }
      last = {
        width,
        responseBytes: RESPONSE_BYTES,
        completed: outcome.counts.ok,
        wallSeconds: Number(wallSeconds.toFixed(1)),
        targetsPerSecond: Number((width / wallSeconds).toFixed(1)),
        maxEventsPerExecution: maxEvents,
        maxPayloadBytes: maxPayload,
        peakRssMiB: Math.round((cost.worker.peakRssBytes + cost.server.peakRssBytes) / MIB),
        workerPeakRssMiB: Math.round(cost.worker.peakRssBytes / MIB),
        serverPeakRssMiB: Math.round(cost.server.peakRssBytes / MIB),
        shards: shardCount,
      };
      console.log(
        `width ${width}: ${outcome.counts.ok} ok in ${wallSeconds.toFixed(1)} s (${(width / wallSeconds).toFixed(0)} targets/s), ` +
          `${shardCount} execution(s) of targets, largest history ${maxEvents} events, largest payload ${maxPayload} B, ` +
          `peak RSS worker ${last.workerPeakRssMiB} MiB + server ${last.serverPeakRssMiB} MiB`,
      );
    }
  });
  await env.teardown();
  fs.rmSync(storeDir, { recursive: true, force: true });
  console.log(JSON.stringify(last));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
