/**
 * The fan-out worker's workflows. Workflow services (targets that run as child workflows) must be exported from
 * the worker's workflows module too: the example ones are here; add your own in a module that re-exports these.
 */
export { fanout, parallelExecution } from './fanout';
export { fanoutShard } from './shard';
export { invokeRetry } from './invoke-retry';
export { bigReport, buildCreditReport } from './example-services';
export { progressQuery } from './definitions';
