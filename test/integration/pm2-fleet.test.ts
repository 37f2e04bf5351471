/**
 * Per-worker targets under the real PM2 7 in cluster mode (`pm2 start app -i 2`, a PM2 daemon
 * of this test's own): each instance serves on base port + NODE_APP_INSTANCE, and a real
 * Prometheus scrapes them through static targets.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortRange, havePeer, type PrometheusPeer, type PromTarget, startPrometheus, tempDir, waitFor } from '../support/peers.js';

const available = havePeer('prometheus', 'prometheus');
const root = fileURLToPath(new URL('../../', import.meta.url));
const pm2Bin = join(root, 'node_modules/.bin/pm2');
const app = fileURLToPath(new URL('./fixtures/pm2-fleet.cjs', import.meta.url));

interface Pm2Process {
  name: string;
  pid: number;
  pm2_env: { status: string; NODE_APP_INSTANCE?: number; restart_time?: number; exec_mode?: string };
}

describe.skipIf(!available)('A real Prometheus scraping a real PM2 cluster (pm2 start -i 2) through static targets', () => {
  const home = tempDir('probekit-pm2-fleet-');
  let base = 0;
  let prom: PrometheusPeer;

  function pm2(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(pm2Bin, args, { cwd: root, env: { ...process.env, PM2_HOME: home.path, BASE_PORT: String(base) }, timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      });
    });
  }

  async function jlist(): Promise<Pm2Process[]> {
    const { stdout } = await pm2('jlist');
    return JSON.parse(stdout.slice(stdout.indexOf('['))) as Pm2Process[];
  }

  const byWorker = (targets: PromTarget[]): Array<[string | undefined, string, string]> =>
    targets.map((t): [string | undefined, string, string] => [t.labels.worker, t.health, t.scrapeUrl]).sort();

  beforeAll(async () => {
    base = await freePortRange(2);
    const started = await pm2('start', app, '-i', '2', '--name', 'fleet');
    if (started.code !== 0) throw new Error(`pm2 start -i 2 failed: ${started.stderr}`);
    prom = await startPrometheus([
      '  - job_name: pm2',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${base}']`,
      "        labels: {worker: '0'}",
      `      - targets: ['127.0.0.1:${base + 1}']`,
      "        labels: {worker: '1'}",
    ]);
    await waitFor('both instances to be scraped', async () => {
      const targets = await prom.targets();
      return targets.length === 2 && targets.every((t) => t.health === 'up') ? targets : undefined;
    }, 30_000);
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await pm2('kill');
    home.remove();
  }, 30_000);

  it('runs two instances in cluster mode, NODE_APP_INSTANCE 0 and 1', async () => {
    const list = await jlist();
    expect(list.map((p) => [p.pm2_env.exec_mode, p.pm2_env.NODE_APP_INSTANCE, p.pm2_env.status]).sort()).toEqual([
      ['cluster_mode', 0, 'online'],
      ['cluster_mode', 1, 'online'],
    ]);
  });

  it('has Prometheus find both instances up, each at base port + NODE_APP_INSTANCE', async () => {
    expect(byWorker(await prom.targets())).toEqual([
      ['0', 'up', `http://127.0.0.1:${base}/metrics`],
      ['1', 'up', `http://127.0.0.1:${base + 1}/metrics`],
    ]);
  });

  it('stores each instance’s counter under its worker label, and their sum is what the instances recorded', async () => {
    const rows = await prom.query('jobs_total{job="pm2"}');
    expect(Object.fromEntries(rows.map((r) => [r.metric.worker, r.value[1]]))).toEqual({ 0: '10', 1: '11' });
    expect((await prom.query('sum(jobs_total{job="pm2"})')).map((r) => r.value[1])).toEqual(['21']);
  });

  it('has the instance PM2 restarts after a SIGKILL take its port and target again: the same series, a new start time', async () => {
    const before = await prom.query('process_start_time_seconds{job="pm2",worker="1"}');
    expect(before).toHaveLength(1);
    const victim = (await jlist()).find((p) => p.pm2_env.NODE_APP_INSTANCE === 1);
    process.kill(victim?.pid as number, 'SIGKILL');
    const rows = await waitFor('Prometheus to scrape the restarted instance', async () => {
      const r = await prom.query('jobs_total{job="pm2"}');
      return r.find((x) => x.metric.worker === '1')?.value[1] === '101' ? r : undefined;
    }, 20_000);
    expect(Object.fromEntries(rows.map((r) => [r.metric.worker, r.value[1]]))).toEqual({ 0: '10', 1: '101' });
    const restarted = (await jlist()).find((p) => p.pm2_env.NODE_APP_INSTANCE === 1);
    expect([restarted?.pm2_env.restart_time, restarted?.pid === victim?.pid]).toEqual([1, false]);
    expect(byWorker(await prom.targets())).toEqual([
      ['0', 'up', `http://127.0.0.1:${base}/metrics`],
      ['1', 'up', `http://127.0.0.1:${base + 1}/metrics`],
    ]);
    const after = await prom.query('process_start_time_seconds{job="pm2",worker="1"}');
    expect(Number(after[0]?.value[1])).toBeGreaterThan(Number(before[0]?.value[1]));
    expect((await prom.query('count(jobs_total{job="pm2"})')).map((r) => r.value[1])).toEqual(['2']);
  }, 40_000);
});
