/** A logger that shows errors only: for bundling and runtimes where webpack's and the worker's chatter is noise. */
import type { Logger } from '@temporalio/common';

const ignore = () => undefined;

export const quietLogger: Logger = {
  log: ignore,
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: console.error,
};
