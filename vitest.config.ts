import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The native core bridge does not like worker threads: run each file in its own forked process,
    // one file at a time, so time-skipping environments are never shared across files.
    pool: 'forks',
    poolOptions: { forks: { singleFork: false } },
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    include: ['test/**/*.test.ts'],
    // The consumer app is a project of its own (test/consumer.test.ts runs it). The cluster suite has its own config and global setup (vitest.cluster.config.ts, `npm run test:cluster`).
    exclude: [...configDefaults.exclude, 'test/cluster/**', 'test/consumer-app/**'],
    globalSetup: ['test/global-setup.ts'],
  },
});
