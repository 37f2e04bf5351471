import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { OPENMETRICS_CONTENT_TYPE } from '../../src/index.js';
import { havePeer, waitFor } from '../support/peers.js';

const promtool = havePeer('promtool', 'prometheus');

const fixture = fileURLToPath(new URL('./fixtures/cluster.mjs', import.meta.url));
let primary: ChildProcess | undefined;

afterEach(async () => {
  if (primary && primary.exitCode === null) {
    const exited = new Promise((r) => primary?.once('exit', r));
    primary.kill('SIGTERM');
    await exited;
  }
  primary = undefined;
});

/** Lines the primary printed after its first. */
const printed: string[] = [];

async function startCluster(mode: string): Promise<{ port: number; workers: number[] }> {
  printed.length = 0;
  primary = spawn(process.execPath, [fixture, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const child = primary;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the cluster did not start within 15 s')), 15_000);
    let buffered = '';
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const line = buffered.split('\n')[0];
      printed.push(...buffered.split('\n').slice(1, -1));
      if (buffered.includes('\n') && line !== undefined) {
        buffered = `${line}\n${buffered.split('\n').at(-1) as string}`;
        clearTimeout(timer);
        resolve(JSON.parse(line) as { port: number; workers: number[] });
      }
    });
    child.once('exit', (code) => reject(new Error(`the primary exited with ${code}`)));
  });
}

function scrape(port: number, accept?: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', headers: accept ? { accept } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function samples(body: string, name: string): string[] {
  return body.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('prometheus.clusterHandler() with a real 2-worker cluster', () => {
  it('sums counters and meter totals across the workers', async () => {
    const { port } = await startCluster('normal');
    const { status, body } = await scrape(port);
    expect(status).toBe(200);
    expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 21']);
    expect(samples(body, 'jobs_per_second_events_total')).toEqual(['jobs_per_second_events_total 10']);
  });

  it('merges histograms bucket by bucket', async () => {
    const { port } = await startCluster('normal');
    const { body } = await scrape(port);
    expect(body.split('\n').filter((l) => l.startsWith('job_duration_seconds'))).toEqual([
      'job_duration_seconds_bucket{le="0.01"} 1',
      'job_duration_seconds_bucket{le="0.1"} 1',
      'job_duration_seconds_bucket{le="1"} 2',
      'job_duration_seconds_bucket{le="+Inf"} 2',
      'job_duration_seconds_count 2',
      'job_duration_seconds_sum 0.303',
    ]);
  });

  it('keeps gauges per worker with a worker label holding its slot, and sums the ones the merge option names', async () => {
    const { port } = await startCluster('normal');
    const { body } = await scrape(port);
    expect(samples(body, 'heap_used').sort()).toEqual(['heap_used{worker="0"} 100', 'heap_used{worker="1"} 101']);
    expect(samples(body, 'active_jobs')).toEqual(['active_jobs 3']);
    expect(samples(body, 'build_info').sort()).toEqual(['build_info{value="v1",worker="0"} 1', 'build_info{value="v1",worker="1"} 1']);
  });

  it('reports every worker that answered as probekit_worker_up 1, by slot', async () => {
    const { port } = await startCluster('normal');
    const { body } = await scrape(port);
    expect(samples(body, 'probekit_worker_up')).toEqual(['probekit_worker_up{worker="0"} 1', 'probekit_worker_up{worker="1"} 1']);
  });

  it('serves what changed between scrapes from compact answers, and what did not from the last one', async () => {
    const { port } = await startCluster('normal');
    const first = await scrape(port);
    expect(samples(first.body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 21']);
    primary?.stdin?.write('bump\n');
    await waitFor('the workers to record', async () => (printed.includes('bumped') ? true : undefined), 5000, 20);
    for (let i = 0; i < 2; i++) {
      const { body } = await scrape(port);
      expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 23']);
      expect(samples(body, 'job_duration_seconds_count')).toEqual(['job_duration_seconds_count 2']);
      expect(samples(body, 'heap_used').sort()).toEqual(['heap_used{worker="0"} 100', 'heap_used{worker="1"} 101']);
    }
  });

  it('writes a series the workers start reporting, and stops writing what only a worker that went silent reported, while the others go on from the same merged state', async () => {
    const { port } = await startCluster('normal');
    for (let i = 0; i < 2; i++) {
      const { body } = await scrape(port);
      expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 21']);
      expect(samples(body, 'queue_depth')).toEqual(['queue_depth{worker="0"} 5', 'queue_depth{worker="1"} 6']);
    }
    primary?.stdin?.write('churn\n');
    await waitFor('the workers to churn', async () => (printed.includes('churned') ? true : undefined), 5000, 20);
    for (let i = 0; i < 2; i++) {
      const { body } = await scrape(port);
      expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 21', 'jobs_total{kind="sms"} 15', 'jobs_total{kind="fax"} 1']);
      expect(samples(body, 'queue_depth')).toEqual(['queue_depth{worker="0"} 5', 'queue_depth{worker="1"} 6']);
    }
    primary?.stdin?.write('mute\n');
    await waitFor('worker 2 to go silent', async () => (printed.includes('muted') ? true : undefined), 5000, 20);
    for (let i = 0; i < 2; i++) {
      const { body } = await scrape(port);
      // Worker 1 (slot 0) alone: 10 emails, 7 sms, no fax; its gauge only.
      expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 10', 'jobs_total{kind="sms"} 7']);
      expect(samples(body, 'queue_depth')).toEqual(['queue_depth{worker="0"} 5']);
      expect(samples(body, 'job_duration_seconds_count')).toEqual(['job_duration_seconds_count 1']);
      expect(samples(body, 'probekit_worker_up')).toEqual(['probekit_worker_up{worker="0"} 1', 'probekit_worker_up{worker="1"} 0']);
      expect(body.match(/^# TYPE jobs_total counter$/gm)).toHaveLength(1);
    }
  });

  it('merges the whole snapshot of a worker that speaks version 1 (a rolling deploy) with the compact answers of the others', async () => {
    const { port } = await startCluster('old-worker');
    for (let i = 0; i < 2; i++) {
      const { body } = await scrape(port);
      expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 21']);
      expect(samples(body, 'probekit_worker_up')).toEqual(['probekit_worker_up{worker="0"} 1', 'probekit_worker_up{worker="1"} 1']);
    }
  });

  it('merges the snapshot families of a worker that speaks version 2 with the version-3 answers of the others', async () => {
    const { port } = await startCluster('v2-worker');
    for (let i = 0; i < 2; i++) {
      const { body } = await scrape(port);
      expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 21']);
      expect(samples(body, 'job_duration_seconds_bucket')).toEqual([
        'job_duration_seconds_bucket{le="0.01"} 1',
        'job_duration_seconds_bucket{le="0.1"} 1',
        'job_duration_seconds_bucket{le="1"} 2',
        'job_duration_seconds_bucket{le="+Inf"} 2',
      ]);
      expect(samples(body, 'probekit_worker_up')).toEqual(['probekit_worker_up{worker="0"} 1', 'probekit_worker_up{worker="1"} 1']);
    }
  });

  it('takes a version-3 answer whose values do not fit its series as no answer: probekit_worker_up 0, and the scrape still answers', async () => {
    const { port } = await startCluster('garbled');
    const { status, body } = await scrape(port);
    expect(status).toBe(200);
    expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 10']);
    expect(samples(body, 'probekit_worker_up')).toEqual(['probekit_worker_up{worker="0"} 1', 'probekit_worker_up{worker="1"} 0']);
  });

  it('serves OpenMetrics to a client that asks for it', async () => {
    const { port } = await startCluster('normal');
    const { type, body } = await scrape(port, 'application/openmetrics-text; version=1.0.0');
    expect(type).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(body.endsWith('# EOF\n')).toBe(true);
    expect(body.split('\n').filter((l) => l === '# EOF')).toHaveLength(1);
    expect(body).toContain('# TYPE jobs counter\n');
  });

  it('leaves out a worker that does not answer in time, reports it as probekit_worker_up 0, counts it, and still answers the scrape', async () => {
    const { port } = await startCluster('silent');
    const started = Date.now();
    const { status, body } = await scrape(port);
    expect(status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 10']);
    expect(samples(body, 'probekit_cluster_missing_workers_total')).toEqual(['probekit_cluster_missing_workers_total 1']);
    expect(samples(body, 'probekit_worker_up')).toEqual(['probekit_worker_up{worker="0"} 1', 'probekit_worker_up{worker="1"} 0']);
  });

  it.skipIf(!promtool)('passes promtool check metrics', async () => {
    const { port } = await startCluster('normal');
    const { body } = await scrape(port);
    const run = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('writes each family once', async () => {
    const { port } = await startCluster('normal');
    const { body } = await scrape(port);
    const types = body.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(new Set(types).size).toBe(types.length);
  });
});
