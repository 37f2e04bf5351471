import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { OPENMETRICS_CONTENT_TYPE } from '../../src/index.js';
import { havePeer } from '../support/peers.js';

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

async function startCluster(mode: string): Promise<{ port: number; workers: number[] }> {
  primary = spawn(process.execPath, [fixture, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const child = primary;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the cluster did not start within 15 s')), 15_000);
    let buffered = '';
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const line = buffered.split('\n')[0];
      if (buffered.includes('\n') && line !== undefined) {
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

  it('keeps gauges per worker with a worker label, and sums the ones the merge option names', async () => {
    const { port, workers } = await startCluster('normal');
    const { body } = await scrape(port);
    expect(samples(body, 'heap_used').sort()).toEqual([`heap_used{worker="${workers[0]}"} 100`, `heap_used{worker="${workers[1]}"} 101`].sort());
    expect(samples(body, 'active_jobs')).toEqual(['active_jobs 3']);
    expect(samples(body, 'build_info').sort()).toEqual(
      [`build_info{value="v1",worker="${workers[0]}"} 1`, `build_info{value="v1",worker="${workers[1]}"} 1`].sort(),
    );
  });

  it('serves OpenMetrics to a client that asks for it', async () => {
    const { port } = await startCluster('normal');
    const { type, body } = await scrape(port, 'application/openmetrics-text; version=1.0.0');
    expect(type).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(body.endsWith('# EOF\n')).toBe(true);
    expect(body.split('\n').filter((l) => l === '# EOF')).toHaveLength(1);
    expect(body).toContain('# TYPE jobs counter\n');
  });

  it('leaves out a worker that does not answer in time, counts it, and still answers the scrape', async () => {
    const { port } = await startCluster('silent');
    const started = Date.now();
    const { status, body } = await scrape(port);
    expect(status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(samples(body, 'jobs_total')).toEqual(['jobs_total{kind="email"} 10']);
    expect(samples(body, 'probekit_cluster_missing_workers_total')).toEqual(['probekit_cluster_missing_workers_total 1']);
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
