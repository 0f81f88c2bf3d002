/**
 * Temporal for development without one: the embedded server (dist/server/main.js) launched through
 * @temporalio/testing's dev-server form, with the fan-out search attributes registered.
 */
import path from 'node:path';
import { SearchAttributeType } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../contracts';

/** Where `npm run build` puts the server, seen from dist/src/api. */
export const EMBEDDED_SERVER_PATH = path.resolve(__dirname, '../../server/main.js');

export async function startLocalTemporal(serverPath = EMBEDDED_SERVER_PATH): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: serverPath },
      searchAttributes: Object.values(SEARCH_ATTRIBUTES).map((name) => ({ name, type: SearchAttributeType.KEYWORD })),
    },
  });
}
