/**
 * Runs once before the suite: installs the official Temporal binaries if they are not there yet (one progress line
 * per step), so no test file pays for it or races another.
 */
import { TEMPORAL_CLI, TEMPORAL_TEST_SERVER, provision } from '../src/local/temporal-binaries';

export default function setup(): void {
  for (const spec of [TEMPORAL_CLI, TEMPORAL_TEST_SERVER]) provision(spec, (line) => console.log(line));
}
