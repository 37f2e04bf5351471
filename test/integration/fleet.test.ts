/**
 * Per-worker targets with the real Prometheus: a node:cluster whose workers serve their own
 * /metrics (prometheus.serveWorker()) found through the primary's service-discovery document
 * (prometheus.serveDiscovery(), http_sd_configs refreshed every 1 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortRange, havePeer, type PrometheusPeer, type PromTarget, startPrometheus, waitFor } from '../support/peers.js';

const available = havePeer('prometheus', 'prometheus');
const fixture = fileURLToPath(new URL('./fixtures/fleet.mjs', import.meta.url));

interface Event {
  sd?: string;
  serving?: Array<{ slot: number; pid: number }>;
  replaced?: { slot: number; pid: number };
}

describe.skipIf(!available)('A real Prometheus scraping a node:cluster through prometheus.serveDiscovery()', () => {
  let primary: ChildProcess;
  let prom: PrometheusPeer;
  let base = 0;
  let sd = '';
  let serving: Array<{ slot: number; pid: number }> = [];
  const events: Event[] = [];
  const nextEvent = (pred: (e: Event) => boolean, what: string): Promise<Event> => waitFor(what, async () => events.find(pred), 15_000, 50);

  beforeAll(async () => {
    base = await freePortRange(2);
    primary = spawn(process.execPath, [fixture], { env: { ...process.env, BASE_PORT: String(base), WORKERS: '2' }, stdio: ['pipe', 'pipe', 'inherit'] });
    let buffered = '';
    primary.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        events.push(JSON.parse(buffered.slice(0, nl)) as Event);
        buffered = buffered.slice(nl + 1);
      }
    });
    const started = await nextEvent((e) => e.sd !== undefined, 'the cluster to serve');
    sd = started.sd as string;
    serving = started.serving as Array<{ slot: number; pid: number }>;
    prom = await startPrometheus(['  - job_name: fleet', '    http_sd_configs:', `      - url: ${sd}`, '        refresh_interval: 1s']);
    // Prometheus 2.42 waits about 5 s before its first scrape.
    await waitFor('both workers to be scraped', async () => {
      const targets = await prom.targets();
      return targets.length === 2 && targets.every((t) => t.health === 'up') ? targets : undefined;
    }, 30_000);
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    if (primary && primary.exitCode === null) {
      const exited = new Promise((r) => primary.once('exit', r));
      primary.kill('SIGTERM');
      await exited;
    }
  });

  const byWorker = (targets: PromTarget[]): Array<[string | undefined, string, string]> =>
    targets.map((t): [string | undefined, string, string] => [t.labels.worker, t.health, t.scrapeUrl]).sort();

  it('serves a document that lists each serving worker once, with its slot as the worker label', async () => {
    const res = await fetch(sd);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual([
      { targets: [`127.0.0.1:${base}`], labels: { worker: '0' } },
      { targets: [`127.0.0.1:${base + 1}`], labels: { worker: '1' } },
    ]);
    expect(serving.map((s) => s.slot).sort()).toEqual([0, 1]);
  });

  it('has Prometheus find both workers up through the document, each at base port + slot', async () => {
    expect(byWorker(await prom.targets())).toEqual([
      ['0', 'up', `http://127.0.0.1:${base}/metrics`],
      ['1', 'up', `http://127.0.0.1:${base + 1}/metrics`],
    ]);
  });

  it('stores each worker’s counter under its worker label, and their sum is what the workers recorded', async () => {
    const rows = await prom.query('jobs_total{job="fleet"}');
    expect(Object.fromEntries(rows.map((r) => [r.metric.worker, r.value[1]]))).toEqual({ 0: '10', 1: '11' });
    expect((await prom.query('sum(jobs_total{job="fleet"})')).map((r) => r.value[1])).toEqual(['21']);
  });

  it('gives a killed worker’s replacement its slot, its port and its target: the same series, a new start time', async () => {
    const before = await prom.query('process_start_time_seconds{job="fleet",worker="1"}');
    expect(before).toHaveLength(1);
    const killed = serving.find((s) => s.slot === 1)?.pid;
    primary.stdin?.write('kill 1\n');
    const { replaced } = await nextEvent((e) => e.replaced !== undefined, 'the replacement to serve');
    expect(replaced?.slot).toBe(1);
    expect(replaced?.pid).not.toBe(killed);
    expect(await (await fetch(sd)).json()).toEqual([
      { targets: [`127.0.0.1:${base}`], labels: { worker: '0' } },
      { targets: [`127.0.0.1:${base + 1}`], labels: { worker: '1' } },
    ]);
    const rows = await waitFor('Prometheus to scrape the replacement', async () => {
      const r = await prom.query('jobs_total{job="fleet"}');
      return r.find((x) => x.metric.worker === '1')?.value[1] === '100' ? r : undefined;
    }, 15_000);
    expect(Object.fromEntries(rows.map((r) => [r.metric.worker, r.value[1]]))).toEqual({ 0: '10', 1: '100' });
    expect(byWorker(await prom.targets())).toEqual([
      ['0', 'up', `http://127.0.0.1:${base}/metrics`],
      ['1', 'up', `http://127.0.0.1:${base + 1}/metrics`],
    ]);
    const after = await prom.query('process_start_time_seconds{job="fleet",worker="1"}');
    expect(Number(after[0]?.value[1])).toBeGreaterThan(Number(before[0]?.value[1]));
    // One series per worker: the replacement continued slot 1's, it did not start another.
    expect((await prom.query('count(jobs_total{job="fleet"})')).map((r) => r.value[1])).toEqual(['2']);
  }, 40_000);
});
