/**
 * The contracts both sides share: zod schemas for what callers send and what callbacks receive, the TS types
 * inferred from them, and the names the worker, client, HTTP API and Web UI agree on. The payload shapes are
 * Zato's (see the seed documents): a per-target record, and a final payload keyed by target.
 * Workflow code imports only its types: the values workflows need (names, limits) live in `constants`, re-exported
 * here, so the workflow sandbox never loads zod.
 */
import { z } from 'zod';
// The SDK's own duration parser, so what passes here is exactly what the SDK accepts when the fan-out starts.
import { msToNumber } from '@temporalio/common';
import { MAX_BATCH_TARGETS, MAX_CALLBACKS, MAX_CONCURRENCY_LIMIT, MAX_TARGETS } from './constants';

export * from './constants';

/** A service or callback name as registered on the worker (Zato style: dotted, e.g. "crm.get-user"). */
export const ServiceName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and . _ : - only');

/** A target name: the key of `targets`; also part of the child workflow ID `<cid>/<target>`. */
export const TargetName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^/\s]+$/, 'no slashes or white space');

/** Correlation ID: the fan-out's workflow ID. */
export const Cid = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^/\s]+$/, 'no slashes or white space');

/** A duration as milliseconds or a string such as "30s", "5 minutes" (the SDK's format). */
export const Duration = z.union([z.number().int().positive(), z.string().min(1)]).refine(
  (value) => {
    try {
      return msToNumber(value as never) > 0;
    } catch {
      return false;
    }
  },
  { message: 'a positive duration: milliseconds, or a string such as "30s" or "5 minutes"' },
);
export type Duration = z.infer<typeof Duration>;

export const RetryPolicy = z.strictObject({
  initialInterval: Duration.optional(),
  backoffCoefficient: z.number().min(1).optional(),
  maximumInterval: Duration.optional(),
  maximumAttempts: z.number().int().min(1).optional(),
  nonRetryableErrorTypes: z.array(z.string()).optional(),
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

/** A callback by name, or by name with per-fan-out options (e.g. a webhook URL). */
export const CallbackRef = z.union([
  ServiceName,
  z.strictObject({ name: ServiceName, options: z.record(z.string(), z.unknown()).optional() }),
]);
export type CallbackRef = z.infer<typeof CallbackRef>;

/** How to run one target, overriding the fan-out's defaults. */
export const TargetOptions = z.strictObject({
  service: ServiceName.optional().describe('Service to invoke; defaults to the target name'),
  startToCloseTimeout: Duration.optional(),
  retry: RetryPolicy.optional(),
  local: z
    .boolean()
    .optional()
    .describe('Run as a local activity (short, idempotent calls); default: as the service is defined'),
});
export type TargetOptions = z.infer<typeof TargetOptions>;

export const Defaults = z.strictObject({
  startToCloseTimeout: Duration.optional(),
  retry: RetryPolicy.optional(),
  callbackStartToCloseTimeout: Duration.optional(),
  callbackRetry: RetryPolicy.optional(),
});
export type Defaults = z.infer<typeof Defaults>;

/**
 * Targets run in batches: one activity runs up to `maxTargets` of them at once in the worker, each with its own
 * record, retry policy, timeout and on-target callbacks. Fewer activities, so far less of Temporal's cost per target;
 * the Web UI then shows batches, not one activity per target. `maxBytes` also cuts a batch once its requests (as
 * JSON) pass that size.
 */
export const Batching = z.strictObject({
  maxTargets: z.number().int().min(1).max(MAX_BATCH_TARGETS).describe('Targets per batch at most'),
  maxBytes: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("A batch's requests, as JSON, in bytes at most (a single larger request is a batch of its own)"),
});
export type Batching = z.infer<typeof Batching>;

/**
 * Temporal's task queue fairness: fan-outs of different keys get workers in proportion to their weights, not first
 * come first served (with fairness enabled on the server: see docs/production.md).
 */
export const Fairness = z.strictObject({
  key: z
    .string()
    .min(1)
    .refine((key) => Buffer.byteLength(key) <= 64, 'at most 64 bytes')
    .optional()
    .describe("Default: the fan-out's source"),
  weight: z.number().min(0.001).max(1000).optional().describe('Its share against other keys; default 1'),
});
export type Fairness = z.infer<typeof Fairness>;

/** A service's limits across all fan-outs and workers (see `defineService`). */
export const ServiceLimits = z
  .strictObject({
    perSecond: z
      .number()
      .positive()
      .optional()
      .describe('Targets started a second, sustained (the busiest second may see about twice it)'),
    burst: z
      .literal(false)
      .optional()
      .describe(
        'false: never more than perSecond calls in any one-second window (a limiter workflow; about 4/5 of it sustained)',
      ),
    concurrency: z.number().int().min(1).optional().describe('Targets running at once at most'),
  })
  .refine((limits) => limits.burst === undefined || limits.perSecond !== undefined, {
    message: 'burst is said of perSecond: give perSecond too',
    path: ['burst'],
  })
  .refine((limits) => limits.burst === undefined || Number.isInteger(limits.perSecond), {
    message: 'without a burst, perSecond counts calls in a second: a whole number',
    path: ['perSecond'],
  });

const Targets = z
  .record(TargetName, z.unknown())
  .refine((targets) => Object.keys(targets).length > 0, 'at least one target')
  .refine((targets) => Object.keys(targets).length <= MAX_TARGETS, `at most ${MAX_TARGETS} targets`)
  .describe('Target name → the request it receives (Zato: service name → request)');

/**
 * When a fan-out stops early. `all-settled` (the default) waits for every target whatever fails; `fail-fast` stops at
 * the first failed target; `{ toleratedFailures: n }` and `{ toleratedFailurePercent: p }` stop once more than n
 * targets (more than p% of them) have failed. Stopping cancels the targets still running, marks the ones not started,
 * and runs the final callbacks with what was collected, told why (`CallbackContext.stopped`).
 */
export const FailurePolicy = z.union([
  z.literal('all-settled'),
  z.literal('fail-fast'),
  z.strictObject({ toleratedFailures: z.number().int().min(0) }),
  z.strictObject({ toleratedFailurePercent: z.number().min(0).max(100) }),
]);
export type FailurePolicy = z.infer<typeof FailurePolicy>;

/** A running fan-out's run-time settings, as the control updates return them. */
export const FanoutControl = z.object({ maxConcurrency: z.number(), paused: z.boolean() });
export type FanoutControl = z.infer<typeof FanoutControl>;

/** Why a fan-out stopped before every target had settled on its own. */
export const StopReason = z.object({
  reason: z.enum(['failure-policy', 'deadline', 'quorum']),
  message: z.string(),
});
export type StopReason = z.infer<typeof StopReason>;

/**
 * When enough is enough: once `successes` targets (or `successPercent` of them) have succeeded, the rest are
 * cancelled and the final callbacks run, told why (`stopped.reason: 'quorum'`); once that many can no longer
 * succeed, the fan-out stops as a failure policy does.
 */
export const Completion = z.union([
  z.strictObject({ successes: z.number().int().min(1) }),
  z.strictObject({ successPercent: z.number().gt(0).max(100) }),
]);
export type Completion = z.infer<typeof Completion>;

/**
 * A circuit breaker per service: after `failures` failed targets of a service in a row, its targets stop starting;
 * every `probeEvery` (default 30 s) one goes through as a probe, and a success closes the circuit again.
 */
export const CircuitBreaker = z.strictObject({
  failures: z.number().int().min(1).describe('Failed targets of one service in a row that open its circuit'),
  probeEvery: Duration.optional().describe('How often an open circuit lets one target through; default 30 s'),
});
export type CircuitBreaker = z.infer<typeof CircuitBreaker>;
export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * Adaptive concurrency per service: its targets in flight start at `min`, grow while they succeed, and halve (not
 * below `min`) on failures and on backends asking to come back later; never above `max` nor the fan-out's
 * `maxConcurrency`.
 */
export const AdaptiveConcurrency = z
  .strictObject({ min: z.number().int().min(1), max: z.number().int().min(1).max(MAX_CONCURRENCY_LIMIT) })
  .refine((value) => value.min <= value.max, 'min is at most max');
export type AdaptiveConcurrency = z.infer<typeof AdaptiveConcurrency>;

/**
 * Hedged stragglers: a target still running `after` its start (a duration, or the fan-out's own latency percentile of
 * its service so far) gets one more attempt side by side; the first to succeed decides the record, the other is
 * cancelled. At most `max` targets are hedged in the whole fan-out (default: 5% of them, at least one).
 */
export const Hedging = z.strictObject({
  after: z
    .union([Duration, z.strictObject({ percentile: z.number().min(50).max(99.9) })])
    .describe("A duration ('2 s'), or { percentile: p }: the service's latency percentile so far in this fan-out"),
  max: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Most targets hedged in the fan-out; default 5% of them, at least 1'),
});
export type Hedging = z.infer<typeof Hedging>;

const Common = {
  cid: Cid.optional().describe('Your own correlation ID; must not be in use'),
  failurePolicy: FailurePolicy.optional().describe(
    "'all-settled' (default), 'fail-fast', { toleratedFailures: n } or { toleratedFailurePercent: p }",
  ),
  deadline: Duration.optional().describe(
    'Time the targets have, from the start: then those unfinished are cancelled and the final callbacks run',
  ),
  source: z.string().min(1).max(200).optional().describe('Who asks, as shown to callbacks ("source")'),
  targetOptions: z.record(TargetName, TargetOptions).optional(),
  maxConcurrency: z.number().int().min(1).max(MAX_CONCURRENCY_LIMIT).optional(),
  defaults: Defaults.optional(),
  priority: z
    .number()
    .int()
    .min(1)
    .max(5)
    .optional()
    .describe("Temporal's task priority, 1 (first) to 5; default 3: every target, callback and shard runs at it"),
  fairness: Fairness.optional().describe(
    'How this fan-out shares workers with others on the task queue: its fairness key (default: its source) and weight',
  ),
  circuitBreaker: CircuitBreaker.optional().describe(
    'A circuit breaker per service: its targets stop starting after so many failures in a row, probed at intervals',
  ),
  adaptiveConcurrency: AdaptiveConcurrency.optional().describe(
    'Per service: targets in flight from min up to max, raised while they succeed, halved on failures and 429/503',
  ),
  hedging: Hedging.optional().describe(
    'Hedged stragglers: a target still running after a delay (or past a latency percentile) gets a second attempt side by side',
  ),
  completion: Completion.optional().describe(
    'A quorum: { successes: k } or { successPercent: p }; reached, the rest are cancelled and the final callbacks run',
  ),
  batching: Batching.optional().describe(
    'Run activity targets in batches, one activity per batch (default: as each service is defined, else one activity per target)',
  ),
  writeResults: z
    .boolean()
    .optional()
    .describe(
      'true: once the targets have settled, write every record to the result store as JSON-lines files (succeeded, failed, cancelled) and a manifest, before the final callbacks run',
    ),
};

/** A list of callbacks, as every pattern and the HTTP API take it. */
export const CallbackList = z.array(CallbackRef).max(MAX_CALLBACKS, `at most ${MAX_CALLBACKS} callbacks`);

export const FanoutRequest = z.strictObject({
  targets: Targets,
  finalCallbacks: CallbackList.min(1, 'fan-out / fan-in needs at least one final callback'),
  onTarget: CallbackList.optional(),
  ...Common,
});
export type FanoutRequest = z.infer<typeof FanoutRequest>;

export const ParallelRequest = z.strictObject({
  targets: Targets,
  onTarget: CallbackList.min(1, 'parallel execution needs at least one on-target callback'),
  ...Common,
});
export type ParallelRequest = z.infer<typeof ParallelRequest>;

export const InvokeRetryRequest = z.strictObject({
  target: TargetName.describe('Name of the target (and the service, unless `service` is given)'),
  service: ServiceName.optional(),
  request: z.unknown(),
  attempts: z.number().int().min(1).max(1000).describe('How many times to try, the first included'),
  interval: Duration.describe('How long to wait between attempts'),
  callbacks: CallbackList.min(1, 'invoke/retry needs at least one callback'),
  startToCloseTimeout: Duration.optional(),
  cid: Cid.optional(),
  source: z.string().min(1).max(200).optional(),
});
export type InvokeRetryRequest = z.infer<typeof InvokeRetryRequest>;

/** Zato's per-target record: what on-target callbacks receive, and each entry of the final payload's `data`. */
export const TargetRecord = z.object({
  source: z.string(),
  target: z.string(),
  response: z.unknown(),
  req_ts_utc: z.string(),
  resp_ts_utc: z.string(),
  ok: z.boolean(),
  exception: z.string().nullable(),
  cid: z.string(),
});
export type TargetRecord = z.infer<typeof TargetRecord>;

/** Zato's final payload; `on_target` is '' when there are no target callbacks, as in Zato. */
export const FinalPayload = z.object({
  source: z.string(),
  req_ts_utc: z.string(),
  on_target: z.union([z.literal(''), z.array(z.string())]),
  on_final: z.array(z.string()),
  data: z.record(z.string(), TargetRecord),
});
export type FinalPayload = z.infer<typeof FinalPayload>;

/** Zato's `self.channel`: how a callback was invoked. */
export const CHANNELS = [
  'FANOUT_ON_TARGET',
  'FANOUT_ON_FINAL',
  'PARALLEL_EXEC_ON_TARGET',
  'INVOKE_RETRY_ON_SUCCESS',
  'INVOKE_RETRY_ON_FAILURE',
] as const;
export type Channel = (typeof CHANNELS)[number];

export interface CallbackContext {
  channel: Channel;
  cid: string;
  callback: string;
  options?: Record<string, unknown>;
  target?: string;
  /**
   * Final callbacks only: every record of the fan-out, in target order, read from the result store a page at a
   * time. Callbacks defined with `records: 'stream'` get an empty `data` and read the records this way.
   */
  records?: () => AsyncIterable<TargetRecord>;
  /** Final callbacks only: set when the fan-out stopped early (failure policy, deadline), saying why. */
  stopped?: StopReason;
  /** Set in a redrive: its number (1 for the first). Delivery ids differ per redrive. */
  redrive?: number;
}

export const TargetState = z.enum(['pending', 'running', 'ok', 'failed', 'cancelled']);
export type TargetState = z.infer<typeof TargetState>;

/** `failed`: the workflow failed before it could run (e.g. names its worker does not serve); it has no result. */
export const FanoutState = z.enum(['running', 'finalizing', 'completed', 'cancelled', 'failed']);
export type FanoutState = z.infer<typeof FanoutState>;

/** How long one service's targets took, as the fan-out saw them (started to settled, retries included). */
export const ServiceLatencyFigures = z.object({
  count: z.number().describe('Targets settled (succeeded or failed) so far'),
  p50Ms: z.number(),
  p95Ms: z.number(),
  p99Ms: z.number().describe('Percentiles within 10% (read from logarithmic buckets)'),
  maxMs: z.number(),
  slowest: z.array(z.object({ target: z.string(), ms: z.number() })).describe('The slowest targets, slowest first'),
  hedged: z.number().optional().describe('With hedging: targets given a second attempt'),
  hedgesWon: z.number().optional().describe('With hedging: targets whose second attempt finished first'),
});
export type ServiceLatencyFigures = z.infer<typeof ServiceLatencyFigures>;
export type LatencyFigures = Record<string, ServiceLatencyFigures>;

/** The mergeable form the workflows keep: per service, logarithmic buckets (bucket i: up to 1.1^i ms). */
export interface ServiceLatency {
  count: number;
  maxMs: number;
  buckets: Record<number, number>;
  slowest: { target: string; ms: number }[];
  hedged?: number;
  hedgesWon?: number;
}
export type LatencyStats = Record<string, ServiceLatency>;

export const FanoutProgress = z.object({
  cid: z.string(),
  source: z.string(),
  pattern: z.enum(['fanout', 'parallel', 'invoke-retry']),
  state: FanoutState,
  total: z.number(),
  settled: z.number(),
  ok: z.number(),
  failed: z.number(),
  cancelled: z.number(),
  running: z.number(),
  pending: z.number(),
  /** Each target's state, for fan-outs of at most PROGRESS_TARGETS_LIMIT targets (wider: `FanoutClient.targets`). */
  targets: z.record(z.string(), TargetState).optional(),
  /** Wide fan-outs: the shards (child workflow IDs) running now; the client adds their counts in. */
  runningShards: z.array(z.string()).optional(),
  /** Set once the fan-out stopped early (failure policy, deadline). */
  stopped: StopReason.optional(),
  /** Targets in flight at most, as set at start or since (`setMaxConcurrency`). */
  maxConcurrency: z.number().optional(),
  /** True while starting new targets is paused. */
  paused: z.boolean().optional(),
  /** Set in a redrive: its number; the counts are then of the targets it re-runs. */
  redrive: z.number().optional(),
  /** With adaptive concurrency: each service's targets in flight allowed now. */
  concurrency: z.record(z.string(), z.number()).optional(),
  /** Services whose circuit is not closed (`circuitBreaker`): open, or letting a probe through. */
  circuits: z.record(z.string(), z.enum(['open', 'half-open'])).optional(),
  /** Per service, how long its targets took so far (a sharded fan-out's: of its finished shards). */
  latency: z.record(z.string(), ServiceLatencyFigures).optional(),
});
export type FanoutProgress = z.infer<typeof FanoutProgress>;

export const CallbackOutcome = z.object({
  callback: z.string(),
  channel: z.enum(CHANNELS),
  target: z.string().optional(),
  ok: z.boolean(),
  error: z.string().optional(),
});
export type CallbackOutcome = z.infer<typeof CallbackOutcome>;

/** Counts of targets by state, and of callbacks run and failed. */
export interface FanoutCounts {
  total: number;
  ok: number;
  failed: number;
  cancelled: number;
  callbacks: number;
  callbacksFailed: number;
}

/**
 * What the fan-out workflow itself returns: small whatever the width. The records live in the result store;
 * `FanoutClient.result` assembles them into `FanoutResult`.
 */
export interface FanoutOutcome {
  cid: string;
  state: 'completed' | 'cancelled';
  pattern: 'fanout' | 'parallel';
  /** The final payload without `data`: `{ source, req_ts_utc, on_target, on_final }`. */
  summary: Omit<FinalPayload, 'data'>;
  counts: FanoutCounts;
  /** Every final callback's outcome and every failed on-target callback's, at most MAX_OUTCOMES_KEPT. */
  callbacks: CallbackOutcome[];
  /** Set when shards ran: how many. */
  shards?: number;
  /** Set when it stopped early (failure policy, deadline); its state is then `cancelled`. */
  stopped?: StopReason;
  /** Set when this run is a redrive: its number. Counts cover the whole fan-out. */
  redrive?: number;
  /** Per service, how long its targets took (those of this run). */
  latency?: LatencyFigures;
}

export const FanoutResult = z.object({
  cid: z.string(),
  state: z.enum(['completed', 'cancelled']),
  payload: FinalPayload,
  targets: z.record(z.string(), TargetState),
  callbacks: z.array(CallbackOutcome),
  stopped: StopReason.optional(),
  redrive: z.number().optional(),
  latency: z.record(z.string(), ServiceLatencyFigures).optional(),
});
/** A fan-out's outcome with every record: the final payload as the final callbacks received it. */
export type FanoutResult = z.infer<typeof FanoutResult> & { counts: FanoutCounts };

/** One page of a fan-out's records in target order (`GET /v1/fanouts/{cid}/records`). */
export const RecordsPage = z.object({
  records: z.array(z.object({ state: TargetState, record: TargetRecord })),
  cursor: z.string().optional().describe('Pass as ?cursor= for the next page; absent on the last page'),
});

/** A record as kept in the result store: Zato's record and the target's final state. */
export interface StoredRecord {
  state: TargetState;
  record: TargetRecord;
  /** The redrive that wrote it (absent: the first run); a later redrive may replace it, nothing else can. */
  redrive?: number;
}

/** One results file: its key in the result store, its records (one JSON line each) and its size. */
const ResultsFile = z.object({
  key: z.string().describe('Key in the result store: fanouts/<cid>/results/<name>.jsonl'),
  records: z.number().describe('Lines: one record each'),
  bytes: z.number(),
});

/**
 * What `fanout.writeResults` wrote (`fanouts/<cid>/results/manifest.json`), written after the files it names. Each
 * run that writes them (the first, each redrive) replaces all three files and the manifest.
 */
export const ResultsManifest = z
  .object({
    cid: z.string(),
    state: z.enum(['completed', 'cancelled']),
    run: z.number().describe('The run that wrote the files: 0 for the first, else the redrive number'),
    counts: z
      .object({ total: z.number(), ok: z.number(), failed: z.number(), cancelled: z.number() })
      .describe("Targets: the fan-out's width, and the records of each outcome the files hold"),
    files: z.object({ succeeded: ResultsFile, failed: ResultsFile, cancelled: ResultsFile }),
    writtenAt: z.string().describe('When the manifest was written (ISO 8601, UTC)'),
  })
  .describe("A fan-out's records written out as JSON-lines files, one per outcome, in target order");
export type ResultsManifest = z.infer<typeof ResultsManifest>;

/** What `fanout.writeResults` receives from the fan-out workflow. */
export interface WriteResultsInput {
  cid: string;
  state: 'completed' | 'cancelled';
  /** The fan-out's width: the whole fan-out's in a redrive. */
  total: number;
  /** 0 for the first run, else the redrive number. */
  run: number;
}

export const InvokeRetryResult = z.object({
  cid: z.string(),
  record: TargetRecord,
  callbacks: z.array(CallbackOutcome),
});
export type InvokeRetryResult = z.infer<typeof InvokeRetryResult>;

/** What the invoke/retry workflow returns; `record` is absent when it was too large to pass inline (it is stored). */
export interface InvokeRetryOutcome {
  cid: string;
  ok: boolean;
  record?: TargetRecord;
  callbacks: CallbackOutcome[];
}

/** One target as the workflow runs it: names resolved, kind known. */
export interface PlannedTarget {
  name: string;
  service: string;
  kind: 'activity' | 'workflow';
  workflowType?: string;
  request: unknown;
  options: TargetOptions;
  /** Runs as a local activity (the target's option, else its service's definition). */
  local?: boolean;
  /** Its position in the whole fan-out, where that is not its place in `targets` (a redrive's targets). */
  index?: number;
  /** Runs in a batch with its neighbours of the same batching (the fan-out's `batching`, else its service's). */
  batch?: Batching;
  /**
   * Its service is limited: `perSecond` through the service's own task queue (without `burst`, by its window
   * limiter instead), `concurrency` by its concurrency limiter.
   */
  limits?: { perSecond?: number; burst?: false; concurrency?: number };
}

/**
 * One target streamed in (an NDJSON line, an item of a JSONL, JSON or CSV file in the store): its name, the service
 * it calls (default: its name) and the request.
 */
export const TargetItem = z.strictObject({
  name: TargetName,
  service: ServiceName.optional(),
  request: z.unknown(),
});
export type TargetItem = z.infer<typeof TargetItem>;

/**
 * Target items kept in a file rather than sent: an S3 object or a local file, one item per line (`jsonl`), one JSON
 * array of items (`json`), or CSV rows (`csv`: a `name` column, an optional `service` column, the other columns
 * making the request, as strings).
 */
export const ItemsSource = z
  .strictObject({
    url: z
      .string()
      .max(2048)
      .regex(/^(s3:\/\/[^/]+\/.+|file:\/\/.+)$/, 's3://bucket/key or file:///absolute/path'),
    format: z.enum(['jsonl', 'json', 'csv']),
  })
  .describe('Target items read from a file: s3://bucket/key or file:///absolute/path, in JSONL, JSON or CSV');
export type ItemsSource = z.infer<typeof ItemsSource>;

/** Targets streamed in, as the client wrote them to the result store: `<prefix>targets-<n>.jsonl`, n from 1. */
export interface StagedTargets {
  prefix: string;
  chunks: number;
  count: number;
}

/** What the fan-out workflow receives (built and validated by the client). */
export interface FanoutWorkflowInput {
  cid: string;
  source: string;
  pattern: 'fanout' | 'parallel';
  targets: PlannedTarget[];
  onTarget: CallbackRef[];
  onFinal: CallbackRef[];
  maxConcurrency: number;
  defaults: Defaults;
  /** Absent in fan-outs started before policies existed: all-settled. */
  failurePolicy?: FailurePolicy;
  deadline?: Duration;
  /** A redrive: its number, the whole fan-out's width, and how many targets had already succeeded. */
  redrive?: { number: number; total: number; keptOk: number };
  /** Targets streamed in, in the store rather than in `targets` (then empty): the workflow loads them first. */
  stagedTargets?: StagedTargets;
  /** Temporal's priority and fairness of the run (set at its start; its activities and children inherit them). */
  priority?: TaskPriority;
  /** Write the records out as files once the targets have settled (`fanout.writeResults`); absent: no files. */
  writeResults?: true;
  /** A quorum of successes: reached, the rest are cancelled (see `Completion`). */
  completion?: Completion;
  /** A circuit breaker per service (see `CircuitBreaker`). */
  circuitBreaker?: CircuitBreaker;
  /** Adaptive concurrency per service (see `AdaptiveConcurrency`). */
  adaptiveConcurrency?: AdaptiveConcurrency;
  /** Hedged stragglers (see `Hedging`). */
  hedging?: Hedging;
}

/** As Temporal's `Priority`: what a fan-out's run, and so each of its tasks, is dispatched by. */
export interface TaskPriority {
  priorityKey?: number;
  fairnessKey: string;
  fairnessWeight?: number;
}

/** One shard of a wide fan-out: a slice of its targets, run by a child workflow `<cid>//shard-<n>`. */
export interface ShardInput {
  cid: string;
  source: string;
  pattern: 'fanout' | 'parallel';
  /** Position of the slice's first target in the whole fan-out (records are stored by position). */
  offset: number;
  targets: PlannedTarget[];
  onTarget: CallbackRef[];
  maxConcurrency: number;
  defaults: Defaults;
  reqTsUtc: string;
  /** Set in a redrive: stamped on the records this slice writes. */
  redrive?: number;
  circuitBreaker?: CircuitBreaker;
  adaptiveConcurrency?: AdaptiveConcurrency;
  /** With `max` this slice's share of the fan-out's hedges. */
  hedging?: Hedging;
}

/** The shard workflow's input: its slice, its place, and whether the fan-out was cancelled before it started. */
export interface ShardWorkflowInput extends ShardInput {
  shardIndex: number;
  startCancelled: boolean;
  /** The fan-out has a failure policy: signal it each failed target (targetFailedSignal). */
  reportFailures?: boolean;
  /** The fan-out has a quorum: signal it the shard's successes so far each time this many more have succeeded. */
  reportSuccessesEvery?: number;
  /** The fan-out was paused when this shard started. */
  startPaused?: boolean;
}

export interface ShardResult {
  counts: FanoutCounts;
  callbacks: CallbackOutcome[];
  /** Absent from shards of fan-outs started before latency was kept. */
  latency?: LatencyStats;
}

/** One target of a batch, as the batch activity runs it. */
export interface BatchTarget {
  /** Position in the fan-out: the record's key in the store. */
  index: number;
  name: string;
  service: string;
  request: unknown;
  startToCloseTimeout?: Duration;
  retry?: RetryPolicy;
}

/** What `fanout.runBatch` receives: its targets, how many to run at once, and what each target's record needs. */
export interface BatchInput {
  cid: string;
  source: string;
  pattern: 'fanout' | 'parallel';
  reqTsUtc: string;
  redrive?: number;
  /** The batch's number in the execution that runs it: its progress signals name it. */
  batch: number;
  targets: BatchTarget[];
  atOnce: number;
  onTarget: CallbackRef[];
  defaults: Defaults;
  list: OutcomesListed;
}

/** Callback outcomes a batch lists in its result, as many as the workflow still lists (all are counted). */
export interface OutcomesListed {
  ok: number;
  failed: number;
}

/**
 * How a batch's targets ended, one letter each in target order: `o` succeeded and `f` failed (record stored and
 * on-target callbacks run by the batch), `c` cancelled while running and `n` not started (the workflow records
 * these, saying why the fan-out stopped). The letters `.` (not settled yet) also appear in progress.
 */
export type BatchStates = string;

export interface BatchCallbacks {
  callbacks: number;
  callbacksFailed: number;
  /** Failed callbacks first, then others, at most MAX_OUTCOMES_KEPT in all. */
  outcomes: CallbackOutcome[];
}

export interface BatchResult extends BatchCallbacks {
  states: BatchStates;
  /** How long each target took in the batch, retries included (ms; -1 for one it did not run). */
  ms?: number[];
}

/** The targets of a batch that settled so far, sent to the execution running it (`batchProgressSignal`). */
export interface BatchProgress {
  batch: number;
  states: BatchStates;
}

/** What `fanout.batchCallbacks` receives: records the workflow decided for batched targets, to call back. */
export interface BatchCallbacksInput {
  cid: string;
  pattern: 'fanout' | 'parallel';
  redrive?: number;
  records: TargetRecord[];
  onTarget: CallbackRef[];
  defaults: Defaults;
  list: OutcomesListed;
}

/** What a service activity receives: the target's request, and what it needs to build and store the record. */
export interface TargetCall {
  request: unknown;
  cid: string;
  source: string;
  target: string;
  /** Position in the fan-out: the record's key in the store. */
  index: number;
  reqTsUtc: string;
  /** Set in a redrive: its number, so the record it writes may replace the earlier run's. */
  redrive?: number;
}

/** What a service activity returns: the record, inline only when small (it is always in the store). */
export interface TargetOutcome {
  record?: TargetRecord;
  /** Set when its backend asked it to come back later (ServiceBusyError) before it answered. */
  busy?: true;
}

/** Where a callback's payload comes from: inline, from the store, or assembled from the store (final). */
export type CallbackInput =
  | { record: TargetRecord }
  | { stored: { cid: string; index: number } }
  | { final: Omit<FinalPayload, 'data'> & { cid: string } };

export interface InvokeRetryWorkflowInput {
  cid: string;
  source: string;
  target: PlannedTarget;
  attempts: number;
  interval: Duration;
  callbacks: CallbackRef[];
}

/** A service's concurrency limiter's input: the limit, and the leases a run hands over to the next. */
export interface ServiceLimiterInput {
  service: string;
  limit: number;
  /** Holder to when its lease expires (ms since the epoch). */
  leases?: [string, number][];
}

/** The names and kinds a worker serves: lets the client and the workflow refuse unknown names up front. */
export interface Catalog {
  services: Record<
    string,
    {
      kind: 'activity' | 'workflow';
      workflowType?: string;
      local?: boolean;
      batching?: Batching;
      limits?: { perSecond?: number; burst?: false; concurrency?: number };
    }
  >;
  callbacks: string[];
}

/** A history's expected length, and the most it can reach if every settled activity woke a workflow task of its own. */
export const HistoryEstimate = z.object({
  expected: z.number().describe('Events expected: those the run itself records, and the workflow tasks it needs'),
  atMost: z.number().describe('Events at most: one workflow task for every event that wakes the workflow'),
});
export type HistoryEstimate = z.infer<typeof HistoryEstimate>;

/**
 * What a fan-out would do, answered by a dry run (`FanoutClient.plan`, `?dryRun=true`) without starting it. Its
 * figures assume every target and callback succeeds at its first attempt: retries, failures and control updates
 * add to them. No duration: it depends on the services' own latency, which neither the client nor the API knows.
 */
export const FanoutPlan = z
  .object({
    valid: z.literal(true).describe('The request passed every check a start makes; anything invalid is refused'),
    pattern: z.enum(['fanout', 'parallel']),
    cid: z.string().optional().describe('The CID the request names (free when planned); absent: one is made at start'),
    targets: z.object({
      total: z.number(),
      activities: z.number().describe('Targets run as activities of their own'),
      local: z.number().describe('Targets run as local activities of their own'),
      childWorkflows: z.number().describe('Targets run as child workflows <cid>/<target>'),
      batched: z.number().describe('Targets run in batches, with their on-target callbacks'),
      batches: z.number().describe('Batches: one activity (or local activity) each'),
    }),
    run: z.object({
      mode: z.enum(['single', 'sharded']).describe('One execution, or shards (child workflows <cid>//shard-<n>)'),
      executions: z.number().describe("The fan-out's own workflow executions: itself and its shards"),
      shards: z.number().describe('0 when it runs in one execution'),
      targetsPerShard: z.number().describe('Targets per execution (the last shard may have fewer)'),
      shardsAtOnce: z.number().describe('Shards running side by side at the start'),
      targetsAtOnce: z.number().describe('Targets in flight per execution at the start'),
      maxConcurrency: z.number().describe('Targets in flight at most across the fan-out'),
    }),
    history: z.object({
      fanout: HistoryEstimate.describe("The fan-out execution's own history"),
      largestShard: HistoryEstimate.optional().describe('The largest shard history, when sharded'),
      limit: z.number().describe('Events per execution at which Temporal warns (terminated at 51,200)'),
    }),
    actions: z
      .object({
        total: z.number(),
        workflowStarts: z.number().describe('The fan-out; 2 per shard and per child-workflow target'),
        activities: z
          .number()
          .describe('Targets, batches, on-target and final callbacks, records saves, results written: first attempts'),
        localActivities: z.number().describe('At most: markers of one workflow task are billed as one action'),
        signals: z.number().describe('Signals the workflows send (each shard tells the fan-out it has settled)'),
        searchAttributeUpserts: z.number(),
        timers: z.number().describe('The deadline, if set'),
        hedgesAtMost: z
          .number()
          .optional()
          .describe('With hedging: the most second attempts (activities) it may start; not in the total'),
      })
      .describe('Temporal Cloud actions the run is billed for, when nothing is retried'),
  })
  .describe('A dry run: what the fan-out would do; nothing was started');
export type FanoutPlan = z.infer<typeof FanoutPlan>;
