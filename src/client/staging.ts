/**
 * Targets streamed in rather than given as one object (an NDJSON upload, a file in the store): each item is checked
 * as it arrives, as `invoke` checks a target (its name, service and request), and written to the result store in
 * files of planned targets (store/staged-targets), never all held at once. The fan-out workflow loads them itself.
 * A refused stream starts nothing and its files are removed.
 */
import { randomUUID } from 'node:crypto';
import type { Batching, Catalog, PlannedTarget, StagedTargets } from '../contracts';
import { MAX_TARGETS, STAGED_CHUNK_TARGETS, TargetItem } from '../contracts';
import type { BlobStore } from '../store/blob-store';
import { removeStaged, stagingPrefix, writeStagedChunk } from '../store/staged-targets';
import { boundsIssues } from './bounds';
import type { FieldIssue } from './errors';
import { InvalidRequestError, UnknownServiceError } from './errors';
import type { RegistryChecks } from './plan';
import { planTarget } from './plan';

/** A stream item that could not be read as JSON (a reader yields it in the item's place, to be reported there). */
export class UnreadableItem {
  constructor(readonly reason: string) {}
}

/** Problems reported at most: a stream of bad items is refused without reading it to its end. */
const MAX_ISSUES = 100;
/** One target's request, as JSON, at most: Temporal's payload limit (the client's PAYLOAD_LIMIT_BYTES). */
const REQUEST_LIMIT_BYTES = 2 * 1024 * 1024;

export interface StagingOptions {
  catalog: Catalog;
  checks?: RegistryChecks;
  blobs: BlobStore;
  cid: string;
  batching?: Batching;
  /** Where an item is, for problems: default `['targets', index]`; an NDJSON upload says its line. */
  where?: (index: number) => (string | number)[];
}

export interface Staged extends StagedTargets {
  /** The first targets, for what the Web UI shows of the fan-out. */
  sample: PlannedTarget[];
}

/** Checks and stores the items; throws InvalidRequestError (or UnknownServiceError) having stored nothing. */
export async function stageTargets(items: AsyncIterable<unknown>, options: StagingOptions): Promise<Staged> {
  const { blobs, cid, batching } = options;
  const where = options.where ?? ((index: number) => ['targets', index]);
  const prefix = stagingPrefix(cid, randomUUID());
  const issues: FieldIssue[] = [];
  const unknown = new Set<string>();
  const names = new Set<string>();
  const sample: PlannedTarget[] = [];
  let chunk: PlannedTarget[] = [];
  let chunks = 0;
  let count = 0;
  const problem = (segments: (string | number)[], message: string) =>
    issues.push({ path: segments.join('.'), segments, message });
  const flush = async () => {
    if (!chunk.length) return;
    await writeStagedChunk(blobs, prefix, ++chunks, chunk);
    chunk = [];
  };
  try {
    for await (const item of items) {
      const index = count++;
      const at = where(index);
      if (count > MAX_TARGETS) {
        problem(at, `at most ${MAX_TARGETS} targets`);
        break;
      }
      const planned = planItem(item, at, options, issues, problem, names, unknown, batching);
      if (planned && !issues.length && !unknown.size) {
        chunk.push(planned);
        if (sample.length < 50) sample.push(planned);
        if (chunk.length === STAGED_CHUNK_TARGETS) await flush();
      }
      if (issues.length >= MAX_ISSUES) break;
    }
    if (!count) problem(where(0).slice(0, -1), 'at least one target');
    if (issues.length) throw new InvalidRequestError(issues);
    if (unknown.size) throw new UnknownServiceError([...unknown], []);
    await flush();
  } catch (error) {
    await removeStaged(blobs, prefix, chunks).catch(() => undefined); // best effort: the refusal is what matters
    throw error;
  }
  return { prefix, chunks, count, sample };
}

function planItem(
  item: unknown,
  at: (string | number)[],
  { catalog, checks }: StagingOptions,
  issues: FieldIssue[],
  problem: (segments: (string | number)[], message: string) => void,
  names: Set<string>,
  unknown: Set<string>,
  batching: Batching | undefined,
): PlannedTarget | undefined {
  if (item instanceof UnreadableItem) {
    problem(at, item.reason);
    return undefined;
  }
  // Before anything walks or serialises it (as for a whole request): too deep a value would overflow the stack.
  const bounds = boundsIssues(item);
  if (bounds.length) {
    for (const i of bounds) problem([...at, ...i.segments], i.message);
    return undefined;
  }
  const parsed = TargetItem.safeParse(item);
  if (!parsed.success) {
    for (const i of parsed.error.issues) problem([...at, ...(i.path as (string | number)[])], i.message);
    return undefined;
  }
  const { name, service, request } = parsed.data;
  if (names.has(name)) {
    problem([...at, 'name'], `a second target named ${name}`);
    return undefined;
  }
  names.add(name);
  const serviceName = service ?? name;
  if (!Object.hasOwn(catalog.services, serviceName)) {
    unknown.add(serviceName);
    return undefined;
  }
  const bytes = Buffer.byteLength(JSON.stringify(request) ?? '');
  if (bytes > REQUEST_LIMIT_BYTES) {
    problem([...at, 'request'], `${bytes} bytes: a request is at most ${REQUEST_LIMIT_BYTES} bytes as JSON`);
    return undefined;
  }
  return planTarget(catalog, checks, { name, request, options: service ? { service } : {}, batching }, issues, [
    ...at,
    'request',
  ]);
}
