import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type DiscoveryServer, type MetricsServer, prometheus } from '../../src/index.js';
import { bad, expectError, rejection } from '../support/helpers.js';
import { freePort, freePortRange } from '../support/peers.js';

const started: MetricsServer[] = [];
const saved = { instance: process.env.NODE_APP_INSTANCE, mode: process.env.exec_mode, instanceVar: process.env.instance_var, custom: process.env.MY_INSTANCE };

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
  for (const [key, value] of [['NODE_APP_INSTANCE', saved.instance], ['exec_mode', saved.mode], ['instance_var', saved.instanceVar], ['MY_INSTANCE', saved.custom]] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

async function keep<T extends MetricsServer>(server: Promise<T>): Promise<T> {
  const s = await server;
  started.push(s);
  return s;
}

const fixture = fileURLToPath(new URL('./fixtures/fleet-cluster.mjs', import.meta.url));

/** Runs the cluster fixture in `mode`; resolves with what its workers reported. */
function cluster(mode: string, basePort: number, env: Record<string, string> = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [fixture, mode], { env: { ...process.env, ...env, BASE_PORT: String(basePort) }, timeout: 15_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout.trim()));
    });
  });
}

describe('prometheus.serveWorker()', () => {
  it('serves slot 0 on the base port in a process on its own', async () => {
    const base = await freePort();
    const s = await keep(prometheus.serveWorker({ basePort: base }));
    expect([s.slot, s.slotSource, s.port, s.url]).toEqual([0, 'single', base, `http://127.0.0.1:${base}/metrics`]);
    expect((await fetch(s.url)).status).toBe(200);
  });

  it('listens on base port + the slot option', async () => {
    const base = await freePortRange(3);
    const s = await keep(prometheus.serveWorker({ basePort: base, slot: 2 }));
    expect([s.slot, s.slotSource, s.port]).toEqual([2, 'option', base + 2]);
  });

  it("takes PM2's NODE_APP_INSTANCE as the slot", async () => {
    const base = await freePortRange(2);
    process.env.NODE_APP_INSTANCE = '1';
    process.env.exec_mode = 'cluster_mode';
    const s = await keep(prometheus.serveWorker({ basePort: base }));
    expect([s.slot, s.slotSource, s.port]).toEqual([1, 'pm2', base + 1]);
  });

  it("reads the instance number from the variable PM2's instance_var names", async () => {
    const base = await freePortRange(3);
    process.env.NODE_APP_INSTANCE = '0';
    process.env.instance_var = 'MY_INSTANCE';
    process.env.MY_INSTANCE = '2';
    const s = await keep(prometheus.serveWorker({ basePort: base }));
    expect([s.slot, s.slotSource, s.port]).toEqual([2, 'pm2', base + 2]);
  });

  it('rejects with EADDRINUSE when base port + slot is taken', async () => {
    const base = await freePort();
    await keep(prometheus.serveWorker({ basePort: base }));
    expect(((await rejection(prometheus.serveWorker({ basePort: base }))) as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
  });

  it('rejects a slot that would put the port past 65535, naming both', async () => {
    const err = await rejection(prometheus.serveWorker({ basePort: 65535, slot: 1 }));
    expectError(err, { type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'slot' });
    expect(err.message).toBe('probekit: prometheus.serveWorker() option "slot" must be at most 0, so that basePort 65535 + slot is a port, got 1 (number)');
  });

  it('gets slots 0 and 1 from the primary’s serveDiscovery() in a node:cluster, on a socket of each worker’s own', async () => {
    const base = await freePortRange(2);
    expect(await cluster('discovery', base)).toEqual([
      { slot: 0, source: 'primary', port: 0 },
      { slot: 1, source: 'primary', port: 1 },
    ]);
  });

  it('asks the primary, not the NODE_APP_INSTANCE it inherited, in a node:cluster of its own under a PM2 fork-mode process', async () => {
    const base = await freePortRange(2);
    expect(await cluster('discovery', base, { NODE_APP_INSTANCE: '3', exec_mode: 'fork_mode' })).toEqual([
      { slot: 0, source: 'primary', port: 0 },
      { slot: 1, source: 'primary', port: 1 },
    ]);
  });

  it('listens exclusively: two cluster workers given one slot do not share its port through the primary', async () => {
    const base = await freePort();
    const results = (await cluster('same-slot', base)) as Array<Record<string, unknown>>;
    expect(results).toHaveLength(2);
    expect(results.filter((r) => r.source === 'option')).toEqual([{ slot: 0, source: 'option', port: 0 }]);
    expect(results.filter((r) => r.error !== undefined).map((r) => String(r.error))).toEqual([expect.stringContaining('EADDRINUSE')]);
  });

  it('rejects in a cluster worker whose primary assigns no slot, saying what to do', async () => {
    const base = await freePort();
    expect(await cluster('no-discovery', base)).toEqual([
      {
        error: 'probekit: prometheus.serveWorker(): the primary assigned no slot within 300 ms; call prometheus.serveDiscovery() in the primary, or give the "slot" option',
        code: 'PROBEKIT_INVALID_OPTION',
        option: 'slot',
      },
    ]);
  });
});

const ERRORS = { TypeError, RangeError } as const;

const badWorker: readonly { what: string; options: unknown; type: keyof typeof ERRORS; code: string; option: string | undefined }[] = [
  { what: 'no basePort', options: {}, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'basePort' },
  { what: 'basePort 0', options: { basePort: 0 }, type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'basePort' },
  { what: 'slot -1', options: { basePort: 9500, slot: -1 }, type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'slot' },
  { what: 'slot 1.5', options: { basePort: 9500, slot: 1.5 }, type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'slot' },
  { what: "host ''", options: { basePort: 9500, host: '' }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'host' },
  { what: "path 'metrics'", options: { basePort: 9500, path: 'metrics' }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'path' },
  { what: 'slotTimeoutMs 0', options: { basePort: 9500, slotTimeoutMs: 0 }, type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'slotTimeoutMs' },
  { what: 'port (serve()’s option)', options: { basePort: 9500, port: 9500 }, type: 'TypeError', code: 'PROBEKIT_UNKNOWN_OPTION', option: 'port' },
  { what: 'null options', options: null, type: 'TypeError', code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined },
];

describe('bad serveWorker() options', () => {
  it.each(badWorker)('rejects $what with a $type', async ({ options, type, code, option }) => {
    const err = await rejection(prometheus.serveWorker(bad(options)).then(async (s) => (await s.close(), s)));
    expectError(err, { type: ERRORS[type], code, option });
  });
});

describe('prometheus.serveDiscovery()', () => {
  it('serves an empty target list as JSON while no worker serves', async () => {
    const sd = await keep<DiscoveryServer>(prometheus.serveDiscovery({ port: 0 }));
    const res = await fetch(sd.url);
    expect([res.status, res.headers.get('content-type'), res.headers.get('cache-control'), await res.json()]).toEqual([200, 'application/json; charset=utf-8', 'no-store', []]);
    expect(sd.url).toBe(`http://127.0.0.1:${sd.port}/targets`);
    expect(sd.document()).toEqual([]);
  });

  it('serves at the path option', async () => {
    const sd = await keep<DiscoveryServer>(prometheus.serveDiscovery({ port: 0, path: '/sd', labels: { service: 'api' } }));
    expect((await fetch(`http://127.0.0.1:${sd.port}/sd`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${sd.port}/targets`)).status).toBe(404);
  });
});

const badDiscovery: readonly { what: string; options: unknown; type: keyof typeof ERRORS; code: string; option: string | undefined }[] = [
  { what: 'no port', options: {}, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'port' },
  { what: 'port 70000', options: { port: 70000 }, type: 'RangeError', code: 'PROBEKIT_OUT_OF_RANGE', option: 'port' },
  { what: "targetHost ''", options: { port: 0, targetHost: '' }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'targetHost' },
  { what: 'a label value that is not a string', options: { port: 0, labels: { service: 1 } }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels.service' },
  { what: 'the worker label', options: { port: 0, labels: { worker: 'x' } }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels.worker' },
  { what: 'a reserved label', options: { port: 0, labels: { __address__: 'x' } }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels.__address__' },
  { what: 'an invalid label name', options: { port: 0, labels: { 'a-b': 'x' } }, type: 'TypeError', code: 'PROBEKIT_INVALID_OPTION', option: 'labels.a-b' },
  { what: 'an unknown option', options: { port: 0, basePort: 9500 }, type: 'TypeError', code: 'PROBEKIT_UNKNOWN_OPTION', option: 'basePort' },
];

describe('bad serveDiscovery() options', () => {
  it.each(badDiscovery)('rejects $what with a $type', async ({ options, type, code, option }) => {
    const err = await rejection(prometheus.serveDiscovery(bad(options)).then(async (s) => (await s.close(), s)));
    expectError(err, { type: ERRORS[type], code, option });
  });
});
