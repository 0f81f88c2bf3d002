/**
 * Wires clock, matching, store and the gRPC services into one server on a port. Usable in-process (benchmarks,
 * the demo) and from main.ts (the executable that @temporalio/testing launches).
 */
import * as grpc from '@grpc/grpc-js';
import { Clock } from './clock';
import { addService } from './grpc-server';
import type { Logger } from './grpc-server';
import { inspectionHandlers } from './inspection-service';
import type { Limits } from './limits';
import { DEFAULT_LIMITS } from './limits';
import { Matching } from './matching';
import { Store } from './store';
import { testHandlers } from './test-service';
import type { SearchAttributeType } from './visibility-query';
import { updateHandlers } from './update-service';
import { workflowHandlers } from './workflow-service';

export interface EmbeddedServerOptions {
  port?: number; // 0 or absent: any free port
  ip?: string;
  timeSkipping?: boolean;
  namespaces?: string[];
  searchAttributes?: { name: string; type: SearchAttributeType }[];
  limits?: Partial<Limits>;
  log?: Logger;
}

export interface EmbeddedServer {
  port: number;
  address: string;
  store: Store;
  clock: Clock;
  close(): Promise<void>;
}

const quiet: Logger = { debug: () => undefined, error: (m) => process.stderr.write(m + '\n') };

export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const clock = new Clock(options.timeSkipping ?? false);
  const matching = new Matching();
  const namespaces = new Set(['default', ...(options.namespaces ?? [])]);
  const store = new Store(clock, matching, limits, [...namespaces]);
  for (const { name, type } of options.searchAttributes ?? []) store.searchAttributes.set(name, type);
  const log = options.log ?? quiet;

  const server = new grpc.Server({
    'grpc.max_receive_message_length': limits.grpcMessageBytes,
    'grpc.max_send_message_length': limits.grpcMessageBytes,
  });
  addService(
    server,
    'temporal.api.workflowservice.v1.WorkflowService',
    { ...workflowHandlers(store, matching), ...inspectionHandlers(store), ...updateHandlers(store) },
    log,
  );
  addService(
    server,
    'temporal.api.testservice.v1.TestService',
    // The dev server has no TestService: its methods answer UNIMPLEMENTED there, as on the real CLI server.
    options.timeSkipping ? testHandlers(clock) : {},
    log,
  );
  addService(server, 'grpc.health.v1.Health', { Check: () => ({ status: 'SERVING' }) }, log);

  const ip = options.ip ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${ip}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    port,
    address: `${ip}:${port}`,
    store,
    clock,
    close: () =>
      new Promise<void>((resolve) => {
        matching.releaseAll();
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 1000).unref();
      }),
  };
}
