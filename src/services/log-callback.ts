/** A callback that logs what it receives, Zato's zato.helpers.input-logger. */
import { log } from '@temporalio/activity';
import { defineCallback } from '../registry';

export interface LogCallbackOptions {
  /** Where to write; defaults to the activity logger. The demo prints to stdout. */
  write?: (line: string, payload: unknown) => void;
}

export function logCallback(options: LogCallbackOptions = {}) {
  return defineCallback({
    name: 'log.input',
    description: 'Logs the payload and the channel it was invoked on',
    handler: async (payload, ctx) => {
      const line = `[${ctx.channel}] cid=${ctx.cid}${ctx.target ? ` target=${ctx.target}` : ''}`;
      if (options.write) options.write(line, payload);
      else log.info(line, { payload });
    },
  });
}
