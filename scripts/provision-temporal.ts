/**
 * `npm run provision [-- --print]`: finds or installs the official Temporal CLI (dev server) and time-skipping test
 * server (see src/local/temporal-binaries.ts for the order it tries), one progress line per step the first time,
 * silent when cached. With --print it prints the two paths as TEMPORAL_CLI_PATH=… and TEMPORAL_TEST_SERVER_PATH=….
 */
import type { Provisioned } from '../src/local/temporal-binaries';
import { TEMPORAL_CLI, TEMPORAL_TEST_SERVER, describeExecutable, provision } from '../src/local/temporal-binaries';

function main(): void {
  const print = process.argv.includes('--print');
  const log = (line: string) => console.error(line);
  const found: [string, Provisioned][] = [
    [TEMPORAL_CLI.envVar, provision(TEMPORAL_CLI, log)],
    [TEMPORAL_TEST_SERVER.envVar, provision(TEMPORAL_TEST_SERVER, log)],
  ];
  if (print) for (const [name, p] of found) console.log(`${name}=${describeExecutable(p.executable)}`);
}

main();
