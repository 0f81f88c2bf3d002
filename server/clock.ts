/**
 * Virtual clock and timers. Virtual time runs with real time plus an offset; time skipping moves the offset.
 *
 * Time-skipping follows the Java test server: the clock jumps by itself to the next timer only while skipping is
 * unlocked (lock count 0) and nothing is outstanding (no workflow task, no activity task waiting or running).
 * `sleep` (UnlockTimeSkippingWithSleep) jumps regardless of outstanding work: tests call it from inside activities.
 */
const MAX_TIMEOUT_MS = 2 ** 31 - 1; // setTimeout fires at once for larger delays: clamp and re-arm

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
  cancelled: boolean;
}

export class Clock {
  private offsetMs = 0;
  private readonly timers = new TimerHeap(); // cancelled timers stay in the heap and are skipped when reached
  private seq = 0;
  private armed?: NodeJS.Timeout;
  private armedAt = Infinity;
  private lockCount: number;
  private outstanding = 0;
  private skipCheckQueued = false;

  constructor(readonly timeSkipping: boolean) {
    // The SDK unlocks skipping while it awaits a result and locks again after, so start locked.
    this.lockCount = timeSkipping ? 1 : 0;
  }

  now(): number {
    return Date.now() + this.offsetMs;
  }

  schedule(delayMs: number, fire: () => void): Timer {
    const timer: Timer = { at: this.now() + Math.max(0, delayMs), seq: this.seq++, fire, cancelled: false };
    this.timers.push(timer);
    this.arm();
    this.queueSkipCheck();
    return timer;
  }

  cancel(timer: Timer | undefined): void {
    if (timer) timer.cancelled = true;
  }

  lock(): void {
    this.lockCount++;
  }

  unlock(): void {
    if (this.lockCount > 0) this.lockCount--;
    this.queueSkipCheck();
  }

  /** Outstanding work (workflow tasks, activity tasks) holds automatic skipping back. */
  addOutstanding(delta: number): void {
    this.outstanding += delta;
    if (this.outstanding < 0) this.outstanding = 0;
    if (this.outstanding === 0) this.queueSkipCheck();
  }

  /** Advances virtual time to `target`, firing every timer due on the way, in order. */
  advanceTo(target: number): void {
    for (let timer = this.timers.peek(); timer && timer.at <= target; timer = this.timers.peek()) {
      if (timer.at > this.now()) this.offsetMs += timer.at - this.now();
      this.fireDue();
    }
    if (target > this.now()) this.offsetMs += target - this.now();
    this.arm();
  }

  private fireDue(): void {
    const now = this.now();
    for (let timer = this.timers.peek(); timer && timer.at <= now; timer = this.timers.peek()) {
      this.timers.pop();
      timer.cancelled = true;
      timer.fire();
    }
  }

  private arm(): void {
    const next = this.timers.peek();
    if (!next) {
      if (this.armed) clearTimeout(this.armed);
      this.armed = undefined;
      this.armedAt = Infinity;
      return;
    }
    if (this.armed && this.armedAt === next.at) return;
    if (this.armed) clearTimeout(this.armed);
    this.armedAt = next.at;
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, next.at - this.now()));
    this.armed = setTimeout(() => {
      this.armed = undefined;
      this.armedAt = Infinity;
      this.fireDue();
      this.arm();
      this.queueSkipCheck();
    }, delay);
    this.armed.unref?.();
  }

  private queueSkipCheck(): void {
    if (!this.timeSkipping || this.skipCheckQueued) return;
    this.skipCheckQueued = true;
    // Defer so that work started synchronously by the current event (new tasks) counts as outstanding first.
    setImmediate(() => {
      this.skipCheckQueued = false;
      this.skipIfIdle();
    });
  }

  private skipIfIdle(): void {
    if (this.lockCount > 0 || this.outstanding > 0) return;
    const next = this.timers.peek();
    if (!next) return;
    if (next.at > this.now()) this.offsetMs += next.at - this.now();
    this.fireDue();
    this.arm();
    this.queueSkipCheck();
  }
}

/** Binary min-heap on (at, seq); peek() drops cancelled timers from the top. */
class TimerHeap {
  private readonly items: Timer[] = [];

  push(timer: Timer): void {
    const items = this.items;
    items.push(timer);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  peek(): Timer | undefined {
    while (this.items.length > 0 && this.items[0].cancelled) this.pop();
    return this.items[0];
  }

  pop(): Timer | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && before(items[left], items[smallest])) smallest = left;
        if (right < items.length && before(items[right], items[smallest])) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export type { Timer };
