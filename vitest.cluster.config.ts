/**
 * `npm run test:cluster`: the fan-out on Temporal's production topology — server v1.30.4 as four processes
 * (frontend, history, matching, worker) on PostgreSQL, started by test/cluster/global-setup.ts with
 * scripts/temporal-cluster.sh in a temp folder and stopped afterwards. Not part of `npm test` (vitest.config.ts).
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { singleFork: false } },
    // One cluster for the suite and fault tests kill its processes: one file at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/cluster/global-setup.ts'],
  },
});
