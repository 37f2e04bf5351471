import { afterEach, describe, expect, it } from 'vitest';
import { ENV_VARS, init, optionsFromEnv, runtimeMetrics } from '../../src/index.js';
import { bad, expectError, thrown } from '../support/helpers.js';

afterEach(async () => {
  await init().close();
});

describe('optionsFromEnv()', () => {
  it('reads every variable of the table into its section and option', () => {
    expect(
      optionsFromEnv({
        PROBEKIT_SERVICE_NAME: 'mortgage',
        PROBEKIT_HTTP_NAMING: 'classic',
        PROBEKIT_ERRORS_ENABLED: 'false',
        PROBEKIT_RUNTIME_NAMING: 'otel',
        PROBEKIT_NETWORK_ENABLED: 'yes',
        PROBEKIT_PORTS_ENABLED: '1',
        PROBEKIT_PROMETHEUS_PORT: '9464',
        PROBEKIT_PROMETHEUS_HOST: '0.0.0.0',
        PROBEKIT_STATSD_HOST: 'statsd.local',
        PROBEKIT_STATSD_PORT: '8125',
        PROBEKIT_STATSD_TAG_FORMAT: 'dogstatsd',
        PROBEKIT_PUSH_URL: 'http://127.0.0.1:9091',
        PROBEKIT_PUSH_JOB: 'batch',
        PROBEKIT_PUSH_INTERVAL_MS: '15000',
        PROBEKIT_SHUTDOWN_ENABLED: 'on',
        PROBEKIT_ADMIN_PORT: '9465',
        PROBEKIT_ADMIN_TOKEN: 's3cret',
      }),
    ).toEqual({
      serviceName: 'mortgage',
      http: { naming: 'classic' },
      errors: false,
      custom_probes: { naming: 'otel' },
      network: true,
      ports: true,
      prometheus: { port: 9464, host: '0.0.0.0' },
      statsd: { host: 'statsd.local', port: 8125, tagFormat: 'dogstatsd' },
      push: { url: 'http://127.0.0.1:9091', job: 'batch', interval: 15000 },
      handleShutdown: true,
      admin: { port: 9465, token: 's3cret' },
    });
  });

  it('gives nothing for an empty environment, and turns a section off when one of its variables is invalid', () => {
    expect(optionsFromEnv({})).toEqual({});
    expect(optionsFromEnv({ PROBEKIT_PROMETHEUS_PORT: '70000', PROBEKIT_PROMETHEUS_HOST: '0.0.0.0' })).toEqual({ prometheus: false });
    expect(optionsFromEnv({ PROBEKIT_HTTP_ENABLED: 'maybe' })).toEqual({ http: false });
    expect(optionsFromEnv({ PROBEKIT_PUSH_JOB: 'batch' })).toEqual({ push: false });
    expect(optionsFromEnv({ PROBEKIT_PROMETHEUS_ENABLED: 'true' })).toEqual({ prometheus: true });
    expect(optionsFromEnv({ PROBEKIT_PROMETHEUS_ENABLED: 'false', PROBEKIT_PROMETHEUS_PORT: '9464' })).toEqual({ prometheus: false });
    expect(optionsFromEnv({ PROBEKIT_PUSH_FORMAT: 'prometheus', PROBEKIT_PUSH_URL: 'http://127.0.0.1:9091' })).toEqual({ push: { format: 'prometheus', url: 'http://127.0.0.1:9091' } });
  });

  it('warns once about a PROBEKIT_ variable it does not read (a misspelling), and ignores it', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      expect(optionsFromEnv({ PROBEKIT_PROMETHUES_PORT: '9464' })).toEqual({});
      expect(optionsFromEnv({ PROBEKIT_PROMETHUES_PORT: '9464' })).toEqual({});
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.includes('PROBEKIT_PROMETHUES_PORT'))).toEqual([
      'probekit: environment variable PROBEKIT_PROMETHUES_PORT is not one probekit reads (see README, "init() and environment variables"); it is ignored',
    ]);
  });

  it('lists each variable once, all named PROBEKIT_<SECTION>_<OPTION>', () => {
    const names = ENV_VARS.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^PROBEKIT_[A-Z]+_[A-Z_]+$/);
  });
});

describe('init()', () => {
  it('serves /metrics on the port asked, with the runtime metrics, and resolves ready once it listens; the server does not hold the process', async () => {
    const instrumentation = init({ prometheus: { port: 0 }, http: false, errors: false });
    await instrumentation.ready;
    const server = instrumentation.metricsServer;
    expect(server?.host).toBe('127.0.0.1');
    const text = await (await fetch(server?.url ?? '')).text();
    expect(text).toMatch(/^process_memory_usage_bytes \d+$/m);
    expect(server?.server.listening).toBe(true);
    expect((server?.server as unknown as { _handle?: { hasRef(): boolean } })._handle?.hasRef()).toBe(false);
  });

  it('keeps a feature whose options did not change, restarts a changed one and stops a removed one, with no listener twice', async () => {
    const listeners = () => ['uncaughtExceptionMonitor', 'unhandledRejection', 'SIGTERM'].map((e) => process.listenerCount(e));
    const before = listeners() as [number, number, number];
    const first = init({ prometheus: { port: 0 }, handleShutdown: true });
    await first.ready;
    const server = first.metricsServer;
    const once = listeners();
    expect(once).toEqual([before[0] + 1, before[1] + 1, before[2] + 1]);
    init({ prometheus: { port: 0 }, handleShutdown: true });
    await first.ready;
    expect(first.metricsServer).toBe(server);
    expect(listeners()).toEqual(once);
    init({ prometheus: { port: 0, path: '/m' } });
    await first.ready;
    expect(first.metricsServer).not.toBe(server);
    expect(server?.server.listening).toBe(false);
    expect(first.metricsServer?.url.endsWith('/m')).toBe(true);
    expect(listeners()).toEqual([before[0] + 1, before[1] + 1, before[2]]);
    await first.close();
    expect(listeners()).toEqual(before);
    expect(first.metricsServer).toBeUndefined();
  });

  it('starts the admin server with the token asked, not holding the process, and stops it on close()', async () => {
    const instrumentation = init({ admin: { port: 0, token: 's3cret' }, http: false, errors: false });
    await instrumentation.ready;
    const server = instrumentation.adminServer;
    expect(server?.host).toBe('127.0.0.1');
    expect((await fetch(`${server?.url}livez`)).status).toBe(200);
    expect((await fetch(`${server?.url}metrics.json`)).status).toBe(401);
    expect((await fetch(`${server?.url}metrics.json`, { headers: { Authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((server?.server as unknown as { _handle?: { hasRef(): boolean } })._handle?.hasRef()).toBe(false);
    await instrumentation.close();
    expect(server?.server.listening).toBe(false);
    expect(instrumentation.adminServer).toBeUndefined();
  });

  it('throws a TypeError naming an unknown option or a bad one, before anything starts', () => {
    const before = ['uncaughtExceptionMonitor', 'unhandledRejection'].map((e) => process.listenerCount(e));
    expectError(thrown(() => init(bad({ promtheus: { port: 1 } }))), { type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'promtheus' });
    expectError(thrown(() => init(bad({ serviceName: '' }))), { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'serviceName' });
    expectError(thrown(() => init(bad({ prometheus: { port: 'x' } }))), { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'port' });
    expectError(thrown(() => init(bad({ admin: { port: 0, host: '0.0.0.0' } }))), { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'host' });
    expect(thrown(() => init(bad({ http: 'yes' }))).message).toBe('probekit: init() option "http" must be true, false or an options object, got "yes" (string)');
    expect(['uncaughtExceptionMonitor', 'unhandledRejection'].map((e) => process.listenerCount(e))).toEqual(before);
  });

  it("lets the application's own runtimeMetrics() with other options join the ones init() started by default, with a warning instead of a throw", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(String(w.code));
    process.on('warning', onWarning);
    try {
      init({ http: false, errors: false });
      const own = runtimeMetrics({ naming: 'classic' });
      own.stop();
      await new Promise((r) => setImmediate(r));
      expect(warnings).toContain('PROBEKIT_RUNTIME_RUNNING');
      init({ http: false, errors: false, custom_probes: { naming: 'otel' } });
      expectError(thrown(() => runtimeMetrics({ naming: 'classic' })), { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'naming' });
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('warns once and keeps the application running when the metrics server cannot listen', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const blocker = init({ prometheus: { port: 0 }, errors: false, http: false });
      await blocker.ready;
      const port = blocker.metricsServer?.port ?? 0;
      await blocker.close();
      const { createServer } = await import('node:net');
      const taken = createServer().listen(port, '127.0.0.1');
      await new Promise((r) => taken.once('listening', r));
      const second = init({ prometheus: { port }, errors: false, http: false });
      await second.ready;
      await new Promise((r) => setImmediate(r));
      taken.close();
      expect(second.metricsServer).toBeUndefined();
      expect(warnings.filter((w) => w.includes('could not start the metrics server'))).toHaveLength(1);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
