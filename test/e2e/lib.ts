// Browser tests: playwright-core driving the system's chromium (Debian's `chromium`
// package; CHROMIUM_PATH points elsewhere). No browser, no browser tests: the suite says
// so and skips them, so that `npm test` still runs everywhere.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { projectRoot } from '../../server/paths.js';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import { addUser, sessionFor } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOTS = path.join(projectRoot, 'test-artifacts', 'screenshots');
export const WIDE = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 800 };

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  if (!fs.existsSync(CHROMIUM)) return `browser tests skipped: no chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  return undefined;
}

/** Mocha `before` helper: skips the whole describe, saying why, when there is no browser. */
export function skipWithoutBrowser(ctx: Mocha.Context): void {
  const why = browserMissing();
  if (why) {
    console.log(`      ${why}`);
    ctx.skip();
  }
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** closes the browser and removes its profile folder */
  close(): Promise<void>;
}

/** A headless chromium with a fresh profile, one page at the wide size. */
export async function launchBrowser(opts: { javaScriptEnabled?: boolean } = {}): Promise<Browser> {
  const profile = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'tablewright-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: WIDE,
      timeout: 30_000,
      javaScriptEnabled: opts.javaScriptEnabled ?? true,
    });
  } catch (err) {
    await fs.promises.rm(profile, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(10_000);
  const page = context.pages()[0] ?? (await context.newPage());
  // hx-confirm asks with window.confirm: the tests answer yes.
  page.on('dialog', (d) => void d.accept());
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => undefined);
      await fs.promises.rm(profile, { recursive: true, force: true });
    },
  };
}

/** Errors the page logs (a CSP violation, a script error) fail the test that caused them. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A 4xx answer is part of a flow (a refused value); htmx and the browser log it anyway.
    const expected = /Failed to load resource: the server responded with a status of 4\d\d|^Response Status Error Code 4\d\d/;
    if (m.type() === 'error' && !expected.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Waits for htmx to finish: no request in flight and the settle done. */
export async function htmxIdle(page: Page): Promise<void> {
  await page.waitForFunction(() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping'), undefined, { timeout: 10_000 });
}

/**
 * Screenshots of the page at 1280x800 and 375x800 into test-artifacts/screenshots/, and
 * the check that matters at both sizes: the page itself never scrolls sideways (wide
 * content such as the grid scrolls inside its own box).
 */
const overflows: string[] = [];
export async function screenshots(page: Page, name: string): Promise<void> {
  await fs.promises.mkdir(SCREENSHOTS, { recursive: true });
  for (const [label, size] of [['1280', WIDE], ['375', PHONE]] as const) {
    await page.setViewportSize(size);
    await page.waitForTimeout(50);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 0) overflows.push(`${name} at ${label}px scrolls sideways by ${overflow}px`);
  }
  await page.setViewportSize(WIDE);
  expect(overflows.splice(0), 'pages that scroll sideways').to.deep.equal([]);
}

/** Polls fn until it returns a truthy value, or fails after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The console in a browser, signed in as a new user: what most browser tests start from. */
export interface SignedInConsole {
  db: TestDatabase;
  app: TestApp;
  /** straight SQL on the test database (fixtures) */
  sql: Sql;
  browser: Browser;
  page: Page;
  /** errors the page logs (collectPageErrors) */
  errors: string[];
  /** the session cookie's value */
  cookie: string;
  /** closes the browser, the SQL client, the instance, and drops the database */
  close(): Promise<void>;
}

/**
 * A fresh database, an instance (drift checks and cleanup off), a user of `role` with a
 * session, and a browser carrying its cookie. `timeoutMs`: the browser's default wait (a
 * loaded machine can take more than 10 s for a first page).
 */
export async function signedInConsole(
  name: string,
  email: string,
  opts: { role?: 'viewer' | 'editor' | 'admin'; javaScriptEnabled?: boolean; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<SignedInConsole> {
  const db = await freshDatabase();
  const app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', ...opts.env }, name);
  const userId = await addUser(app, email, opts.role ?? 'editor');
  const sql = await Sql.connect(db.url);
  const browser = await launchBrowser({ javaScriptEnabled: opts.javaScriptEnabled });
  if (opts.timeoutMs) browser.context.setDefaultTimeout(opts.timeoutMs);
  const page = browser.page;
  const errors = collectPageErrors(page);
  const cookie = (await sessionFor(app, userId)).cookie.split('=')[1]!;
  await browser.context.addCookies([{ name: SESSION_COOKIE, value: cookie, url: app.url }]);
  return {
    db,
    app,
    sql,
    browser,
    page,
    errors,
    cookie,
    close: async () => {
      await browser.close();
      await sql.end();
      await app.stop();
      await db.drop();
    },
  };
}
