/**
 * The per-call cost of the worker-side metrics, run by `npm run bench:observability` in a process of its own for each
 * mode (a Temporal Runtime is process-wide): `on` installs the Runtime with a Prometheus exporter as the `worker`
 * command does, `off` leaves the SDK's no-op meter. Times a target's two worker-side counts (the attempt's duration,
 * its record written) over many calls; prints one JSON line, microseconds per call.
 */
import { Runtime } from '@temporalio/worker';
import { countRecordsWritten, recordAttempt } from '../src/worker/metrics';

const CALLS = 200_000;

function microsPerCall(call: () => void): number {
  for (let i = 0; i < CALLS / 10; i++) call(); // warm-up: JIT, the instruments made, the series created
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) call();
  return Number(process.hrtime.bigint() - start) / CALLS / 1000;
}

const mode = process.argv[2] === 'on' ? 'on' : 'off';
// Port 0: any free port; nothing scrapes it, the exporter's recording cost is what is measured.
if (mode === 'on') Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: '127.0.0.1:0' } } } });
console.log(
  JSON.stringify({
    mode,
    histogramRecordMicros: microsPerCall(() => recordAttempt('bench.target', 'ok', 50)),
    counterAddMicros: microsPerCall(() => countRecordsWritten('service')),
  }),
);
process.exit(0);
