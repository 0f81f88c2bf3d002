/**
 * Bounds on what a caller may send, checked before anything walks or serialises it recursively: nesting depth
 * (a 10,000-deep body would overflow JSON.stringify's stack) and lone UTF-16 surrogates (Temporal's gRPC strings
 * must be valid UTF-8, so such a CID or name makes the server answer INTERNAL). The walk is iterative and stops at
 * the first problems it finds.
 */

/** Deeper than any real request needs, far below what JSON.stringify or the SDK's converters can handle. */
export const MAX_DEPTH = 64;

export interface BoundsIssue {
  segments: (string | number)[];
  message: string;
}

const MAX_ISSUES = 10;

/** True if `text` holds a UTF-16 surrogate without its partner (it cannot be encoded as UTF-8). */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function boundsIssues(value: unknown, maxDepth = MAX_DEPTH): BoundsIssue[] {
  const issues: BoundsIssue[] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length && issues.length < MAX_ISSUES) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      if (hasLoneSurrogate(current)) issues.push({ segments: path, message: 'contains a lone UTF-16 surrogate' });
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (path.length >= maxDepth) {
      issues.push({ segments: path, message: `nested deeper than ${maxDepth} levels` });
      continue;
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], path: [...path, i] });
      continue;
    }
    const keys = Object.keys(current);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (hasLoneSurrogate(key)) {
        issues.push({ segments: [...path, key], message: 'the name contains a lone UTF-16 surrogate' });
        continue;
      }
      stack.push({ value: (current as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return issues;
}
