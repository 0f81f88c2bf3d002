/**
 * The OpenTelemetry Collector of scripts/otel-collector.sh for the tracing tests: started on a free loopback port
 * with a scratch folder, and the spans it received read back from its debug exporter's detailed output.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/local/local-temporal';

const SCRIPT = path.resolve(__dirname, '../../scripts/otel-collector.sh');

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentId: string;
  service: string;
  /** `Unset`, `Ok` or `Error`, as the collector prints a span's status code. */
  status: string;
  attributes: Record<string, string>;
}

export class OtelCollector {
  private constructor(
    readonly dir: string,
    /** For OTEL_EXPORTER_OTLP_ENDPOINT. */
    readonly endpoint: string,
  ) {}

  /** Builds the collector first if it is not in .tools/ yet (4–5 minutes once). */
  static async start(): Promise<OtelCollector> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-otelcol-'));
    const port = await freePort();
    const output = execFileSync(SCRIPT, ['start'], {
      env: { ...process.env, OTELCOL_DIR: dir, OTELCOL_PORT: String(port) },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const endpoint = /OTEL_EXPORTER_OTLP_ENDPOINT=(\S+)\s*$/.exec(output)?.[1];
    if (!endpoint) throw new Error(`otel-collector.sh start said: ${output}`);
    return new OtelCollector(dir, endpoint);
  }

  async stop(): Promise<void> {
    execFileSync(SCRIPT, ['stop'], { env: { ...process.env, OTELCOL_DIR: this.dir }, stdio: 'inherit' });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every span received so far, in the order the collector printed them. */
  spans(): ReceivedSpan[] {
    return parseDebugOutput(fs.readFileSync(path.join(this.dir, 'collector.log'), 'utf8'));
  }
}

/** The debug exporter's span lines read, and the ReceivedSpan field each goes to. */
const FIELDS = {
  'Trace ID': 'traceId',
  'Parent ID': 'parentId',
  ID: 'spanId',
  Name: 'name',
  'Status code': 'status',
} as const;

/**
 * The debug exporter's detailed text: a `Resource attributes:` block (service.name), then per span `Span #n`
 * followed by `Trace ID`, `Parent ID`, `ID`, `Name`, `Status code` lines and an `Attributes:` block of
 * `-> key: Type(value)`.
 */
export function parseDebugOutput(text: string): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  let service = '';
  let span: ReceivedSpan | undefined;
  for (const line of text.split('\n')) {
    const field = /^\s{4}(Trace ID|Parent ID|ID|Name|Status code)\s*:\s?(.*)$/.exec(line);
    const attribute = /^\s+-> ([\w.]+): \w+\((.*)\)$/.exec(line);
    if (line.startsWith('Resource attributes:')) span = undefined;
    else if (line.startsWith('Span #')) {
      span = { name: '', traceId: '', spanId: '', parentId: '', service, status: '', attributes: {} };
      spans.push(span);
    } else if (field && span) {
      span[FIELDS[field[1] as keyof typeof FIELDS]] = field[2].trim();
    } else if (attribute) {
      if (span) span.attributes[attribute[1]] = attribute[2];
      else if (attribute[1] === 'service.name') service = attribute[2];
    }
  }
  return spans;
}
