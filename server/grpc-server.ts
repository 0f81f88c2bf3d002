/**
 * Binds handlers to a grpc-js server. Every method of both services is served: unknown ones answer
 * UNIMPLEMENTED, thrown ServiceErrors keep their code and details, anything else is INTERNAL, never a crash.
 */
import * as grpc from '@grpc/grpc-js';
import { ServiceError, unimplemented } from './errors';
import { serviceDefinition } from './proto';
import type { Handlers } from './workflow-service';

export interface Logger {
  debug(message: string): void;
  error(message: string): void;
}

export function addService(server: grpc.Server, serviceName: string, handlers: Handlers, log: Logger): void {
  const definition = serviceDefinition(serviceName);
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(definition)) {
    const handler = handlers[method];
    implementation[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (!handler) {
        callback(unimplemented(method).toGrpc());
        return;
      }
      log.debug(`${method}`);
      Promise.resolve()
        .then(() => handler.call(handlers, call.request as Record<string, unknown>, call))
        .then(
          (response) => callback(null, response ?? {}),
          (error: unknown) => {
            if (error instanceof ServiceError) {
              log.debug(`${method} -> ${grpc.status[error.code]}: ${error.message}`);
              callback(error.toGrpc());
            } else {
              const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
              log.error(`${method} failed: ${message}`);
              callback({ code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) });
            }
          },
        );
    };
  }
  server.addService(definition, implementation);
}
