/**
 * The seed's credit-scoring example: three backends that know about a user, each slow in its own way, and a
 * workflow service for a report that takes hours.
 */
import { z } from 'zod';
import { defineService } from '../registry';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Latencies can be shortened for tests and benchmarks without touching the services. */
export interface CreditScoringOptions {
  latencyMs?: { crm: number; erp: number; scoring: number };
}

export function creditScoringServices(options: CreditScoringOptions = {}) {
  const latency = options.latencyMs ?? { crm: 300, erp: 800, scoring: 500 };
  return [
    defineService({
      name: 'crm.get-user',
      request: z.object({ user_id: z.string().min(1) }),
      response: z.object({ user_id: z.string(), name: z.string(), segment: z.string() }),
      description: 'The CRM: who the user is',
      handler: async ({ user_id }) => {
        await delay(latency.crm);
        return { user_id, name: `User ${user_id}`, segment: 'retail' };
      },
    }),
    defineService({
      name: 'erp.get-user-information',
      request: z.object({ USER_ID: z.string().min(1) }),
      description: 'The ERP: what the user bought and owes (its API wants USER_ID)',
      handler: async ({ USER_ID }) => {
        await delay(latency.erp);
        return { USER_ID, open_invoices: 2, balance_due: 120.5 };
      },
    }),
    defineService({
      name: 'scoring.get-score',
      request: z.object({ uid: z.string().min(1) }),
      response: z.object({ uid: z.string(), score: z.number().min(0).max(1000) }),
      description: 'The scoring engine',
      handler: async ({ uid }) => {
        await delay(latency.scoring);
        return { uid, score: 640 + (uid.length % 10) * 7 };
      },
    }),
    defineService({
      name: 'reports.build-credit-report',
      kind: 'workflow',
      workflowType: 'buildCreditReport',
      request: z.object({ user_id: z.string().min(1), hours: z.number().positive().optional() }),
      description: 'A reporting database that takes hours: runs as a child workflow',
    }),
  ];
}
