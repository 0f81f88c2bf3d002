/**
 * The real server's per-execution limits, with its dynamic-config keys, so code that passes here cannot fail
 * on a real cluster for these reasons. Adjustable with `--dynamic-config-value KEY=N` like the dev server.
 */
export interface Limits {
  numPendingActivities: number;
  numPendingChildExecutions: number;
  numPendingSignals: number;
  numPendingCancelRequests: number;
  historyCount: number;
  historyCountSuggestContinueAsNew: number;
  historySizeBytes: number;
  blobSizeBytes: number;
  grpcMessageBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  numPendingActivities: 2000,
  numPendingChildExecutions: 2000,
  numPendingSignals: 2000,
  numPendingCancelRequests: 2000,
  historyCount: 51_200,
  historyCountSuggestContinueAsNew: 4 * 1024,
  historySizeBytes: 50 * 1024 * 1024,
  blobSizeBytes: 2 * 1024 * 1024,
  grpcMessageBytes: 4 * 1024 * 1024,
};

const KEYS: Record<string, keyof Limits> = {
  'limit.numPendingActivities.error': 'numPendingActivities',
  'limit.numPendingChildExecutions.error': 'numPendingChildExecutions',
  'limit.numPendingSignals.error': 'numPendingSignals',
  'limit.numPendingCancelRequests.error': 'numPendingCancelRequests',
  'limit.historyCount.error': 'historyCount',
  'limit.historyCount.suggestContinueAsNew': 'historyCountSuggestContinueAsNew',
  'limit.historySize.error': 'historySizeBytes',
  'limit.blobSize.error': 'blobSizeBytes',
  'limit.grpcMessageSize.error': 'grpcMessageBytes',
};

/** Feature switches the SDK's dev-server launcher always passes; those features are always on here. */
const ALWAYS_ON = new Set([
  'frontend.enableServerVersionCheck',
  'frontend.enableUpdateWorkflowExecution',
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted',
  'frontend.enableExecuteMultiOperation',
  'system.enableEagerWorkflowStart',
  'frontend.workerVersioningDataAPIs',
  'frontend.workerVersioningWorkflowAPIs',
  'system.enableActivityEagerExecution',
]);

/** Returns the limits and one warning per dynamic-config key this server does not know. */
export function limitsFromDynamicConfig(config: Record<string, unknown>): { limits: Limits; warnings: string[] } {
  const limits = { ...DEFAULT_LIMITS };
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    const field = KEYS[key];
    const n = typeof value === 'number' ? value : Number(value);
    if (!field && ALWAYS_ON.has(key)) continue;
    if (!field) warnings.push(`dynamic config key ${key} is not supported by the embedded server; ignored`);
    else if (!Number.isFinite(n) || n < 0)
      warnings.push(`dynamic config ${key}=${String(value)} is not a number; ignored`);
    else limits[field] = n;
  }
  return { limits, warnings };
}
