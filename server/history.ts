/**
 * One run's history: events in the proto's plain-object shape, each encoded once and cached, so that handing
 * the full history to every workflow task (this server does not do sticky partial histories) stays cheap.
 */
import { encodeMessage, lengthDelimitedPrefix, protoType } from './proto';
import { msToProto } from './time';

export type EventType = string; // e.g. 'ActivityTaskScheduled'; stored as EVENT_TYPE_ACTIVITY_TASK_SCHEDULED

export interface HistoryEvent {
  eventId: number;
  eventTime: { seconds: number; nanos: number };
  eventType: string;
  taskId: number;
  userMetadata?: unknown;
  [attributes: string]: unknown;
}

const historyEventType = () => protoType('temporal.api.history.v1.HistoryEvent');

/** 'ActivityTaskScheduled' → 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED' */
function enumName(type: EventType): string {
  return 'EVENT_TYPE_' + type.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

/** 'ActivityTaskScheduled' → 'activityTaskScheduledEventAttributes' */
function attributesKey(type: EventType): string {
  return type[0].toLowerCase() + type.slice(1) + 'EventAttributes';
}

let nextTaskId = 1;

export class HistoryLog {
  readonly events: HistoryEvent[] = [];
  private readonly encoded: (Buffer | undefined)[] = [];
  private sizeBytes = 0;

  get length(): number {
    return this.events.length;
  }

  get nextEventId(): number {
    return this.events.length + 1;
  }

  get bytes(): number {
    return this.sizeBytes;
  }

  append(type: EventType, attributes: Record<string, unknown>, timeMs: number, userMetadata?: unknown): HistoryEvent {
    const event: HistoryEvent = {
      eventId: this.events.length + 1,
      eventTime: msToProto(timeMs),
      eventType: enumName(type),
      taskId: nextTaskId++,
      [attributesKey(type)]: attributes,
    };
    if (userMetadata) event.userMetadata = userMetadata;
    this.events.push(event);
    const bytes = encodeMessage(historyEventType(), event);
    this.encoded.push(bytes);
    this.sizeBytes += bytes.length;
    return event;
  }

  last(): HistoryEvent | undefined {
    return this.events[this.events.length - 1];
  }

  /** The encoded `History` message for events [from, to) (0-based, `to` exclusive). */
  encodeRange(from = 0, to = this.events.length): Buffer {
    const parts: Buffer[] = [];
    for (let i = from; i < to; i++) {
      const bytes = this.encoded[i]!;
      parts.push(lengthDelimitedPrefix(1, bytes.length), bytes);
    }
    return Buffer.concat(parts);
  }
}

export function eventAttributes<T = Record<string, unknown>>(event: HistoryEvent): T {
  const key = Object.keys(event).find((k) => k.endsWith('EventAttributes'))!;
  return event[key] as T;
}
