/**
 * A real Prometheus for tests: Debian's binary (scripts/prometheus.sh installs it if missing), run by the test
 * itself on a free loopback port with a scratch data folder and a config naming the test's own /metrics endpoints,
 * scraped every second; queried through its HTTP API (`/api/v1/query`) as Grafana would.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/local/local-temporal';
import { waitFor } from './wait';

const SCRIPT = path.resolve(__dirname, '../../scripts/prometheus.sh');

export interface Prometheus {
  url: string;
  /** The instant vector of `promql`, as `{labels, value}`; empty when nothing matches (yet). */
  query(promql: string): Promise<Sample[]>;
  close(): Promise<void>;
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Starts Prometheus scraping each `host:port` (its `/metrics`) every second, under `dir`; resolves once it is ready. */
export async function startPrometheus(targets: string[], dir: string): Promise<Prometheus> {
  const binary = execFileSync(SCRIPT, ['path'], { encoding: 'utf8', timeout: 300_000 }).trim().split('\n').pop()!;
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const config = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: fanout',
      `    static_configs: [{ targets: [${targets.map((t) => `'${t}'`).join(', ')}] }]`,
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${await freePort()}`;
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=${url.slice('http://'.length)}`,
      '--log.level=error',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitFor(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true, 30_000);
  return {
    url,
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success') throw new Error(`${promql}: ${body.error ?? response.status}`);
      return body.data!.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
