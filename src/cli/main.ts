#!/usr/bin/env node
/**
 * The `temporal-fanout` command: a worker and an HTTP API that serve the app's own services, and the workflow
 * bundle built ahead of time. Run `temporal-fanout --help`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { requirePeer } from '../optional-peer';
import type { Registry } from '../registry';
import { writeWorkflowBundle } from '../worker/workflow-bundle';
import { loadRegistry } from './registry-module';

const USAGE = `Usage: temporal-fanout <command> [options]

Commands:
  worker    a fan-out worker serving your services and callbacks
  api       the HTTP API for them (without any Temporal configured: a local dev server and a worker too)
  bundle    bundle a workflows module ahead of time, for WORKFLOW_BUNDLE (--out FILE)

Options:
  --registry MODULE    a module exporting your Registry (as \`registry\` or default)   [FANOUT_REGISTRY]
  --workflows MODULE   your workflows module, re-exporting 'temporal-fanout/workflows'  [FANOUT_WORKFLOWS]
                       (default: the fan-out workflows alone)
  --task-queue NAME    default: fanout                                                   [FANOUT_TASK_QUEUE]
  --examples           serve the example services (credit scoring) instead of a registry
  --out FILE           bundle: where to write it (default: workflow-bundle.js)

Temporal is found as the Temporal CLI finds it: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS
settings, TEMPORAL_PROFILE and the config file. Results go to FANOUT_STORE (default: .data/store).
Traces go by OTLP where OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER=otlp) says; bundle a
worker's WORKFLOW_BUNDLE with the same setting.`;

async function registryFrom(values: { registry?: string; examples?: boolean }): Promise<Registry> {
  if (values.examples) return (await import('../services')).exampleRegistry();
  const spec = values.registry ?? process.env.FANOUT_REGISTRY;
  if (!spec) throw new UsageError('name your registry module: --registry ./dist/services.js (or FANOUT_REGISTRY)');
  return loadRegistry(spec);
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      registry: { type: 'string' },
      workflows: { type: 'string' },
      'task-queue': { type: 'string' },
      examples: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command] = positionals;
  if (values.help || !command) return void console.log(USAGE);
  const workflows = values.workflows ?? process.env.FANOUT_WORKFLOWS;
  // Webpack resolves the module from where it bundles, not from here: give it an absolute path.
  const workflowsPath = workflows
    ? path.resolve(workflows)
    : values.examples
      ? (await import('../services')).EXAMPLE_WORKFLOWS_PATH
      : undefined;
  const taskQueue = values['task-queue'] ?? process.env.FANOUT_TASK_QUEUE;
  switch (command) {
    case 'worker': {
      const { runWorker } = await import('./worker-command');
      return runWorker({ registry: await registryFrom(values), workflowsPath, taskQueue });
    }
    case 'api': {
      requirePeer('fastify', 'the HTTP API');
      const { runApi } = await import('./api-command');
      return runApi({ registry: await registryFrom(values), workflowsPath, taskQueue });
    }
    case 'bundle': {
      // A worker that traces runs the workflows with the SDK's tracing interceptors in them: bundled in when the
      // environment turns tracing on, as it does for the worker.
      const { tracingConfigured, tracingWorkflowModules } = await import('../tracing');
      const options = tracingConfigured() ? { workflowInterceptorModules: tracingWorkflowModules() } : {};
      const file = await writeWorkflowBundle(values.out ?? 'workflow-bundle.js', workflowsPath, options);
      return void console.log(`workflow bundle written to ${file}`);
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
    console.error(`temporal-fanout: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
