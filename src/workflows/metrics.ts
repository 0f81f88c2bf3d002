/**
 * The fan-out's own metrics from workflow code, through the SDK's workflow metric meter: it sends nothing while a
 * workflow replays, so each count is made once, by the execution that decided it. Exported with the worker's other
 * metrics (its Runtime's telemetry: Prometheus or OTLP). Names and labels: docs/observability.md.
 */
import { metricMeter } from '@temporalio/workflow';
import type { FanoutState, TargetState } from '../contracts';

export function countStarted(pattern: string, source: string): void {
  metricMeter.createCounter('fanout_started', '', 'Fan-outs started').add(1, { pattern, source });
}

export function countFinished(pattern: string, source: string, state: FanoutState): void {
  metricMeter.createCounter('fanout_finished', '', 'Fan-outs finished, by how').add(1, { pattern, source, state });
}

export function countSettled(service: string, outcome: TargetState, targets = 1): void {
  metricMeter
    .createCounter('fanout_targets_settled', '', 'Targets settled, by service and outcome')
    .add(targets, { service, outcome });
}
