/** Activities for the server scenarios. Attempt counters live in a map keyed by caller, per worker process. */
import { ApplicationFailure, CancelledFailure, CompleteAsyncError, Context, sleep } from '@temporalio/activity';

const attempts = new Map<string, number>();

export async function echo(value: string): Promise<string> {
  return value;
}

export async function failTimes(key: string, failures: number): Promise<string> {
  const attempt = Context.current().info.attempt;
  attempts.set(key, attempt);
  if (attempt <= failures) throw ApplicationFailure.create({ message: `attempt ${attempt} fails`, type: 'Flaky' });
  return `succeeded on attempt ${attempt}`;
}

export async function failNonRetryable(): Promise<string> {
  throw ApplicationFailure.nonRetryable('no point retrying', 'Fatal');
}

export async function sleepFor(ms: number): Promise<string> {
  await sleep(ms);
  return 'slept';
}

export async function heartbeatUntilCancelled(): Promise<string> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    try {
      await ctx.sleep(100);
    } catch (err) {
      if (err instanceof CancelledFailure) throw err;
      throw err;
    }
  }
}

export async function bigString(length: number): Promise<string> {
  return 'x'.repeat(length);
}

/** Completes later, from outside, by workflow id and activity id. */
export async function completeFromOutside(): Promise<string> {
  throw new CompleteAsyncError();
}
