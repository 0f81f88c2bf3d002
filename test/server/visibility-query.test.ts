import { describe, expect, it } from 'vitest';
import type { SearchAttributeType, VisibilityRecord } from '../../server/visibility-query';
import { compileVisibilityQuery, InvalidVisibilityQueryError } from '../../server/visibility-query';

const types = new Map<string, SearchAttributeType>([
  ['FanoutSource', 'Keyword'],
  ['Tags', 'KeywordList'],
  ['Targets', 'Int'],
  ['Score', 'Double'],
  ['Urgent', 'Bool'],
  ['Due', 'Datetime'],
  ['Note', 'Text'],
]);

const records: VisibilityRecord[] = [
  {
    workflowId: 'cid-1',
    runId: 'r1',
    workflowType: 'fanout',
    executionStatus: 'Running',
    startTime: new Date('2026-01-01T00:00:00Z'),
    executionTime: new Date('2026-01-01T00:00:00Z'),
    taskQueue: 'fanout',
    searchAttributes: {
      FanoutSource: 'crm',
      Tags: ['a', 'b'],
      Targets: 3,
      Score: 0.5,
      Urgent: true,
      Due: '2026-02-01T00:00:00Z',
      Note: 'Credit scoring for user',
    },
  },
  {
    workflowId: 'cid-2',
    runId: 'r2',
    workflowType: 'fanout',
    executionStatus: 'Completed',
    startTime: new Date('2026-03-01T00:00:00Z'),
    executionTime: new Date('2026-03-01T00:00:00Z'),
    closeTime: new Date('2026-03-02T00:00:00Z'),
    taskQueue: 'fanout',
    searchAttributes: { FanoutSource: 'erp', Targets: 10 },
  },
  {
    workflowId: 'other',
    runId: 'r3',
    workflowType: 'invokeRetry',
    executionStatus: 'Failed',
    startTime: new Date('2026-05-01T00:00:00Z'),
    executionTime: new Date('2026-05-01T00:00:00Z'),
    closeTime: new Date('2026-05-01T00:01:00Z'),
    taskQueue: 'other',
    searchAttributes: {},
  },
];

function ids(query: string): string[] {
  const compiled = compileVisibilityQuery(query, types);
  return records.filter((r) => compiled.matches(r)).map((r) => r.workflowId);
}

describe('compileVisibilityQuery', () => {
  it.each([
    ['', ['cid-1', 'cid-2', 'other']],
    [`WorkflowId = 'cid-1'`, ['cid-1']],
    [`WorkflowType = "fanout" AND ExecutionStatus = 'Completed'`, ['cid-2']],
    [`ExecutionStatus = 'Running' OR ExecutionStatus = 'Failed'`, ['cid-1', 'other']],
    [`WorkflowType = 'fanout' AND (FanoutSource = 'crm' OR Targets >= 10)`, ['cid-1', 'cid-2']],
    [`FanoutSource IN ('crm', 'erp')`, ['cid-1', 'cid-2']],
    [`FanoutSource NOT IN ('crm')`, ['cid-2', 'other']],
    [`FanoutSource != 'crm'`, ['cid-2', 'other']],
    [`FanoutSource <> 'crm'`, ['cid-2', 'other']],
    [`Targets BETWEEN 2 AND 5`, ['cid-1']],
    [`Targets NOT BETWEEN 2 AND 5`, ['cid-2', 'other']],
    [`Score < 1`, ['cid-1']],
    [`Urgent = true`, ['cid-1']],
    [`Tags = 'b'`, ['cid-1']],
    [`Tags IN ('x', 'a')`, ['cid-1']],
    [`WorkflowId STARTS_WITH 'cid-'`, ['cid-1', 'cid-2']],
    [`CloseTime IS NULL`, ['cid-1']],
    [`CloseTime IS NOT NULL`, ['cid-2', 'other']],
    [`StartTime > '2026-02-01T00:00:00Z'`, ['cid-2', 'other']],
    [`StartTime BETWEEN '2026-01-01T00:00:00Z' AND '2026-03-01T00:00:00Z'`, ['cid-1', 'cid-2']],
    [`Due < "2026-03-01T00:00:00Z"`, ['cid-1']],
    [`Note = 'credit'`, ['cid-1']],
    [`NOT (FanoutSource = 'crm')`, ['cid-2', 'other']],
    [`\`FanoutSource\` = 'erp'`, ['cid-2']],
    [`executionstatus = 'running'`.replace('executionstatus', 'ExecutionStatus'), ['cid-1']],
    [
      `workflowid = 'cid-1'`.replace('workflowid', 'WorkflowId') +
        ` and taskqueue = 'fanout'`.replace('taskqueue', 'TaskQueue'),
      ['cid-1'],
    ],
    [`WorkflowId = 'it''s'`, []],
  ])('%s', (query, expected) => {
    expect(ids(query)).toEqual(expected);
  });

  it('reads ORDER BY', () => {
    expect(compileVisibilityQuery(`WorkflowType = 'fanout' ORDER BY StartTime ASC`, types).orderBy).toEqual({
      field: 'StartTime',
      desc: false,
    });
    expect(compileVisibilityQuery(`ORDER BY Targets DESC`, types).orderBy).toEqual({ field: 'Targets', desc: true });
  });

  it.each([
    [`Unknown = 'x'`, /not a valid search attribute/],
    [`Targets = 'many'`, /invalid value/],
    [`Targets = 1.5`, /invalid value/],
    [`Urgent = 'maybe'`, /invalid value/],
    [`StartTime > 'yesterday'`, /invalid datetime/],
    [`ExecutionStatus = 'Sleeping'`, /invalid ExecutionStatus/],
    [`WorkflowId = 'unterminated`, /unterminated string/],
    [`WorkflowId = 'a' AND`, /expected a field name/],
    [`WorkflowId 'a'`, /expected an operator/],
    [`(WorkflowId = 'a'`, /expected '\)'/],
    [`WorkflowId = 'a' extra`, /unexpected/],
    [`WorkflowId = 'a' ; DROP`, /unexpected character/],
    [`Targets STARTS_WITH 'x'`, /STARTS_WITH/],
  ])('refuses %s', (query, message) => {
    expect(() => compileVisibilityQuery(query, types)).toThrow(InvalidVisibilityQueryError);
    expect(() => compileVisibilityQuery(query, types)).toThrow(message);
  });
});
