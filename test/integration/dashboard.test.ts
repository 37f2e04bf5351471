/// <reference lib="dom" />
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium } from '../support/browser.js';
import { freePort, waitFor } from '../support/peers.js';

const available = haveChromium();
const MANY = fileURLToPath(new URL('./fixtures/dashboard/many.mjs', import.meta.url));

interface Fixture {
  readonly port: number;
  readonly child: ChildProcess;
  readonly output: () => string;
  send(line: string): void;
  stop(): Promise<void>;
}

const running = new Set<Fixture>();

/** Starts the 500-series application and waits (bounded) for its "ready <port>". */
async function startMany(port = 0, token?: string): Promise<Fixture> {
  const child = spawn(process.execPath, [MANY, String(port), ...(token === undefined ? [] : [token])], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const fixture: Fixture = {
    get port() {
      return Number(/ready (\d+)/.exec(out)?.[1]);
    },
    child,
    output: () => out,
    send: (line) => child.stdin?.write(`${line}\n`),
    stop: async () => {
      running.delete(fixture);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
  };
  running.add(fixture);
  await waitFor('the application to listen', async () => (/ready \d+/.test(out) ? true : undefined), 10_000, 50);
  return fixture;
}

/** Loads the dashboard, recording console errors, page errors and long tasks from the first script on. */
async function open(browser: Browser, url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  await page.addInitScript(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: 'longtask' as PerformanceEntry['entryType'], buffered: true });
  });
  await page.goto(url);
  return { page, problems };
}

describe.skipIf(!available)('The dashboard in real headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const f of [...running]) await f.stop();
  });

  it('shows 500 series with no console error, no task over 200 ms while it fills and scrolls, no horizontal scroll at 1366×768, and the values /metrics.json has', async () => {
    const app = await startMany();
    const base = `http://127.0.0.1:${app.port}/`;
    const { page, problems } = await open(browser, `${base}dashboard`);
    // Every probe's card, and a row per drawn value (700, plus probekit's own).
    await page.waitForFunction(() => document.querySelectorAll('#probes dd[data-stat]').length >= 700 && document.querySelector('#conn')?.textContent === 'live', null, { timeout: 15_000 });
    expect(await page.locator('#probes article[data-family^="jobs_"], #probes article[data-family^="depth_"], #probes article[data-family^="calls_"], #probes article[data-family^="latency_"]').count()).toBe(400);
    // Charts are made only for cards in (or near) view: a few at first, more as the page scrolls.
    await page.waitForTimeout(1000);
    const charts = () => page.locator('#probes canvas').count();
    const atFirst = await charts();
    expect(atFirst).toBeGreaterThan(0);
    expect(atFirst).toBeLessThan(60);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    for (let y = 0; y < height; y += 700) {
      await page.evaluate((top) => window.scrollTo(0, top), y);
      await page.waitForTimeout(100);
    }
    await page.waitForTimeout(1000);
    expect(await charts()).toBeGreaterThan(atFirst * 3);
    const inViewWithoutChart = await page.$$eval('#probes [data-family]', (cards) =>
      cards.filter((c) => {
        const r = c.getBoundingClientRect();
        return r.bottom > 0 && r.top < window.innerHeight && c.querySelector('canvas') === null && c.querySelector('dd[data-value]:not([data-value=""])') !== null;
      }).length,
    );
    expect(inViewWithoutChart).toBe(0);
    await page.evaluate(() => window.scrollTo(0, 0));

    app.send('stop');
    await waitFor('the recording to stop', async () => (app.output().includes('stopped') ? true : undefined), 5000, 50);
    // Two frames after the stop: the page shows the values the process now keeps (its clock stands still).
    await page.waitForTimeout(2500);
    const shown = await page.$$eval('#probes dd[data-stat]', (dds) =>
      dds.map((dd) => ({ family: (dd as HTMLElement).dataset.family, labels: (dd as HTMLElement).dataset.labels, stat: (dd as HTMLElement).dataset.stat, value: (dd as HTMLElement).dataset.value })),
    );
    const snapshot = (await (await fetch(`${base}metrics.json`)).json()) as { metrics: Array<{ exportName: string; kind: string; series: Array<Record<string, unknown> & { labels: Record<string, string> }> }> };
    const expected = new Map<string, string>();
    for (const family of snapshot.metrics) {
      for (const series of family.series) {
        const at = (stat: string) => `${family.exportName} ${JSON.stringify(series.labels)} ${stat}`;
        if (family.kind === 'counter') expected.set(at('value'), String(series.value));
        if (family.kind === 'metric') expected.set(at('value'), String(series.value));
        if (family.kind === 'meter') expected.set(at('rate'), String(series.rate));
        if (family.kind === 'histogram') for (const stat of ['p50', 'p95', 'p99']) expected.set(at(stat), String((series.value as Record<string, unknown>)[stat]));
      }
    }
    const mine = shown.filter((s) => /^(jobs|depth|calls|latency)_\d+/.test(s.family ?? ''));
    // 500 series: 200 labelled counters, 100 gauges, 100 meters, 100 histograms shown as p50, p95 and p99.
    expect(mine.length).toBe(700);
    const differing = mine.filter((s) => expected.get(`${s.family} ${s.labels} ${s.stat}`) !== s.value);
    expect(differing).toEqual([]);
    // The text a reader sees is the same number, formatted.
    expect(await page.locator('dd[data-family="jobs_7"][data-labels=\'{"queue":"sms"}\']').textContent()).toBe(Number(expected.get('jobs_7 {"queue":"sms"} value')).toLocaleString('en-US'));

    const layout = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
    expect(layout.scroll).toBeLessThanOrEqual(layout.width);
    const longest = await page.evaluate(() => Math.max(0, ...(window as unknown as { longTasks: number[] }).longTasks));
    expect(longest).toBeLessThan(200);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('with a token set, every data route refuses a request without it; the page asks for the token once, keeps it in memory only, and fills', async () => {
    const app = await startMany(0, 'tok-123');
    const base = `http://127.0.0.1:${app.port}/`;
    for (const [method, path] of [['GET', 'stream'], ['GET', 'metrics.json'], ['GET', 'metrics'], ['GET', 'errors'], ['GET', 'actions'], ['POST', 'actions/gc']] as const) {
      const res = await fetch(`${base}${path}`, { method });
      await res.body?.cancel();
      expect([method, path, res.status]).toEqual([method, path, 401]);
    }
    const { page, problems } = await open(browser, `${base}dashboard`);
    await page.waitForSelector('#login:not([hidden])', { timeout: 10_000 });
    expect(await page.locator('#login-why').textContent()).toBe('This server asks for a bearer token.');
    await page.fill('#token', 'wrong');
    await page.click('#login button');
    await page.waitForFunction(() => document.querySelector('#login-why')?.textContent === 'That token was refused.', null, { timeout: 10_000 });
    await page.fill('#token', 'tok-123');
    await page.click('#login button');
    await page.waitForFunction(() => document.querySelectorAll('#probes dd[data-stat]').length >= 700, null, { timeout: 15_000 });
    await page.waitForSelector('#actions form[data-action="cpu-profile"]', { timeout: 10_000 });
    const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie, url: location.href }));
    expect(JSON.parse(stored)).toEqual({ local: {}, session: {}, cookie: '', url: `${base}dashboard` });
    // The browser's 401s and 403 are the expected answers; nothing else went wrong.
    expect(problems.filter((p) => !/status of 40[13]/.test(p))).toEqual([]);
    await page.close();
  });

  it('shows a banner when the server goes away, and another when it comes back', async () => {
    const port = await freePort();
    const first = await startMany(port);
    const { page } = await open(browser, `http://127.0.0.1:${port}/dashboard`);
    await page.waitForFunction(() => document.querySelector('#conn')?.textContent === 'live', null, { timeout: 10_000 });
    await first.stop();
    await page.waitForSelector('#banner.bad:not([hidden])', { timeout: 10_000 });
    expect(await page.locator('#banner').textContent()).toMatch(/^The server went away \(.+\)\. The charts keep the history they have; retrying every 2 s…$/);
    expect(await page.locator('#conn').textContent()).toBe('disconnected');
    // The same port again (a restart); afterEach stops it.
    await startMany(port);
    await page.waitForSelector('#banner.ok:not([hidden])', { timeout: 10_000 });
    expect([await page.locator('#banner').textContent(), await page.locator('#conn').textContent()]).toEqual(['Connected again: the server is back.', 'live']);
    await page.close();
  });
});
