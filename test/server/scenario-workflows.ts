/** Workflows that exercise the embedded server's features through the real SDK. */
import {
  ApplicationFailure,
  CancellationScope,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  condition,
  upsertSearchAttributes,
  upsertMemo,
  workflowInfo,
  patched,
  ParentClosePolicy,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import type * as activities from './scenario-activities';

const quick = proxyActivities<typeof activities>({ startToCloseTimeout: '10s' });

export const addSignal = defineSignal<[number]>('add');
export const totalQuery = defineQuery<number>('total');
export const setValue = defineUpdate<number, [number]>('setValue');
export const finish = defineSignal('finish');

export async function echo(value: string): Promise<string> {
  return await quick.echo(value);
}

export async function flaky(failures: number): Promise<string> {
  const acts = proxyActivities<typeof activities>({
    startToCloseTimeout: '10s',
    retry: { initialInterval: '1 minute', backoffCoefficient: 1, maximumAttempts: failures + 1 },
  });
  return await acts.failTimes(`${workflowInfo().workflowId}`, failures);
}

export async function nonRetryable(): Promise<string> {
  return await quick.failNonRetryable();
}

export async function activityTimeout(
  kind: 'startToClose' | 'heartbeat' | 'scheduleToClose' | 'scheduleToStart',
): Promise<string> {
  const options: ActivityOptions =
    kind === 'scheduleToStart'
      ? { taskQueue: 'nobody-polls-this', scheduleToStartTimeout: '1s', startToCloseTimeout: '1 minute' }
      : kind === 'startToClose'
        ? { startToCloseTimeout: '1s', retry: { maximumAttempts: 2, initialInterval: '1s' } }
        : kind === 'heartbeat'
          ? { startToCloseTimeout: '1 minute', heartbeatTimeout: '1s', retry: { maximumAttempts: 1 } }
          : {
              scheduleToCloseTimeout: '3s',
              startToCloseTimeout: '1s',
              retry: { initialInterval: '1s', backoffCoefficient: 1 },
            };
  const acts = proxyActivities<typeof activities>(options);
  return await acts.sleepFor(5_000);
}

export async function timers(days: number): Promise<number> {
  const before = Date.now();
  await sleep(`${days} days`);
  return Date.now() - before;
}

export async function signalsAndQueries(expected: number): Promise<number> {
  let total = 0;
  let count = 0;
  setHandler(addSignal, (n) => {
    total += n;
    count++;
  });
  setHandler(totalQuery, () => total);
  await condition(() => count >= expected);
  return total;
}

export async function cancellable(): Promise<string> {
  const acts = proxyActivities<typeof activities>({
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '5s',
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  });
  try {
    await acts.heartbeatUntilCancelled();
    return 'not cancelled';
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => quick.echo('cleanup'));
      throw err;
    }
    throw err;
  }
}

export async function sleeper(): Promise<void> {
  await sleep('365 days');
}

export async function childWorkflowParent(): Promise<string[]> {
  const first = await executeChild(echoChild, { args: ['one'], workflowId: `${workflowInfo().workflowId}/child-1` });
  const second = await startChild(sleeper, {
    workflowId: `${workflowInfo().workflowId}/child-2`,
    parentClosePolicy: ParentClosePolicy.TERMINATE,
  });
  const scope = new CancellationScope();
  const waiting = scope.run(() => executeChild(sleeper, { workflowId: `${workflowInfo().workflowId}/child-3` }));
  await sleep('1s');
  scope.cancel();
  let cancelled = 'no';
  try {
    await waiting;
  } catch (err) {
    cancelled = isCancellation(err) ? 'cancelled' : String(err);
  }
  await getExternalWorkflowHandle(second.workflowId).signal(addSignal, 1);
  return [first, cancelled, second.workflowId];
}

export async function echoChild(value: string): Promise<string> {
  await sleep('2 hours');
  return `child:${value}`;
}

export async function counter(n: number, until: number): Promise<number> {
  if (n < until) await continueAsNew<typeof counter>(n + 1, until);
  return n;
}

export async function searchable(): Promise<string> {
  upsertSearchAttributes({ CustomKeyword: ['updated'] });
  upsertMemo({ note: 'upserted' });
  if (patched('v2')) await sleep('1s');
  return 'done';
}

export async function manyActivities(count: number): Promise<number> {
  const results = await Promise.all(Array.from({ length: count }, (_, i) => quick.echo(String(i))));
  return results.length;
}

export async function failing(): Promise<void> {
  throw ApplicationFailure.nonRetryable('boom', 'ScenarioError');
}

export async function bigResult(bytes: number): Promise<string> {
  return 'x'.repeat(bytes);
}

export async function sequentialActivities(count: number): Promise<number> {
  for (let i = 0; i < count; i++) await quick.echo(String(i));
  return count;
}

export async function bigActivityResult(length: number): Promise<string> {
  const acts = proxyActivities<typeof activities>({ startToCloseTimeout: '10s' });
  return await acts.bigString(length);
}

/** Update handler with a validator: negative values are rejected before acceptance (no history events). */
export async function updatable(): Promise<number> {
  let value = 0;
  let done = false;
  setHandler(
    setValue,
    async (next) => {
      await sleep(10); // a handler that yields: acceptance and completion land in different tasks
      const previous = value;
      value = next;
      return previous;
    },
    {
      validator: (next) => {
        if (next < 0) throw new Error('value must not be negative');
      },
    },
  );
  setHandler(finish, () => {
    done = true;
  });
  await condition(() => done);
  return value;
}

export async function slowTask(iterations: number): Promise<number> {
  // Deterministic CPU work inside one workflow task, so a query can arrive while the task is in flight.
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x + i) % 1_000_003;
  setHandler(totalQuery, () => x);
  await sleep('1 day');
  return x;
}

export async function parentWithPendingWork(): Promise<void> {
  const acts = proxyActivities<typeof activities>({ startToCloseTimeout: '1 hour', heartbeatTimeout: '1 hour' });
  const child = await startChild(sleeper, { workflowId: `${workflowInfo().workflowId}/sleeper` });
  await Promise.all([acts.heartbeatUntilCancelled(), child.result()]);
}

export async function asyncCompletion(): Promise<string> {
  const acts = proxyActivities<typeof activities>({ startToCloseTimeout: '1 hour', activityId: 'outside' });
  return await acts.completeFromOutside();
}
