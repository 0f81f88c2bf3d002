/** A workflow of the app's own, unrelated to fan-outs, calling an activity of the app's own. */
import { proxyActivities } from '@temporalio/workflow';
import type { greet } from './activities';

const { greet: greetActivity } = proxyActivities<{ greet: typeof greet }>({ startToCloseTimeout: '10 seconds' });

export async function greeting(name: string): Promise<string> {
  return greetActivity(name);
}
