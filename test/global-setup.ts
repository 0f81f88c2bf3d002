/**
 * Runs once before the suite: installs the official Temporal binaries if they are not there yet (one progress line
 * per step), so no test file pays for it or races another. After the suite: stops the RabbitMQ node if a test
 * started it (tests stop what they start; a node that was already running is left alone).
 */
import { TEMPORAL_CLI, TEMPORAL_TEST_SERVER, provision } from '../src/local/temporal-binaries';
import { stopRabbitMqStartedByTests } from './helpers/rabbitmq';

export default function setup(): () => Promise<void> {
  for (const spec of [TEMPORAL_CLI, TEMPORAL_TEST_SERVER]) provision(spec, (line) => console.log(line));
  return async () => {
    if (await stopRabbitMqStartedByTests()) console.log('Stopped the RabbitMQ node the tests started');
  };
}
