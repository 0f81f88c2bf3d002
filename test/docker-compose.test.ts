/**
 * Docker cannot run here, so docker-compose.yml and the Dockerfile are checked against the code: ports, search
 * attributes, entry points, connection settings. The Temporal service's command is run for real with the same
 * official CLI the image carries (on free loopback ports): it must start and register the search attributes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { execFileSync, spawn } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../src/contracts';
import { freePort } from '../src/local/local-temporal';
import { TEMPORAL_CLI, provision } from '../src/local/temporal-binaries';
import { waitFor } from './helpers/wait';

const root = path.resolve(__dirname, '..');
interface ComposeService {
  image?: string;
  build?: string;
  profiles?: string[];
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition?: string }>;
}
// `merge`: the cluster profile's server services share their settings through YAML anchors (<<: *temporal-server).
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const clusterScript = fs.readFileSync(path.join(root, 'scripts/temporal-cluster.sh'), 'utf8');
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');

/** dist/src/cli/main.js ← src/cli/main.ts */
function sourceOf(entry: string): string {
  return path.join(root, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
}

describe('docker-compose.yml', () => {
  const { temporal, worker, api } = compose.services;

  it('runs Temporal with gRPC on 7233 and the Web UI on 8233', () => {
    expect(temporal.image).toMatch(/^temporalio\/temporal/);
    expect(temporal.ports).toEqual(expect.arrayContaining(['7233:7233', '8233:8233']));
    const command = temporal.command!;
    expect(command.slice(0, 2)).toEqual(['server', 'start-dev']);
    expect(command[command.indexOf('--port') + 1]).toBe('7233');
    expect(command[command.indexOf('--ui-port') + 1]).toBe('8233');
  });

  it('its command starts the real CLI and registers exactly the search attributes the workflows set, as Keyword', async () => {
    const cli = provision(TEMPORAL_CLI).executable;
    if (cli.type !== 'existing-path') throw new Error('the Temporal CLI is not installed');
    const [port, uiPort] = [await freePort(), await freePort()];
    // Same flags, but on loopback and free ports: the container's 0.0.0.0:7233 is not ours to take here.
    const args = temporal.command!.map((arg, i, all) =>
      all[i - 1] === '--port'
        ? String(port)
        : all[i - 1] === '--ui-port'
          ? String(uiPort)
          : all[i - 1] === '--ip'
            ? '127.0.0.1'
            : arg,
    );
    const server = spawn(cli.path, [...args, '--log-level', 'error'], { stdio: 'ignore' });
    try {
      let connection: Connection | undefined;
      await waitFor(async () => {
        connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 500 }).catch(
          () => undefined,
        );
        return connection !== undefined;
      }, 30_000);
      const listed = await connection!.operatorService.listSearchAttributes({ namespace: 'default' });
      const keyword = proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
      const custom = Object.fromEntries(
        Object.entries(listed.customAttributes ?? {}).filter(([, type]) => type === keyword),
      );
      for (const name of Object.values(SEARCH_ATTRIBUTES)) expect(custom).toHaveProperty(name);
      await connection!.close();
    } finally {
      server.kill('SIGTERM');
    }
  }, 60_000);

  it('builds the worker from the Dockerfile and points it at the temporal service', () => {
    expect(worker.build).toBe('.');
    expect(worker.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(worker.depends_on).toHaveProperty('temporal');
    const [, entry, ...args] = worker.command!;
    expect(fs.existsSync(sourceOf(entry))).toBe(true);
    expect(entry).toBe('dist/src/cli/main.js');
    expect(args).toEqual(['worker', '--examples']);
  });

  it('runs the HTTP API from the same image, on a published port, against the same Temporal', () => {
    expect(api.build).toBe('.');
    expect(fs.existsSync(sourceOf(api.command![1]))).toBe(true);
    expect(api.command!.slice(2)).toEqual(['api', '--examples']);
    // It refuses callbacks the worker could not deliver, so it reads the worker's delivery settings.
    for (const key of ['WEBHOOK_SECRET', 'AMQP_URL'])
      expect(api.environment?.[key], key).toBe(worker.environment?.[key]);
    expect(api.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(api.ports).toEqual([`${api.environment?.API_PORT}:${api.environment?.API_PORT}`]);
  });

  it('the worker serves the task queue the client starts fan-outs on', () => {
    expect(worker.command).not.toContain('--task-queue'); // no override: the default below applies
    expect(worker.environment).not.toHaveProperty('FANOUT_TASK_QUEUE');
    const create = fs.readFileSync(path.join(root, 'src/worker/create-worker.ts'), 'utf8');
    expect(create).toMatch(/taskQueue: taskQueue \?\? FANOUT_TASK_QUEUE/);
  });
});

describe('docker-compose.yml, profile `cluster`: the production topology of scripts/temporal-cluster.sh', () => {
  const services = compose.services;
  const cluster = Object.fromEntries(Object.entries(services).filter(([, s]) => s.profiles?.includes('cluster')));
  const dev = Object.fromEntries(Object.entries(services).filter(([, s]) => s.profiles?.includes('dev')));
  const version = /^VERSION=(\S+)$/m.exec(clusterScript)![1];
  const shards = /numHistoryShards: (\d+)/.exec(clusterScript)![1];
  const serverServices = ['frontend', 'history', 'matching', 'worker'];
  const script = (name: string) => (cluster[name].command ?? []).join('\n');

  it('keeps the dev services in profile `dev`, which `docker compose up` selects through .env', () => {
    expect(Object.keys(dev).sort()).toEqual(['api', 'rabbitmq', 'temporal', 'worker']);
    for (const [name, service] of Object.entries(services)) expect(service.profiles, name).toHaveLength(1);
    const dotenv = fs.readFileSync(path.join(root, '.env'), 'utf8');
    expect(dotenv).toMatch(/^COMPOSE_PROFILES=dev$/m);
  });

  it('runs the server version the script builds, each of the four services in its own container', () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(clusterScript).toMatch(/SERVICES=\(frontend history matching worker\)/);
    for (const role of serverServices) {
      const service = cluster[`temporal-${role}`];
      expect(service, role).toBeDefined();
      expect(service.image).toBe(`temporalio/server:${version}`);
      expect(service.environment?.TEMPORAL_SERVICES).toBe(role);
    }
    const servers = Object.values(services).filter((s) => s.image?.startsWith('temporalio/server:'));
    expect(servers).toHaveLength(4);
    for (const name of ['temporal-schema', 'temporal-setup'])
      expect(cluster[name].image).toBe(`temporalio/admin-tools:${version}`);
    expect(cluster['temporal-ui'].image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
  });

  it('configures the servers as the script does: postgres12 stores temporal and temporal_visibility, same shards', () => {
    expect(clusterScript).toMatch(/pluginName: "postgres12"/);
    expect(clusterScript).toMatch(/databaseName: "temporal"/);
    expect(clusterScript).toMatch(/databaseName: "temporal_visibility"/);
    for (const role of serverServices) {
      const env = cluster[`temporal-${role}`].environment!;
      expect(env).toMatchObject({
        DB: 'postgres12',
        POSTGRES_SEEDS: 'postgresql',
        DBNAME: 'temporal',
        VISIBILITY_DBNAME: 'temporal_visibility',
        NUM_HISTORY_SHARDS: shards,
      });
      // The dynamic config file is mounted where the server reads it, and exists in the repository.
      const mount = cluster[`temporal-${role}`].volumes!.find((v) => v.endsWith(`:${env.DYNAMIC_CONFIG_FILE_PATH}:ro`));
      expect(mount, role).toBeDefined();
      expect(fs.existsSync(path.join(root, mount!.split(':')[0]))).toBe(true);
    }
    expect(cluster.postgresql.image).toMatch(/^postgres:\d+$/);
  });

  it('creates both databases and applies the same PostgreSQL v12 schemas, before any server starts', () => {
    const setup = script('temporal-schema');
    expect(setup).toMatch(/for db in temporal temporal_visibility/);
    expect(setup).toMatch(/temporal-sql-tool --plugin postgres12 --ep postgresql/);
    expect(setup).toMatch(/setup-schema -v 0\.0/);
    expect(setup).toMatch(/update-schema -d \/etc\/temporal\/schema\/postgresql\/v12\/\$\$dir\/versioned/);
    // The script applies the same folders: schema/postgresql/v12/{temporal,visibility}/versioned.
    expect(clusterScript).toMatch(/schema\/postgresql\/v12\/temporal" "\$m\/schema\/postgresql\/v12\/visibility"/);
    expect(clusterScript).toMatch(/update-schema -d "\$SHARE\/schema\/\$dir\/versioned"/);
    expect(cluster['temporal-schema'].depends_on?.postgresql?.condition).toBe('service_healthy');
    expect(cluster['temporal-frontend'].depends_on?.['temporal-schema']?.condition).toBe(
      'service_completed_successfully',
    );
  });

  it('registers the namespace and exactly the search attributes the workflows set, as Keyword', () => {
    const setup = script('temporal-setup');
    expect(setup).toMatch(/temporal operator namespace create --namespace default/);
    const created = [...setup.matchAll(/search-attribute create --namespace default --name (\w+) --type (\w+)/g)];
    expect(created.map((m) => [m[1], m[2]])).toEqual(Object.values(SEARCH_ATTRIBUTES).map((name) => [name, 'Keyword']));
    expect(cluster['temporal-setup'].environment?.TEMPORAL_ADDRESS).toBe('temporal-frontend:7233');
  });

  it('points the worker, the API and the Web UI at the cluster frontend, after the setup job', () => {
    const frontend = cluster['temporal-frontend'];
    const address = `temporal-frontend:${frontend.environment!.FRONTEND_GRPC_PORT}`;
    expect(address).toBe('temporal-frontend:7233');
    expect(frontend.ports).toEqual(['7233:7233']);
    for (const name of ['cluster-worker', 'cluster-api', 'temporal-ui']) {
      expect(cluster[name].environment?.TEMPORAL_ADDRESS, name).toBe(address);
      expect(cluster[name].depends_on?.['temporal-setup']?.condition, name).toBe('service_completed_successfully');
    }
    const [worker, api] = [cluster['cluster-worker'], cluster['cluster-api']];
    expect([worker.build, api.build]).toEqual(['.', '.']);
    expect(worker.command).toEqual(services.worker.command);
    expect(api.command).toEqual(services.api.command);
    // One result store for both (records and large payloads are claims on it).
    expect(worker.environment?.FANOUT_STORE).toBe(api.environment?.FANOUT_STORE);
    expect(worker.volumes).toEqual(api.volumes);
    // Same host ports as the dev profile: the two profiles are used one at a time.
    expect(api.ports).toEqual(services.api.ports);
    expect(cluster['temporal-ui'].ports).toEqual(['8233:8080']);
  });
});

describe('docker-compose.yml, profile `cluster`: Prometheus and Grafana (docs/observability.md)', () => {
  const services = compose.services;
  const { prometheus, grafana } = services;
  const worker = services['cluster-worker'];
  const api = services['cluster-api'];
  /** The host-side file of the mount whose container side is `target`; it must exist in the repository. */
  const mounted = (service: ComposeService, target: string): string => {
    const mount = service.volumes?.find((volume) => volume.split(':')[1] === target);
    expect(mount, target).toBeDefined();
    const file = path.join(root, mount!.split(':')[0]);
    expect(fs.existsSync(file), file).toBe(true);
    return file;
  };
  const portOf = (address: string | undefined) => /^0\.0\.0\.0:(\d+)$/.exec(address ?? '')?.[1];

  it('serves metrics from the worker and the API on ports of their own, and the image has prom-client for the API', () => {
    const [workerPort, apiPort] = [worker, api].map((s) => portOf(s.environment?.FANOUT_METRICS_ADDRESS));
    expect(workerPort).toBeDefined();
    expect(apiPort).toBeDefined();
    expect(apiPort).not.toBe(api.environment?.API_PORT);
    expect(dockerfile).toMatch(/npm install --omit=dev[^]*\bprom-client@\d+/);
  });

  it('runs the official Prometheus image scraping exactly the worker and the API where they serve metrics', () => {
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(prometheus.profiles).toEqual(['cluster']);
    const config = parse(fs.readFileSync(mounted(prometheus, '/etc/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: { static_configs: { targets: string[] }[] }[];
    };
    const targets = config.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets));
    expect(targets.sort()).toEqual(
      [
        `cluster-api:${portOf(api.environment?.FANOUT_METRICS_ADDRESS)}`,
        `cluster-worker:${portOf(worker.environment?.FANOUT_METRICS_ADDRESS)}`,
      ].sort(),
    );
    expect(Object.keys(prometheus.depends_on ?? {}).sort()).toEqual(['cluster-api', 'cluster-worker']);
  });

  it("its config is one Prometheus's own promtool accepts", () => {
    const promtool = execFileSync(path.join(root, 'scripts/prometheus.sh'), ['path'], { encoding: 'utf8' })
      .trim()
      .replace(/prometheus$/, 'promtool');
    const file = mounted(prometheus, '/etc/prometheus/prometheus.yml');
    expect(execFileSync(promtool, ['check', 'config', file], { encoding: 'utf8' })).toMatch(/SUCCESS/);
  });

  it('provisions Grafana with that Prometheus as its data source and the fan-out dashboard', () => {
    expect(grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(grafana.profiles).toEqual(['cluster']);
    const provisioning = mounted(grafana, '/etc/grafana/provisioning');
    const dashboard = mounted(grafana, '/var/lib/grafana/dashboards/fanout-dashboard.json');
    expect(path.relative(root, dashboard)).toBe('deploy/grafana/fanout-dashboard.json');
    const [source] = (
      parse(fs.readFileSync(path.join(provisioning, 'datasources/prometheus.yml'), 'utf8')) as {
        datasources: { type: string; url: string }[];
      }
    ).datasources;
    expect(source).toMatchObject({
      type: 'prometheus',
      url: `http://prometheus:${prometheus.ports![0].split(':')[1]}`,
    });
    const [provider] = (
      parse(fs.readFileSync(path.join(provisioning, 'dashboards/fanout.yml'), 'utf8')) as {
        providers: { options: { path: string } }[];
      }
    ).providers;
    expect(provider.options.path).toBe('/var/lib/grafana/dashboards');
  });
});

describe('Dockerfile', () => {
  it('builds the project and runs the worker entry by default, as a non-root user', () => {
    expect(dockerfile).toMatch(/RUN npx tsc -p tsconfig\.lib\.json/);
    expect(dockerfile).toMatch(/CMD \["node", "dist\/src\/cli\/main\.js", "worker", "--examples"\]/);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('copies only what exists, and all that the build compiles, and no tests', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(' '));
    for (const source of sources) expect(fs.existsSync(path.join(root, source)), source).toBe(true);
    const { include } = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.lib.json'), 'utf8')) as {
      include: string[];
    };
    for (const folder of include) expect(sources).toContain(folder);
    expect(include).toEqual(['src']);
    expect(sources.filter((source) => /^(test|bench|scripts)/.test(source))).toEqual([]);
  });

  it('bundles the workflows at build time and points the worker at the bundle', () => {
    expect(dockerfile).toMatch(
      /RUN npx tsc -p tsconfig\.lib\.json && node dist\/src\/cli\/main\.js bundle --examples --out dist\/workflow-bundle\.js/,
    );
    expect(dockerfile).toMatch(/^ENV WORKFLOW_BUNDLE=\/app\/dist\/workflow-bundle\.js$/m);
  });
});
