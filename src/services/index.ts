/** The example registry: the seed's credit-scoring services and the logging callback, and its workflows module. */
import path from 'node:path';
import type { AnyCallbackDefinition } from '../registry';
import { Registry } from '../registry';
import type { CreditScoringOptions } from './credit-scoring';
import { creditScoringServices } from './credit-scoring';
import type { LogCallbackOptions } from './log-callback';
import { logCallback } from './log-callback';

export { creditScoringServices } from './credit-scoring';
export { logCallback } from './log-callback';

/** The example worker's workflows module: workflows.ts from source, workflows.js when built. */
export const EXAMPLE_WORKFLOWS_PATH = path.join(__dirname, `workflows${path.extname(__filename)}`);

export function exampleRegistry(
  options: CreditScoringOptions & LogCallbackOptions & { extraCallbacks?: AnyCallbackDefinition[] } = {},
): Registry {
  return new Registry(creditScoringServices(options), [logCallback(options), ...(options.extraCallbacks ?? [])]);
}
