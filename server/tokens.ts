/** Task tokens: opaque to workers, small JSON here, checked against current state on every use. */
import { invalidArgument } from './errors';

export type TaskToken =
  | { k: 'w'; ns: string; wid: string; rid: string; sid: number; att: number }
  | { k: 'a'; ns: string; wid: string; rid: string; sid: number; att: number }
  | { k: 'q'; id: string };

export function encodeToken(token: TaskToken): Buffer {
  return Buffer.from(JSON.stringify(token));
}

export function decodeToken(bytes: unknown): TaskToken {
  if (!bytes || !(bytes instanceof Uint8Array) || bytes.length === 0)
    throw invalidArgument('Task token not set on request.');
  try {
    const token = JSON.parse(Buffer.from(bytes).toString('utf8')) as TaskToken;
    if (!token || typeof token !== 'object' || !['w', 'a', 'q'].includes(token.k)) throw new Error('bad token');
    return token;
  } catch {
    throw invalidArgument('Error deserializing task token.');
  }
}
