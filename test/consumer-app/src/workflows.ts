/** The app's workflows module: its own workflows beside the fan-out workflows. */
export * from 'temporal-fanout/workflows';
export { greeting } from './greeting';
export { summaryReport } from './summary-report';
