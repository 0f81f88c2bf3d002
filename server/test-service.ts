/**
 * temporal.api.testservice.v1.TestService, with the Java test server's semantics (see clock.ts).
 */
import type { Clock } from './clock';
import { invalidArgument } from './errors';
import { msToProto, protoToMs } from './time';
import type { Handlers } from './workflow-service';

export function testHandlers(clock: Clock): Handlers {
  const sleepUntil = (target: number) => {
    clock.advanceTo(target);
    return {};
  };
  return {
    LockTimeSkipping() {
      clock.lock();
      return {};
    },
    UnlockTimeSkipping() {
      clock.unlock();
      return {};
    },
    Sleep(request) {
      const ms = protoToMs(request.duration as never);
      if (ms === undefined || ms < 0) throw invalidArgument('Sleep duration must be set and not negative.');
      return sleepUntil(clock.now() + ms);
    },
    SleepUntil(request) {
      const target = protoToMs(request.timestamp as never);
      if (target === undefined) throw invalidArgument('SleepUntil timestamp must be set.');
      return sleepUntil(target);
    },
    UnlockTimeSkippingWithSleep(request) {
      const ms = protoToMs(request.duration as never);
      if (ms === undefined || ms < 0) throw invalidArgument('Sleep duration must be set and not negative.');
      return sleepUntil(clock.now() + ms);
    },
    GetCurrentTime() {
      return { time: msToProto(clock.now()) };
    },
  };
}
