export { FanoutClient, PAYLOAD_LIMIT_BYTES, REQUEST_LIMIT_BYTES } from './fanout-client';
export type { FanoutCid, FanoutClientOptions, InvokeOptions, InvokeRetryCid } from './fanout-client';
export * from './errors';
export { planFanout, planInvokeRetry } from './plan';
export { MAX_DEPTH, boundsIssues, hasLoneSurrogate } from './bounds';
export type { BoundsIssue } from './bounds';
export { FanoutList, FanoutListItem, FanoutListOptions, ListedPattern } from './listing';
export { WATCH_POLL_MS } from './watch';
export type { FanoutEvent, WatchOptions, WatchOutcome, WatchedProgress } from './watch';
