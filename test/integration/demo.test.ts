/// <reference lib="dom" />
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, launchChromium } from '../support/browser.js';
import { waitFor } from '../support/peers.js';

const DEMO = fileURLToPath(new URL('../../examples/demo/index.mjs', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../.tmp/artifacts/', import.meta.url));

interface Demo {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly dashboard: string;
  readonly app: string;
  readonly admin: string;
  /** Sends SIGINT and resolves with the exit code and how long the exit took, in ms. */
  interrupt(): Promise<{ code: number | null; ms: number }>;
}

const running = new Set<ChildProcess>();

/** Starts the demo on free ports and waits (bounded) for the URL lines it prints. */
async function startDemo(args: string[] = [], env: Record<string, string> = {}): Promise<Demo> {
  const child = spawn(process.execPath, [DEMO, ...args], { env: { ...process.env, PORT: '0', ADMIN_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor('the demo to print its URLs', async () => (/^exporters: /m.test(out) ? true : undefined), 15_000, 50);
  const line = (name: string) => (new RegExp(`^${name}: (http\\S+)`, 'm').exec(out) as RegExpExecArray)[1] as string;
  return {
    child,
    output: () => out,
    dashboard: line('dashboard'),
    app: line('app'),
    admin: line('admin'),
    async interrupt() {
      const t0 = performance.now();
      child.kill('SIGINT');
      const code = await exited;
      running.delete(child);
      return { code, ms: performance.now() - t0 };
    },
  };
}

afterEach(async () => {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
  }
  running.clear();
});

const getJson = async (url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> => {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json() };
};

describe('The demo (npm start)', () => {
  it('prints its URLs, serves the chapters’ actions over Express and Seneca with their metrics, notifies a division by zero with its context, sends StatsD when told, and ends on Ctrl-C with exit code 0, flushed', async () => {
    const received: string[] = [];
    const udp: Socket = createSocket('udp4');
    udp.on('message', (m) => received.push(m.toString('utf8')));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    try {
      const demo = await startDemo(['--no-load'], { PROBEKIT_STATSD_HOST: '127.0.0.1', PROBEKIT_STATSD_PORT: String((udp.address() as AddressInfo).port) });
      expect(demo.output()).toMatch(/^try: curl 'http:\/\/127\.0\.0\.1:\d+\/divide\?a=1&b=0'/m);
      expect(demo.output()).toMatch(/^load generator: off \(--no-load\)$/m);
      expect(demo.output()).toMatch(/^exporters: StatsD$/m);
      expect(await getJson(`${demo.app}greet/Ada`)).toEqual({ status: 200, body: { result: 'Hello Ada' } });
      expect(await getJson(`${demo.app}divide?a=6&b=3`)).toEqual({ status: 200, body: { result: 2 } });
      expect(await getJson(`${demo.app}divide?a=1&b=0`)).toEqual({ status: 400, body: { error: 'Division by zero: 1 / 0' } });

      const text = await (await fetch(`${demo.app}metrics`)).text();
      expect(text).toContain('\nnumber_of_calls 1\n');
      expect(text).toContain('\ncalls_per_minute_events_total 1\n');
      expect(text).toContain('\ngreetings_kept 1\n');
      expect(text).toContain('rpc_server_calls_total{rpc_system="seneca",rpc_method="cmd:hello,role:greet"} 1\n');
      expect(text).toContain('rpc_server_calls_total{rpc_system="seneca",rpc_method="cmd:div,role:math"} 2\n');
      expect(text).toMatch(/\nhttp_server_request_duration_seconds_count\{[^}]*http_route="\/divide"[^}]*http_response_status_code="400"[^}]*\} 1\n/);
      expect(text).toMatch(/\nseneca_act_latency_seconds_count\{cmd="div"\} 2\n/);

      const errors = (await getJson(`${demo.admin}errors`)).body as { total: number; recent: Array<{ count: number; last: { message: string; code: string; stack: string; context: Record<string, unknown> } }> };
      expect(errors.total).toBe(1);
      const division = errors.recent[0]?.last;
      expect([division?.message, division?.code, division?.context.route, division?.context.pattern, division?.context.a, division?.context.b]).toEqual(['Division by zero: 1 / 0', 'division_by_zero', '/divide', 'cmd:div,role:math', 1, 0]);
      expect(division?.stack).toMatch(/examples\/demo\/service\.mjs:\d+/);

      const { code, ms } = await demo.interrupt();
      expect(code).toBe(0);
      expect(ms).toBeLessThan(5000);
      expect(demo.output()).toMatch(/^SIGINT: shutting down \(again to exit at once\)\nstopped: 3 requests served\n/m);
      // The StatsD exporter flushed before the exit: the greeting counter is in what arrived.
      expect(received.join('\n')).toMatch(/(^|\n)number_of_calls:1\|/);
    } finally {
      udp.close();
    }
  });

  it('with a token set, every data route of the admin server refuses a request without it', async () => {
    const demo = await startDemo(['--no-load', '--token', 'demo-token']);
    expect(demo.output()).toContain('/dashboard   (asks for the token you set)');
    for (const [method, path] of [['GET', 'stream'], ['GET', 'metrics.json'], ['GET', 'metrics'], ['GET', 'errors'], ['GET', 'actions'], ['POST', 'actions/clear-greetings']] as const) {
      const res = await fetch(`${demo.admin}${path}`, { method });
      await res.body?.cancel();
      expect([method, path, res.status]).toEqual([method, path, 401]);
    }
    expect((await fetch(`${demo.admin}actions`, { headers: { Authorization: 'Bearer demo-token' } })).status).toBe(200);
    expect((await demo.interrupt()).code).toBe(0);
  });
});

const chromium = haveChromium();

describe.skipIf(!chromium)('The demo’s dashboard in real headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('loads with no console error, shows the values /metrics.json has, the division error with its stack, an action’s result, and the server-gone banner when the demo stops', async () => {
    const demo = await startDemo(['--no-load']);
    for (const name of ['Ada', 'Grace', 'Linus']) await fetch(`${demo.app}greet/${name}`);
    await fetch(`${demo.app}divide?a=8&b=2`);

    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
    await page.goto(demo.dashboard);
    await page.waitForSelector('#probes article[data-family="number_of_calls"] dd[data-value="3"]', { timeout: 15_000 });

    // The application's own probes, as the page shows them, against the admin server's snapshot.
    const snapshot = (await getJson(`${demo.admin}metrics.json`)).body as { metrics: Array<{ exportName: string; kind: string; series: Array<{ labels: Record<string, string>; value: unknown }> }> };
    const family = (name: string) => snapshot.metrics.find((m) => m.exportName === name);
    const shown = (name: string, stat: string, labels: Record<string, string> = {}) =>
      page.locator(`#probes dd[data-family="${name}"][data-stat="${stat}"][data-labels='${JSON.stringify(labels)}']`).getAttribute('data-value');
    expect(await shown('number_of_calls', 'value')).toBe(String(family('number_of_calls')?.series[0]?.value));
    expect(await shown('greetings_kept', 'value')).toBe(String(family('greetings_kept')?.series[0]?.value));
    const latency = family('seneca_act_latency')?.series.find((s) => s.labels.cmd === 'hello')?.value as Record<string, number>;
    for (const stat of ['p50', 'p95', 'p99']) expect(await shown('seneca_act_latency', stat, { cmd: 'hello' })).toBe(String(latency[stat]));
    expect(await page.locator('#probes article[data-family="number_of_calls"] dd[data-stat]').textContent()).toBe('3');

    // An error through the demo's division action: in the errors panel, with its stack.
    await fetch(`${demo.app}divide?a=1&b=0`);
    const item = page.locator('#errors details.error', { hasText: 'Division by zero: 1 / 0' });
    await item.waitFor({ timeout: 10_000 });
    await item.locator('summary').click();
    expect(await item.locator('pre.stack').textContent()).toMatch(/^Error: Division by zero: 1 \/ 0\n\s+at .*examples\/demo\/service\.mjs:\d+/);
    expect(await item.locator('dl.context').textContent()).toContain('route/divide');

    // An action button: its result is shown.
    await page.click('#actions form[data-action="clear-greetings"] button');
    await page.waitForFunction(() => document.querySelector('#action-result')?.textContent?.startsWith('clear-greetings → 200'), null, { timeout: 10_000 });
    expect(await page.locator('#action-result').textContent()).toBe('clear-greetings → 200\n{\n  "released": 3\n}');

    // A CPU profile downloads as a file.
    await page.fill('#actions form[data-action="cpu-profile"] input[name="seconds"]', '0.2');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.click('#actions form[data-action="cpu-profile"] button')]);
    expect(download.suggestedFilename()).toMatch(/^\d+-.+\.cpuprofile$/);
    const profile = JSON.parse(readFileSync(await download.path(), 'utf8')) as { nodes: unknown[]; startTime: number };
    expect([Array.isArray(profile.nodes), typeof profile.startTime]).toEqual([true, 'number']);
    await page.waitForFunction(() => document.querySelector('#action-result')?.textContent?.startsWith('cpu-profile: downloaded '), null, { timeout: 10_000 });

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png` });
    const layout = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
    expect(layout.scroll).toBeLessThanOrEqual(layout.width);
    expect(problems).toEqual([]);

    expect((await demo.interrupt()).code).toBe(0);
    await page.waitForSelector('#banner.bad:not([hidden])', { timeout: 10_000 });
    expect(await page.locator('#banner').textContent()).toMatch(/^The server went away/);
    await page.close();
  });
});
