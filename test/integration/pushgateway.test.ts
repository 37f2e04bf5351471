/**
 * httpPush() against the real Pushgateway (Debian prometheus-pushgateway, no persistence,
 * loopback) and a real Prometheus scraping it with honor_labels.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createProbe, httpPush, type Probe, type PushExporter } from '../../src/index.js';
import { freePort, havePeer, startDaemon, tempDir, waitFor } from '../support/peers.js';

const available = havePeer('prometheus-pushgateway', 'prometheus-pushgateway') && havePeer('prometheus', 'prometheus');
const FIXTURES = fileURLToPath(new URL('./fixtures/push/', import.meta.url));

interface Group {
  readonly labels: Record<string, string>;
  readonly [family: string]: unknown;
}

describe.skipIf(!available)('httpPush() and a real Pushgateway', () => {
  let gateway: ReturnType<typeof startDaemon>;
  let prometheus: ReturnType<typeof startDaemon>;
  let dir: ReturnType<typeof tempDir>;
  let url = '';
  let api = '';
  const open: Array<PushExporter | Probe> = [];

  beforeAll(async () => {
    dir = tempDir('probekit-pgw-');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    gateway = startDaemon('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--web.enable-admin-api', '--log.level=warn'], dir.path);
    await waitFor('the Pushgateway to be ready', async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 10_000, 100);
    const promPort = await freePort();
    api = `http://127.0.0.1:${promPort}`;
    const config = join(dir.path, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: {scrape_interval: 1s, scrape_timeout: 1s}',
        'scrape_configs:',
        '  - job_name: pushgateway',
        '    honor_labels: true',
        `    static_configs: [{targets: ['127.0.0.1:${port}']}]`,
        '',
      ].join('\n'),
    );
    prometheus = startDaemon('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir.path, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], dir.path);
    await waitFor('Prometheus to be ready', async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined), 15_000, 100);
  }, 40_000);

  afterEach(async () => {
    for (const x of open.splice(0)) await x.close();
    await fetch(`${url}/api/v1/admin/wipe`, { method: 'PUT' });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await gateway?.stop();
    dir?.remove();
  });

  function registry(): Probe {
    const p = createProbe();
    open.push(p);
    return p;
  }

  function pusher(options: Parameters<typeof httpPush>[0]): PushExporter {
    const x = httpPush({ interval: 0, ...options });
    open.push(x);
    return x;
  }

  /** The gateway's groups with a successful push (a rejected push leaves an empty group behind). */
  async function groups(): Promise<Group[]> {
    const body = (await (await fetch(`${url}/api/v1/metrics`)).json()) as { data: Group[] };
    return body.data.filter((g) => g.last_push_successful === true && Object.keys(g).some((k) => !['labels', 'last_push_successful', 'push_time_seconds', 'push_failure_time_seconds'].includes(k)));
  }

  /** `family`'s samples in `group` as `labels → value`. */
  function values(group: Group | undefined, family: string): Array<[Record<string, string>, string]> {
    const f = group?.[family] as { metrics: Array<{ labels: Record<string, string>; value: string }> } | undefined;
    return (f?.metrics ?? []).map((m) => [m.labels, m.value]);
  }

  it('holds exactly the pushed values under the grouping labels, a value with "/" and an empty one included', async () => {
    const p = registry();
    p.counter({ name: 'jobs', monotonic: true, labels: ['kind'] }).labels({ kind: 'mail' }).inc(5);
    p.metric({ name: 'depth', labels: ['queue'] }).labels({ queue: 'a/b' }).set(3);
    const out = await pusher({ url, job: 'report', grouping: { path: '/var/tmp', empty: '' }, registry: p }).push();
    expect(out).toEqual({ ok: true, status: 200, attempts: 1, error: null });
    const [group, ...more] = await groups();
    expect(more).toEqual([]);
    const grouping = { job: 'report', path: '/var/tmp', empty: '' };
    expect(group?.labels).toEqual(grouping);
    // The gateway gives each sample an empty instance label when the grouping has none.
    expect(values(group, 'jobs_total')).toEqual([[{ ...grouping, instance: '', kind: 'mail' }, '5']]);
    expect(values(group, 'depth')).toEqual([[{ ...grouping, instance: '', queue: 'a/b' }, '3']]);
  });

  it('replaces the whole group on PUT and only the families sent on POST', async () => {
    const a = registry();
    a.metric({ name: 'first', value: 1 });
    a.metric({ name: 'second', value: 2 });
    await pusher({ url, job: 'm', grouping: {}, registry: a }).push();
    const b = registry();
    b.metric({ name: 'second', value: 20 });
    await pusher({ url, job: 'm', grouping: {}, method: 'POST', registry: b }).push();
    let [group] = await groups();
    expect([values(group, 'first')[0]?.[1], values(group, 'second')[0]?.[1]]).toEqual(['1', '20']);
    const c = registry();
    c.metric({ name: 'second', value: 200 });
    await pusher({ url, job: 'm', grouping: {}, registry: c }).push();
    [group] = await groups();
    expect([values(group, 'first'), values(group, 'second')[0]?.[1]]).toEqual([[], '200']);
  });

  it('deletes its group on close() with deleteOnClose', async () => {
    const p = registry();
    p.metric({ name: 'x', value: 1 });
    const x = httpPush({ url, job: 'gone', interval: 0, deleteOnClose: true, registry: p });
    await x.push();
    expect((await groups()).map((g) => g.labels.job)).toEqual(['gone']);
    await x.close();
    expect(await groups()).toEqual([]);
  });

  it("reports the gateway's 400 for a push inconsistent with another group, with its reason, and does not retry it", async () => {
    const a = registry();
    a.counter({ name: 'clash', monotonic: true }).inc();
    await pusher({ url, job: 'one', grouping: {}, registry: a }).push();
    const b = registry();
    b.metric({ name: 'clash_total', value: 1 }); // the same family as a gauge
    const failures: Error[] = [];
    const out = await pusher({ url, job: 'two', grouping: {}, registry: b, onError: (e) => failures.push(e) }).push();
    expect({ ok: out.ok, status: out.status, attempts: out.attempts }).toEqual({ ok: false, status: 400, attempts: 1 });
    expect(failures).toHaveLength(1);
    expect(failures[0]?.message).toMatch(/^probekit: httpPush\(\): PUT http:\/\/127\.0\.0\.1:\d+\/metrics\/job\/two answered 400: .*clash_total/s);
  });

  it('keeps two instances of one job apart (job and instance grouping), and a real Prometheus reads both back', async () => {
    for (const [instance, n] of [['web-1', 4], ['web-2', 6]] as const) {
      const p = registry();
      p.counter({ name: 'handled', monotonic: true }).inc(n);
      await pusher({ url, job: 'fleet', grouping: { instance }, registry: p }).push();
    }
    expect((await groups()).map((g) => g.labels.instance).sort()).toEqual(['web-1', 'web-2']);
    const result = await waitFor(
      'Prometheus to scrape both instances from the gateway',
      async () => {
        const res = (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent('handled_total{job="fleet"}')}`)).json()) as {
          data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
        };
        const rows = res.data.result.map((r) => [r.metric.instance, r.value[1]]).sort();
        return rows.length === 2 ? rows : undefined;
      },
      20_000,
      250,
    );
    expect(result).toEqual([
      ['web-1', '4'],
      ['web-2', '6'],
    ]);
  }, 30_000);

  it.each([
    { what: 'records and ends on its own', args: [], signal: undefined },
    { what: 'gets SIGTERM with handleShutdown()', args: ['signal'], signal: 'SIGTERM' as const },
  ])('receives the final values of a short job that $what, with no push call of its own', async ({ args, signal }) => {
    const job = signal === undefined ? 'short' : 'signalled';
    const child = spawn(process.execPath, [`${FIXTURES}ends.mjs`, url, job, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (signal !== undefined) {
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
      child.kill(signal);
    }
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const ended = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, sig) => resolve([code, sig])));
    clearTimeout(kill);
    expect({ ended, stderr }).toEqual({ ended: signal === undefined ? [0, null] : [null, 'SIGTERM'], stderr: '' });
    const [group] = await groups();
    expect(group?.labels).toEqual({ job, instance: 'child' });
    expect(values(group, 'rows_written_total')).toEqual([[{ job, instance: 'child' }, '1234']]);
    expect(values(group, 'last_run_ok')).toEqual([[{ job, instance: 'child' }, '1']]);
  });
});
