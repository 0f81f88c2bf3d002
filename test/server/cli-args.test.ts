import { describe, expect, it } from 'vitest';
import { CliArgsError, parseServerArgs } from '../../server/cli-args';

describe('parseServerArgs', () => {
  it('reads the time-skipping form: <port> [extra args]', () => {
    const options = parseServerArgs([
      '7777',
      '--search-attribute',
      'FanoutSource=Keyword',
      '--dynamic-config-value',
      'limit.numPendingActivities.error=5',
    ]);
    expect(options).toMatchObject({
      mode: 'time-skipping',
      port: 7777,
      searchAttributes: [{ name: 'FanoutSource', type: 'Keyword' }],
      dynamicConfig: { 'limit.numPendingActivities.error': 5 },
      warnings: [],
    });
  });

  it('reads the CLI dev server form, including --flag=value', () => {
    const options = parseServerArgs([
      'server',
      'start-dev',
      '--port',
      '7233',
      '--namespace',
      'default',
      '--namespace=other',
      '--ip',
      '0.0.0.0',
      '--headless',
      '--log-format',
      'pretty',
      '--log-level',
      'debug',
      '--search-attribute=Tags=keywordlist',
      '--dynamic-config-value',
      'frontend.enableUpdateWorkflowExecution=true',
      '--dynamic-config-value',
      'x.name="quoted"',
    ]);
    expect(options).toMatchObject({
      mode: 'dev',
      port: 7233,
      ip: '0.0.0.0',
      namespaces: ['default', 'other'],
      logLevel: 'debug',
      searchAttributes: [{ name: 'Tags', type: 'KeywordList' }],
      dynamicConfig: { 'frontend.enableUpdateWorkflowExecution': true, 'x.name': 'quoted' },
      warnings: [],
    });
  });

  it('defaults to a dev server on 7233 with no arguments', () => {
    expect(parseServerArgs([])).toMatchObject({ mode: 'dev', port: 7233, ip: '127.0.0.1', namespaces: ['default'] });
  });

  it('warns on flags it does not support instead of failing', () => {
    const options = parseServerArgs([
      'server',
      'start-dev',
      '--db-filename',
      'x.db',
      '--ui-port',
      '8233',
      '--no-such-flag',
      'v',
    ]);
    expect(options.warnings).toHaveLength(3);
    expect(options.warnings.join('\n')).toMatch(/--db-filename x.db/);
    expect(options.warnings.join('\n')).toMatch(/--no-such-flag/);
  });

  it.each([
    [['not-a-port']],
    [['server', 'start-dev', '--port', '99999']],
    [['server', 'start-dev', '--search-attribute', 'Bad=Blob']],
    [['server', 'start-dev', '--search-attribute', 'NoType']],
    [['server', 'start-dev', '--dynamic-config-value', 'novalue']],
    [['server', 'start-dev', '--port']],
    [['server', 'stop']],
  ])('refuses unusable input %j with a CliArgsError', (argv) => {
    expect(() => parseServerArgs(argv)).toThrow(CliArgsError);
  });
});
