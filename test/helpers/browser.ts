/**
 * A real browser for the Web UI tests: Debian's Chromium (scripts/chromium.sh installs it when missing) driven by
 * playwright-core, which never downloads a browser of its own. Every page records what went wrong while a person
 * would have looked at it: API answers with status >= 400, uncaught page errors and console errors. A page stays on
 * its own origin: requests to any other host (the UI's news feed on newsfeed.temporal.io) are blocked and recorded,
 * so a run never depends on the internet. Screenshots go to the test output folder, test-results/web-ui/
 * (gitignored).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

export const SCREENSHOT_DIR = path.resolve(__dirname, '../../test-results/web-ui');
const CHROMIUM_SCRIPT = path.resolve(__dirname, '../../scripts/chromium.sh');

/** Flags that work in a container without a display, GPU, sandbox or network beyond loopback. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium to drive: the path scripts/chromium.sh prints (it installs Debian's chromium if missing). */
export function chromiumPath(): string {
  const printed = execFileSync(CHROMIUM_SCRIPT, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return printed.trim().split('\n').pop()!;
}

export interface BadResponse {
  status: number;
  method: string;
  url: string;
}

export interface ConsoleError {
  text: string;
  /** The script or, for "Failed to load resource", the resource the message is about. */
  url: string;
}

export interface RecordedPage {
  page: Page;
  /** Every response with status >= 400, in order. */
  badResponses: BadResponse[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** console.error messages. */
  consoleErrors: ConsoleError[];
  /** Requests to another origin than the page's, blocked before they left the browser. */
  blockedRequests: string[];
  /** Requests that got no answer (blocked, or aborted by a navigation), with the network error. */
  failedRequests: { url: string; error: string }[];
  /** Saves a full-page screenshot as test-results/web-ui/<name>.png and returns its path. */
  screenshot(name: string, options?: { fullPage?: boolean }): Promise<string>;
}

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  /** A page that may only talk to `origin` (e.g. the Web UI's http://127.0.0.1:port). */
  newPage(origin: string): Promise<RecordedPage>;
  close(): Promise<void>;
}

/** Launches headless Chromium with a fresh profile (playwright's launch makes a temporary --user-data-dir). */
export async function launchBrowser(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1440, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    browser,
    context,
    async newPage(origin) {
      const page = await context.newPage();
      const recorded: RecordedPage = {
        page,
        badResponses: [],
        pageErrors: [],
        consoleErrors: [],
        blockedRequests: [],
        failedRequests: [],
        async screenshot(name, screenshotOptions = {}) {
          const file = path.join(SCREENSHOT_DIR, `${name}.png`);
          await page.screenshot({ path: file, fullPage: screenshotOptions.fullPage ?? false });
          return file;
        },
      };
      const allowed = new URL(origin).origin;
      await page.route(
        (url) => url.origin !== allowed && url.protocol.startsWith('http'),
        async (route) => {
          recorded.blockedRequests.push(route.request().url());
          await route.abort('blockedbyclient');
        },
      );
      page.on('requestfailed', (request) =>
        recorded.failedRequests.push({ url: request.url(), error: request.failure()?.errorText ?? 'unknown' }),
      );
      page.on('response', (response) => {
        if (response.status() >= 400)
          recorded.badResponses.push({
            status: response.status(),
            method: response.request().method(),
            url: response.url(),
          });
      });
      page.on('pageerror', (error) => recorded.pageErrors.push(String(error.stack ?? error)));
      page.on('console', (message) => {
        if (message.type() === 'error')
          recorded.consoleErrors.push({ text: message.text(), url: message.location().url });
      });
      return recorded;
    },
    async close() {
      await context.close().catch(() => undefined);
      await browser.close();
    },
  };
}
