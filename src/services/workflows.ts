/** The example worker's workflows module: the fan-out workflows and the example workflow service beside them. */
export * from '../workflows';
export { buildCreditReport } from './credit-report';
