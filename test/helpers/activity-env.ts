import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';

/** A MockActivityEnvironment whose logger only reports errors: expected activity failures would drown the output. */
export function quietActivityEnv(attempt = 1): MockActivityEnvironment {
  return new MockActivityEnvironment({ attempt }, { logger: new DefaultLogger('ERROR') });
}
