#!/usr/bin/env node
/**
 * The embedded Temporal-compatible server executable. Accepts both forms @temporalio/testing uses:
 *   temporal-embedded-server <port> [extra args]            (time-skipping test server)
 *   temporal-embedded-server server start-dev --port P ...  (CLI dev server)
 * In memory, one process: a development and test vehicle, not a production server.
 */
import { CliArgsError, parseServerArgs } from './cli-args';
import { startEmbeddedServer } from './embedded-server';
import { limitsFromDynamicConfig } from './limits';

async function main(): Promise<void> {
  const startedAt = process.hrtime.bigint();
  let options;
  try {
    options = parseServerArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof CliArgsError) {
      process.stderr.write(`temporal-embedded-server: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const { limits, warnings } = limitsFromDynamicConfig(options.dynamicConfig);
  for (const warning of [...options.warnings, ...warnings]) process.stderr.write(`warning: ${warning}\n`);
  const debug = options.logLevel === 'debug';
  const server = await startEmbeddedServer({
    port: options.port,
    ip: options.ip,
    timeSkipping: options.mode === 'time-skipping',
    namespaces: options.namespaces,
    searchAttributes: options.searchAttributes,
    limits,
    log: {
      debug: debug ? (m) => process.stderr.write(`debug: ${m}\n`) : () => undefined,
      error: (m) => process.stderr.write(`error: ${m}\n`),
    },
  });
  const readyMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
  process.stdout.write(
    `temporal-embedded-server listening on ${server.address} (${options.mode}, namespaces: ${options.namespaces.join(', ')}) ready in ${readyMs.toFixed(0)} ms\n`,
  );
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (!process.argv.includes('--keep-running-without-parent')) exitWithParent();
}

/**
 * Test runners SIGKILL the server at teardown, but a runner that dies first (a crashed or killed test process)
 * would leave it running forever: when the parent goes away, so does the server.
 */
function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`temporal-embedded-server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
