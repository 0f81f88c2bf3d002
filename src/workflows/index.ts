/**
 * The fan-out workflows, to register on a worker. A worker that also runs workflow services (targets that run as
 * child workflows) serves a workflows module of its own that re-exports these beside them:
 *   export * from 'temporal-fanout/workflows';
 *   export { myReport } from './my-report';
 */
export { fanout, parallelExecution } from './fanout';
export { fanoutShard } from './shard';
export { invokeRetry } from './invoke-retry';
export { serviceLimiter } from './service-limiter';
