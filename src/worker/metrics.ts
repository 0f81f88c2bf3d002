/**
 * The fan-out's own metrics on the worker side (activities, deliveries, the result store), through the Temporal
 * Runtime's metric meter, so that they leave with the SDK's worker metrics by whatever the Runtime's telemetry
 * exports (Prometheus or OTLP; nothing when none is set). Each is counted where it is true exactly once: an attempt
 * where it ran, a delivery where it was sent. Names and labels: docs/observability.md.
 */
import type { MetricCounter, MetricHistogram, MetricMeter } from '@temporalio/common';
import type * as WorkerSdk from '@temporalio/worker';

interface Instruments {
  attemptDuration: MetricHistogram;
  callbackAttempts: MetricCounter;
  webhookResponses: MetricCounter;
  amqpPublishes: MetricCounter;
  recordsWritten: MetricCounter;
  payloadsOffloaded: MetricCounter;
  batches: MetricCounter;
  limitWait: MetricHistogram;
  windowLeasesLate: MetricCounter;
}

let instruments: Instruments | undefined;

/** Made once per process, on first use (a worker's Runtime is installed by then). */
function metrics(): Instruments {
  if (instruments) return instruments;
  // Loaded here, not at import: the delivery callbacks (whose deliveries are counted) are also loaded by the HTTP API,
  // which checks their options but runs no worker, and must not start a Temporal Runtime of its own.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Runtime } = require('@temporalio/worker') as typeof WorkerSdk;
  const meter: MetricMeter = Runtime.instance().metricMeter;
  instruments = {
    attemptDuration: meter.createHistogram(
      'fanout_target_attempt_duration',
      'int',
      'ms',
      'How long an attempt of a target took, by service and outcome',
    ),
    callbackAttempts: meter.createCounter('fanout_callback_attempts', '', 'Callback attempts, by callback and outcome'),
    webhookResponses: meter.createCounter('fanout_webhook_responses', '', 'Webhook answers, by status class'),
    amqpPublishes: meter.createCounter('fanout_amqp_publishes', '', 'AMQP publishes, by outcome'),
    recordsWritten: meter.createCounter('fanout_records_written', '', 'Records written to the result store'),
    payloadsOffloaded: meter.createCounter(
      'fanout_payloads_offloaded',
      '',
      'Payloads kept in the result store rather than history',
    ),
    batches: meter.createCounter('fanout_batches', '', 'Batch attempts, by outcome'),
    limitWait: meter.createHistogram(
      'fanout_service_limit_wait',
      'int',
      'ms',
      "How long a target waited for its service's limit before its call, by service and limit",
    ),
    windowLeasesLate: meter.createCounter(
      'fanout_window_leases_late',
      '',
      'Window leases that came too late to call on, by service',
    ),
  };
  return instruments;
}

export function recordAttempt(service: string, outcome: 'ok' | 'failed', ms: number): void {
  metrics().attemptDuration.record(Math.max(0, Math.round(ms)), { service, outcome });
}

export function countCallbackAttempt(callback: string, outcome: 'ok' | 'failed'): void {
  metrics().callbackAttempts.add(1, { callback, outcome });
}

/** `status`: the HTTP status, 0 when there was none (a network error, a timeout). */
export function countWebhookResponse(status: number): void {
  const statusClass = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'error';
  metrics().webhookResponses.add(1, { status_class: statusClass });
}

export function countAmqpPublish(outcome: 'confirmed' | 'failed'): void {
  metrics().amqpPublishes.add(1, { outcome });
}

/** `by`: the service activity (succeeded targets), a batch, or the workflow (the records it built). */
export function countRecordsWritten(by: 'service' | 'batch' | 'workflow', records = 1): void {
  metrics().recordsWritten.add(records, { by });
}

export function countPayloadsOffloaded(payloads: number): void {
  metrics().payloadsOffloaded.add(payloads);
}

export function countBatch(outcome: 'completed' | 'failed'): void {
  metrics().batches.add(1, { outcome });
}

/** `limit`: the service's concurrency limiter, or its window limiter (`perSecond` without a burst). */
export function recordLimitWait(service: string, limit: 'concurrency' | 'window', ms: number): void {
  metrics().limitWait.record(Math.max(0, Math.round(ms)), { service, limit });
}

export function countWindowLeaseLate(service: string): void {
  metrics().windowLeasesLate.add(1, { service });
}
