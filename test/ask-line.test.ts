/**
 * A worker's line of targets waiting to ask a service's limiter (src/activities/service-lease.ts): a few ask at once,
 * the rest wait in order, and one cancelled while it waits leaves the line without taking or freeing a place.
 */
import { describe, expect, it } from 'vitest';
import { AskLine } from '../src/activities/service-lease';

/** An ask that settles when told to, recording when it began. */
function heldAsk(log: string[], name: string) {
  let settle!: (ok: boolean) => void;
  const done = new Promise<void>((resolve, reject) => (settle = (ok) => (ok ? resolve() : reject(new Error(name)))));
  return {
    ask: async () => {
      log.push(name);
      await done;
      return name;
    },
    answer: () => settle(true),
    refuse: () => settle(false),
  };
}

const turns = () => new Promise((resolve) => setImmediate(resolve));

describe('AskLine', () => {
  it('lets `size` ask at once and the rest in the order they came, each as a place frees', async () => {
    const line = new AskLine(2);
    const log: string[] = [];
    const asks = ['a', 'b', 'c', 'd'].map((name) => heldAsk(log, name));
    const results = asks.map((a) => line.run(a.ask, new AbortController().signal));
    const first = results[0].then(String, (error: Error) => `refused: ${error.message}`);
    await turns();
    expect(log).toEqual(['a', 'b']);
    asks[1].answer();
    await turns();
    expect(log).toEqual(['a', 'b', 'c']);
    asks[0].refuse(); // a refused ask frees its place too
    await turns();
    expect(log).toEqual(['a', 'b', 'c', 'd']);
    asks[2].answer();
    asks[3].answer();
    expect(await first).toBe('refused: a');
    expect(await Promise.all(results.slice(1))).toEqual(['b', 'c', 'd']);
  });

  it('takes a target cancelled while it waits out of the line, and gives no place away for it', async () => {
    const line = new AskLine(1);
    const log: string[] = [];
    const [first, cancelled, last] = ['a', 'b', 'c'].map((name) => heldAsk(log, name));
    const abort = new AbortController();
    const running = line.run(first.ask, new AbortController().signal);
    const waiting = line.run(cancelled.ask, abort.signal);
    const after = line.run(last.ask, new AbortController().signal);
    abort.abort(new Error('cancelled while waiting'));
    await expect(waiting).rejects.toThrow('cancelled while waiting');
    await turns();
    expect(log).toEqual(['a']); // the cancelled one did not free a place: still one at a time
    first.answer();
    await running;
    await turns();
    expect(log).toEqual(['a', 'c']);
    last.answer();
    expect(await after).toBe('c');
  });

  it('refuses at once a target already cancelled', async () => {
    const line = new AskLine(1);
    const log: string[] = [];
    const first = heldAsk(log, 'a');
    const running = line.run(first.ask, new AbortController().signal);
    const abort = new AbortController();
    abort.abort(new Error('already cancelled'));
    await expect(line.run(heldAsk(log, 'b').ask, abort.signal)).rejects.toThrow('already cancelled');
    first.answer();
    await running;
    expect(log).toEqual(['a']);
  });
});
