/** Conversions between milliseconds and the protobuf Timestamp / Duration shapes. */
export interface ProtoTime {
  seconds?: number | null;
  nanos?: number | null;
}

export function msToProto(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function protoToMs(value: ProtoTime | null | undefined): number | undefined {
  if (!value) return undefined;
  return (value.seconds ?? 0) * 1000 + Math.round((value.nanos ?? 0) / 1e6);
}

/** A positive duration in ms, or undefined when absent or zero (proto3: zero means "not set"). */
export function positiveMs(value: ProtoTime | null | undefined): number | undefined {
  const ms = protoToMs(value);
  return ms && ms > 0 ? ms : undefined;
}
