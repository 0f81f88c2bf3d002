/**
 * The Temporal API as compiled by @temporalio/proto: message types for encoding and decoding, and grpc-js
 * service definitions derived from the same reflection data, so the server never carries hand-written protos.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Root, Type, Service } from 'protobufjs';
// The JSON module is the unpatched reflection root (the patched one only adds SDK conveniences).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const root: Root = require('@temporalio/proto/protos/json-module');

const typeCache = new Map<string, Type>();

export function protoType(name: string): Type {
  let type = typeCache.get(name);
  if (!type) {
    type = root.lookupType(name);
    typeCache.set(name, type);
  }
  return type;
}

/** Decode to a plain object: int64 as number, enums as their names, bytes as Buffer. */
export function decodeMessage<T = Record<string, unknown>>(type: Type, bytes: Uint8Array): T {
  const message = type.decode(bytes);
  return type.toObject(message, { longs: Number, enums: String, bytes: Buffer as unknown as undefined }) as T;
}

/** Encode a plain object (or a pre-encoded Buffer, passed through untouched). */
export function encodeMessage(type: Type, value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  return Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
}

export type UnaryHandler = (
  request: Record<string, unknown>,
  call: grpc.ServerUnaryCall<unknown, unknown>,
) => Promise<unknown>;

/** Builds a grpc-js service definition for a fully qualified proto service name. */
export function serviceDefinition(serviceName: string): grpc.ServiceDefinition {
  const service = root.lookupService(serviceName) as Service;
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of Object.values(service.methods)) {
    method.resolve();
    const requestType = method.resolvedRequestType as Type;
    const responseType = method.resolvedResponseType as Type;
    definition[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: unknown) => encodeMessage(requestType, value),
      requestDeserialize: (bytes: Buffer) => decodeMessage(requestType, bytes),
      responseSerialize: (value: unknown) => encodeMessage(responseType, value),
      responseDeserialize: (bytes: Buffer) => decodeMessage(responseType, bytes),
    };
  }
  return definition;
}

/**
 * Appends a pre-encoded submessage as field `fieldNumber` of an encoded message. Protobuf allows fields in any
 * order, so this splices cached history bytes (or an eager task) into a response without re-encoding them.
 */
export function appendEncodedField(messageBytes: Buffer, fieldNumber: number, fieldBytes: Buffer): Buffer {
  return Buffer.concat([messageBytes, lengthDelimitedPrefix(fieldNumber, fieldBytes.length), fieldBytes]);
}

/** Encodes a length-delimited field tag + length prefix, for splicing pre-encoded submessages. */
export function lengthDelimitedPrefix(fieldNumber: number, length: number): Buffer {
  const bytes: number[] = [];
  writeVarint(bytes, (fieldNumber << 3) | 2);
  writeVarint(bytes, length);
  return Buffer.from(bytes);
}

function writeVarint(out: number[], value: number): void {
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}
