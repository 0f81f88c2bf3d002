/** The app's services and callbacks. Callbacks append what they received to CALLBACK_LOG, for the test to read. */
import fs from 'node:fs';
import { Registry, defineCallback, defineService } from 'temporal-fanout';
import type { FinalPayload, TargetRecord } from 'temporal-fanout';
import { z } from 'zod';

function log(entry: unknown): void {
  if (process.env.CALLBACK_LOG) fs.appendFileSync(process.env.CALLBACK_LOG, `${JSON.stringify(entry)}\n`);
}

export const registry = new Registry(
  [
    defineService({
      name: 'inventory.stock',
      request: z.object({ sku: z.string() }),
      handler: async ({ sku }) => ({ sku, stock: sku.length }),
    }),
    defineService({
      name: 'pricing.quote',
      handler: async (request: { sku: string }) => ({ sku: request.sku, price: 10 }),
    }),
    defineService({ name: 'reports.summary', kind: 'workflow', workflowType: 'summaryReport' }),
  ],
  [
    defineCallback({
      name: 'audit.target',
      kind: 'on-target',
      handler: async (record) => {
        const typed: TargetRecord = record; // an on-target callback gets Zato's record
        log({ kind: 'on-target', target: typed.target, ok: typed.ok });
      },
    }),
    defineCallback({
      name: 'audit.final',
      kind: 'final',
      handler: async (payload, ctx) => {
        const typed: FinalPayload = payload; // a final callback gets the final payload
        log({ kind: 'final', cid: ctx.cid, targets: Object.keys(typed.data).sort() });
      },
    }),
  ],
);
