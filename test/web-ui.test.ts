/**
 * The fan-out as a person sees it in the official Temporal Web UI (the CLI dev server's own UI, 2.54.1), in Debian's
 * Chromium driven by playwright-core: a real worker runs a fan-out with a fast target, a slow one (still running
 * while the browser looks), a failing one and a child-workflow target. The browser opens the workflow list, adds the
 * FanoutSource and FanoutState columns through "Configure Columns", types a search-attribute filter, opens the running
 * fan-out and reads its summary, Current Details, pending activity, Relationships and Event History. No API answer
 * may be 4xx/5xx and the page may raise no error. Screenshots go to test-results/web-ui/.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame, Locator, Page } from 'playwright-core';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FanoutWorker } from '../src/worker/fanout-worker';
import { FanoutClient } from '../src/client';
import { freePort, workflowPageUrl } from '../src/local/local-temporal';
import { Registry, defineService } from '../src/registry';
import { creditScoringServices, logCallback } from '../src/services';
import { createFanoutWorker } from '../src/worker/create-worker';
import type { RecordedPage, TestBrowser } from './helpers/browser';
import { launchBrowser } from './helpers/browser';
import { fanoutBundle } from './helpers/fanout-env';
import { createDevServerEnv } from './helpers/temporal-env';
import { waitFor } from './helpers/wait';

const SOURCE = 'web-ui-test';
const CID = `web-ui-${randomUUID().slice(0, 8)}`;
const DONE_CID = `${CID}-done`;
const TASK_QUEUE = 'web-ui';
/** How long a UI element may take to appear: the UI polls the server every few seconds. */
const UI_TIMEOUT = 20_000;

let env: TestWorkflowEnvironment;
let worker: FanoutWorker;
let workerRunning: Promise<void>;
let fanout: FanoutClient;
let browser: TestBrowser;
let recorded: RecordedPage;
let page: Page;
let uiUrl: string;
let releaseSlowTarget: () => void = () => undefined;

function registry(): Registry {
  const slowTargetReleased = new Promise<void>((resolve) => (releaseSlowTarget = resolve));
  return new Registry(
    [
      ...creditScoringServices({ latencyMs: { crm: 10, erp: 20, scoring: 10 } }),
      defineService({
        name: 'ledger.export',
        description: 'A slow target: runs until the test has looked at it',
        handler: async () => {
          await slowTargetReleased;
          return { rows: 3 };
        },
      }),
      defineService({
        name: 'billing.get-invoices',
        description: 'A failing target',
        handler: async () => {
          throw ApplicationFailure.nonRetryable('invoice store unreachable (HTTP 503)', 'BillingUnavailable');
        },
      }),
    ],
    [logCallback({ write: () => undefined })],
  );
}

/** The document inside the iframe that follows a heading (the UI renders summary and details markdown in iframes). */
async function frameAfterHeading(name: string): Promise<Frame> {
  const iframe = page.getByRole('heading', { name, exact: true }).locator('xpath=following::iframe[1]');
  await iframe.waitFor({ timeout: UI_TIMEOUT });
  const frame = await iframe.elementHandle().then((handle) => handle?.contentFrame());
  if (!frame) throw new Error(`no document after the "${name}" heading`);
  return frame;
}

async function openTab(name: RegExp): Promise<void> {
  await page.getByRole('tab', { name }).click();
  await poll(async () => page.getByRole('tab', { name, selected: true }).count()).toBe(1);
}

/** expect.poll with the UI's patience. */
function poll<T>(value: () => T | Promise<T>) {
  return expect.poll(value, { timeout: UI_TIMEOUT, interval: 200 });
}

async function visible(locator: Locator): Promise<void> {
  await locator.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT });
}

beforeAll(async () => {
  const uiPort = await freePort();
  uiUrl = `http://127.0.0.1:${uiPort}`;
  env = await createDevServerEnv({ ui: true, uiPort });
  const reg = registry();
  worker = await createFanoutWorker({
    connection: env.nativeConnection,
    registry: reg,
    taskQueue: TASK_QUEUE,
    workflowBundle: await fanoutBundle(),
  });
  workerRunning = worker.run();
  fanout = new FanoutClient({ client: env.client, registry: reg, taskQueue: TASK_QUEUE });

  // One fan-out that has finished, so the list shows both states side by side.
  await fanout.invoke({ 'crm.get-user': { user_id: 'u0' } }, ['log.input'], { cid: DONE_CID, source: SOURCE });
  await fanout.result(DONE_CID);
  // The one the browser looks at: crm.get-user succeeds, billing.get-invoices fails, the report (a child workflow of
  // about 2 s) completes, and ledger.export keeps running until the test releases it.
  await fanout.invoke(
    {
      'crm.get-user': { user_id: 'u1' },
      'ledger.export': {},
      'billing.get-invoices': {},
      report: { user_id: 'u1', hours: 0.0005 },
    },
    ['log.input'],
    {
      cid: CID,
      source: SOURCE,
      onTarget: ['log.input'],
      targetOptions: { report: { service: 'reports.build-credit-report' } },
    },
  );
  await waitFor(async () => {
    const progress = await fanout.progress(CID);
    return progress.ok === 2 && progress.failed === 1 && progress.running === 1;
  }, 30_000);
  await waitFor(async () => {
    for await (const info of env.client.workflow.list({ query: `FanoutSource = '${SOURCE}'` }))
      if (info.workflowId === CID) return true;
    return false;
  });

  browser = await launchBrowser({ viewport: { width: 1680, height: 860 } });
  recorded = await browser.newPage(uiUrl);
  page = recorded.page;
  page.setDefaultTimeout(UI_TIMEOUT);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  releaseSlowTarget();
  if (fanout) await fanout.result(CID).catch(() => undefined);
  if (worker) {
    worker.shutdown();
    await workerRunning;
  }
  await env?.teardown();
}, 60_000);

describe('the workflow list', () => {
  it('adds the FanoutSource and FanoutState columns through "Configure Columns"', async () => {
    await page.goto(`${uiUrl}/namespaces/default/workflows`);
    const table = page.getByRole('table', { name: 'Workflows' });
    await visible(table.getByRole('link', { name: CID, exact: true }));

    await page.getByRole('button', { name: 'Configure Columns' }).click();
    const drawer = page
      .getByRole('region')
      .filter({ has: page.getByRole('heading', { name: 'Configure Workflows Table' }) });
    await visible(drawer);
    await drawer.getByRole('button', { name: 'Add FanoutSource column' }).click();
    await drawer.getByRole('button', { name: 'Add FanoutState column' }).click();
    // The Run ID says nothing a person needs here, and makes room for the two columns.
    await drawer.getByRole('button', { name: 'Remove Run ID column' }).click();
    await poll(() => drawer.getByRole('button', { name: 'Remove FanoutState column' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Close Workflows Table configuration' }).click();

    const headers = table.getByRole('columnheader');
    await poll(() => headers.allInnerTexts()).toEqual(expect.arrayContaining(['FanoutSource', 'FanoutState']));
    expect(await headers.allInnerTexts()).not.toContain('Run ID');
  });

  it('a typed FanoutSource filter lists the fan-outs of that source with their state', async () => {
    // The "</>" button (tooltip "View raw query") has no accessible name, only its test id.
    await page.getByTestId('toggle-manual-query').click();
    const query = page.getByRole('searchbox', { name: 'Enter a query' });
    await query.fill(`FanoutSource="${SOURCE}"`);
    await page.getByRole('search').getByRole('button', { name: 'Search' }).click();
    await poll(() => new URL(page.url()).searchParams.get('query')).toBe(`FanoutSource="${SOURCE}"`);

    const table = page.getByRole('table', { name: 'Workflows' });
    const running = table.getByRole('row').filter({ has: page.getByRole('link', { name: CID, exact: true }) });
    const done = table.getByRole('row').filter({ has: page.getByRole('link', { name: DONE_CID, exact: true }) });
    await visible(running);
    await visible(done);
    // Only fan-outs: the child workflow <cid>/report has no FanoutSource.
    await poll(() => table.getByRole('link', { name: `${CID}/report` }).count()).toBe(0);
    await poll(async () => (await running.getByRole('cell').allTextContents()).map((text) => text.trim())).toEqual(
      expect.arrayContaining(['Running', 'fanout', SOURCE, 'running']),
    );
    await poll(async () => (await done.getByRole('cell').allTextContents()).map((text) => text.trim())).toEqual(
      expect.arrayContaining(['Completed', SOURCE, 'completed']),
    );
    await recorded.screenshot('workflow-list');
  });
});

describe("the running fan-out's page", () => {
  it('shows its summary, details and a Current Details table with the running target', async () => {
    await page.getByRole('table', { name: 'Workflows' }).getByRole('link', { name: CID, exact: true }).first().click();
    await visible(page.getByRole('heading', { name: CID }));
    expect(page.url().startsWith(`${workflowPageUrl(uiUrl, CID)}/`)).toBe(true);
    await openTab(/^User Metadata/);

    const summary = await frameAfterHeading('Summary');
    await visible(summary.getByText(`fan-out from ${SOURCE}: 4 targets`));
    const details = await frameAfterHeading('Details');
    await visible(details.getByText('report → reports.build-credit-report (workflow)'));
    await visible(details.getByText('billing.get-invoices (activity)'));

    const current = await frameAfterHeading('Current Details');
    await visible(current.getByText(/fan-out running/));
    await visible(current.getByText(/2 ok, 1 failed, 0 cancelled, 1 running/));
    const row = (target: string, state: string) =>
      current
        .getByRole('row')
        .filter({ has: current.getByRole('cell', { name: target, exact: true }) })
        .filter({
          has: current.getByRole('cell', { name: state, exact: true }),
        });
    await visible(row('ledger.export', 'running'));
    await visible(row('billing.get-invoices', 'failed'));
    await visible(row('crm.get-user', 'ok'));
    await visible(row('report', 'ok'));
    await recorded.screenshot('fanout-page');
  });

  it('lists the running target under Pending Activities, named after its service', async () => {
    await openTab(/^Pending Activities/);
    await visible(page.getByRole('heading', { name: 'ledger.export', exact: true }));
    await visible(page.getByText('target/ledger.export', { exact: true }));
    await poll(() => page.getByRole('heading', { level: 4 }).allInnerTexts()).toEqual(['ledger.export']);
  });

  it('shows the child-workflow target under Relationships', async () => {
    await openTab(/^Relationships/);
    const child = page.getByRole('link', { name: `${CID}/report`, exact: true });
    await visible(child);
    await visible(page.getByText('buildCreditReport', { exact: true }));
    await recorded.screenshot('relationships');
  });

  it("shows the failed target's error and rows named after services in the Event History", async () => {
    await openTab(/^Event History/);
    const rows = page.getByRole('row');
    const rowWith = (...texts: string[]) => texts.reduce((found, text) => found.filter({ hasText: text }), rows);
    await visible(rowWith('Activity Task Failed', 'invoice store unreachable (HTTP 503)'));
    await visible(rowWith('Activity Task Scheduled', 'crm.get-user', 'target crm.get-user'));
    await visible(rowWith('Activity Task Scheduled', 'billing.get-invoices', 'target billing.get-invoices'));
    await visible(rowWith('Activity Task Scheduled', 'ledger.export', 'target ledger.export'));
    await visible(rowWith('Start Child Workflow Execution Initiated', 'target report → reports.build-credit-report'));
    await visible(rowWith('Activity Task Scheduled', 'log.input', 'callback log.input for target crm.get-user'));
    await visible(rowWith('Workflow Execution Started', `fan-out from ${SOURCE}: 4 targets`));
    await recorded.screenshot('event-history');
  });

  it('the timeline names every target and callback after the service it runs', async () => {
    await openTab(/^Timeline/);
    for (const text of [
      'crm.get-user • target crm.get-user',
      'billing.get-invoices • target billing.get-invoices',
      'log.input • callback log.input for target crm.get-user',
      `target report → reports.build-credit-report of fan-out ${CID}`,
    ])
      await visible(page.getByRole('button').filter({ hasText: text }));
    await visible(page.getByRole('button', { name: 'Event billing.get-invoices: Failed' }));
    await visible(page.getByRole('button').filter({ hasText: /ledger\.export • target ledger\.export/ }));
  });
});

describe('during the whole run', () => {
  it('no API answer was 4xx/5xx, the page raised no error, nothing left the UI origin but the news feed', async () => {
    expect(recorded.badResponses).toEqual([]);
    expect(recorded.pageErrors).toEqual([]);
    // The only request to another host is the UI's optional news feed (the megaphone button), blocked by the
    // helper so the run never depends on the internet; Chromium logs its block as "Failed to load resource".
    for (const url of recorded.blockedRequests) expect(new URL(url).host).toBe('newsfeed.temporal.io');
    const unexplained = recorded.consoleErrors.filter(
      (error) => !(error.text.startsWith('Failed to load resource') && recorded.blockedRequests.includes(error.url)),
    );
    expect(unexplained).toEqual([]);
    // Requests a navigation cut short (the history long-poll when a tab changes) are aborted, never failed answers.
    const failed = recorded.failedRequests.filter(
      (request) => !recorded.blockedRequests.includes(request.url) && request.error !== 'net::ERR_ABORTED',
    );
    expect(failed).toEqual([]);
  });
});
