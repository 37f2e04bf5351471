import { createHook } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe, type Probe, prometheus } from '../../src/index.js';
import { runtimeMetrics, type RuntimeMetrics } from '../../src/runtime.js';
import { bad, expectError, thrown } from '../support/helpers.js';
import { value } from './read.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const linux = process.platform === 'linux';

let probes: Probe[] = [];
let handles: RuntimeMetrics[] = [];
afterEach(() => {
  for (const h of handles) h.stop();
  for (const p of probes) p.close();
  handles = [];
  probes = [];
  vi.useRealTimers();
});

function probe(): Probe {
  const p = createProbe();
  probes.push(p);
  return p;
}

function start(options: Parameters<typeof runtimeMetrics>[0]): RuntimeMetrics {
  const h = runtimeMetrics(options);
  handles.push(h);
  return h;
}

/** The `# TYPE` names of a text exposition, probekit's self-metrics left out. */
async function typeNames(p: Probe): Promise<string[]> {
  const text = await prometheus.text({ registry: p });
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string).filter((n) => !n.startsWith('probekit_'));
}

const DELAY = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'];

/**
 * Starts runtime metrics sampling the event-loop delay every millisecond and ends their
 * first window once the delay histogram has samples: the event-loop figures are only set
 * by a window that sampled something, and the delay is sampled in real time (20 ms covers
 * a few samples even on a busy machine).
 */
async function firstWindow(options: Parameters<typeof runtimeMetrics>[0]): Promise<RuntimeMetrics> {
  const h = start({ ...options, windowMs: 0, eventLoopResolutionMs: 1 });
  await new Promise((r) => setTimeout(r, 20));
  h.endWindow();
  return h;
}

describe.runIf(linux)('runtimeMetrics() family names on Linux', () => {
  it("registers OpenTelemetry's runtime names in Prometheus form with naming 'otel' (the default)", async () => {
    const p = probe();
    await firstWindow({ registry: p });
    expect(await typeNames(p)).toEqual([
      'process_cpu_time_seconds_total',
      'process_cpu_core_utilization_ratio',
      'process_memory_usage_bytes',
      'nodejs_memory_external_bytes',
      'nodejs_memory_array_buffers_bytes',
      'v8js_memory_heap_limit_bytes',
      'v8js_memory_heap_used_bytes',
      'v8js_memory_heap_space_available_size_bytes',
      'v8js_memory_heap_space_physical_size_bytes',
      'nodejs_active_resources',
      'process_unix_file_descriptor_count',
      'process_uptime_seconds',
      ...DELAY.map((f) => `nodejs_eventloop_delay_${f}_seconds`),
      'nodejs_eventloop_utilization_ratio',
      'v8js_gc_duration_seconds',
      'system_cpu_load_average_1m',
      'system_cpu_load_average_5m',
      'system_cpu_load_average_15m',
      'system_cpu_logical_count',
      'system_memory_limit_bytes',
      'system_memory_usage_bytes',
      'system_disk_io_bytes_total',
      'system_network_io_bytes_total',
    ]);
  });

  it("registers prom-client's default-metric names with naming 'classic', and keeps the OpenTelemetry names for what prom-client has none for", async () => {
    const p = probe();
    await firstWindow({ registry: p, naming: 'classic' });
    expect(await typeNames(p)).toEqual([
      'process_cpu_user_seconds_total',
      'process_cpu_system_seconds_total',
      'process_cpu_seconds_total',
      'process_cpu_core_utilization_ratio',
      'process_resident_memory_bytes',
      'nodejs_external_memory_bytes',
      'nodejs_array_buffers_bytes',
      'nodejs_heap_size_total_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_heap_space_size_total_bytes',
      'nodejs_heap_space_size_used_bytes',
      'nodejs_heap_space_size_available_bytes',
      'nodejs_active_resources',
      'nodejs_active_resources_total',
      'process_open_fds',
      'process_max_fds',
      'process_start_time_seconds',
      'nodejs_version_info',
      ...DELAY.map((f) => `nodejs_eventloop_lag_${f}_seconds`),
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_utilization_ratio',
      'nodejs_gc_duration_seconds',
      'system_cpu_load_average_1m',
      'system_cpu_load_average_5m',
      'system_cpu_load_average_15m',
      'system_cpu_logical_count',
      'system_memory_limit_bytes',
      'system_memory_usage_bytes',
      'system_disk_io_bytes_total',
      'system_network_io_bytes_total',
    ]);
  });

  it('leaves the GC and host families out with gc: false and host: false, and puts the prefix before every name', async () => {
    const p = probe();
    await firstWindow({ registry: p, gc: false, host: false, prefix: 'svc_' });
    const names = await typeNames(p);
    expect(names.filter((n) => n.includes('gc') || n.startsWith('svc_system_'))).toEqual([]);
    expect(names.filter((n) => !n.startsWith('svc_'))).toEqual([]);
    expect(names).toHaveLength(20);
  });
});

describe('runtimeMetrics() options', () => {
  const rows: ReadonlyArray<{ what: string; options: unknown; type: typeof TypeError | typeof RangeError; code: string; option: string | undefined }> = [
    { what: 'a number instead of options', options: 5, type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT', option: undefined },
    { what: "naming: 'prom'", options: { naming: 'prom' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'naming' },
    { what: 'registry: {}', options: { registry: {} }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'registry' },
    { what: "prefix: '1x'", options: { prefix: '1x' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'prefix' },
    { what: 'prefix: 5', options: { prefix: 5 }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'prefix' },
    { what: "windowMs: '1000'", options: { windowMs: '1000' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'windowMs' },
    { what: 'windowMs: 50', options: { windowMs: 50 }, type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'windowMs' },
    { what: 'windowMs: -1', options: { windowMs: -1 }, type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'windowMs' },
    { what: 'windowMs: 1500.5', options: { windowMs: 1500.5 }, type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'windowMs' },
    { what: 'eventLoopResolutionMs: 0', options: { eventLoopResolutionMs: 0 }, type: RangeError, code: 'PROBEKIT_OUT_OF_RANGE', option: 'eventLoopResolutionMs' },
    { what: "gc: 'yes'", options: { gc: 'yes' }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'gc' },
    { what: 'host: 1', options: { host: 1 }, type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'host' },
    { what: 'an unknown option', options: { interval: 1000 }, type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'interval' },
  ];

  it.each(rows)('rejects $what with a probekit error naming the option', ({ options, type, code, option }) => {
    const err = thrown(() => runtimeMetrics(bad(options)));
    expectError(err, { type, code, option });
    expect(err.message.startsWith('probekit: runtimeMetrics()')).toBe(true);
  });

  it('registers nothing and starts nothing when the options are rejected', () => {
    const p = probe();
    thrown(() => runtimeMetrics(bad({ registry: p, windowMs: 50 })));
    expect(p.snapshot().metrics.filter((m) => !m.exportName.startsWith('probekit_'))).toEqual([]);
    // The registry is free: a valid call with other options works.
    start({ registry: p, naming: 'classic', windowMs: 0 });
  });

  it('throws a name clash, and starts nothing, when the application already registered a runtime name', () => {
    const p = probe();
    p.metric({ name: 'nodejs_eventloop_utilization_ratio', value: 1 });
    const before = process.getActiveResourcesInfo().sort();
    const err = thrown(() => runtimeMetrics({ registry: p, windowMs: 1000 }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_NAME_CONFLICT' });
    expect(process.getActiveResourcesInfo().sort()).toEqual(before);
    // Nothing is left running on the registry: the next call fails the same way instead of sharing a sampler.
    expectError(thrown(() => runtimeMetrics({ registry: p, windowMs: 1000 })), { type: TypeError, code: 'PROBEKIT_NAME_CONFLICT' });
  });
});

describe('runtimeMetrics() called twice on one registry', () => {
  it('returns another handle on the one sampler: one timer, each family once, running until every handle is stopped', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const p = probe();
    // gc: false: the GC histogram would start the registry's own shared ticker, another interval.
    const first = start({ registry: p, windowMs: 1000, gc: false });
    const names = p.snapshot().metrics.map((m) => m.exportName);
    const second = start({ registry: p, windowMs: 1000, gc: false });
    expect(vi.getTimerCount()).toBe(1);
    expect(p.snapshot().metrics.map((m) => m.exportName)).toEqual(names);
    first.stop();
    first.stop(); // idempotent: does not count as the second handle's stop
    expect(vi.getTimerCount()).toBe(1);
    second.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects a second call whose options differ, naming the option and the running value', () => {
    const p = probe();
    start({ registry: p, windowMs: 0 });
    const err = thrown(() => runtimeMetrics({ registry: p, windowMs: 0, naming: 'classic' }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'naming' });
    expect(err.message).toBe(
      'probekit: runtimeMetrics() option "naming" must be "otel", as in the runtime metrics already running on this registry (stop() them first to change it), got "classic" (string)',
    );
  });

  it('starts afresh after every handle was stopped, going on from the counts already recorded', () => {
    const p = probe();
    start({ registry: p, windowMs: 0 }).stop();
    const before = value(p, 'process_cpu_time_seconds', { cpu_mode: 'user' });
    const h = start({ registry: p, windowMs: 0 });
    h.endWindow();
    const after = value(p, 'process_cpu_time_seconds', { cpu_mode: 'user' });
    // Not doubled: the second sampler adds only the CPU time used since the first one's last sample.
    expect(after).toBeGreaterThanOrEqual(before);
    expect(after).toBeLessThanOrEqual(process.cpuUsage().user / 1e6);
  });
});

describe('The window timer', () => {
  it('ends a window every windowMs, unref()ed', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const p = probe();
    start({ registry: p, windowMs: 5000, gc: false });
    expect(p.snapshot().metrics.find((m) => m.exportName === 'nodejs_eventloop_utilization_ratio')?.series).toEqual([]);
    const timer = vi.getTimerCount();
    expect(timer).toBe(1);
    vi.advanceTimersByTime(5000);
    expect(value(p, 'nodejs_eventloop_utilization_ratio')).toBeGreaterThanOrEqual(0);
  });

  it('is not started with windowMs: 0', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    start({ registry: probe(), windowMs: 0, gc: false });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('stop()', () => {
  it('leaves the active resources as they were before the start', () => {
    const before = process.getActiveResourcesInfo().sort();
    const h = runtimeMetrics({ registry: probe(), windowMs: 1000 });
    h.stop();
    expect(process.getActiveResourcesInfo().sort()).toEqual(before);
  });

  it('destroys every async resource the start created but the disabled delay histogram object, which only GC frees', async () => {
    const created = new Map<number, string>();
    const destroyed = new Set<number>();
    const hook = createHook({
      init: (id, type) => void created.set(id, type),
      destroy: (id) => void destroyed.add(id),
    }).enable();
    try {
      // gc: false: the GC histogram's window runs on the registry's shared ticker, which is the registry's to stop (close()).
      const h = runtimeMetrics({ registry: probe(), windowMs: 1000, gc: false });
      h.endWindow(); // starts the window's one-shot boundary timer too
      const made = new Map(created);
      h.stop();
      // Destroy hooks run after the current turn: a few turns at most.
      for (let i = 0; i < 20 && [...made].some(([id, type]) => type === 'Timeout' && !destroyed.has(id)); i++) await new Promise((r) => setImmediate(r));
      expect([...made.values()].sort()).toEqual(['ELDHISTOGRAM', 'Timeout', 'Timeout']);
      expect([...made].filter(([id]) => !destroyed.has(id)).map(([, type]) => type)).toEqual(['ELDHISTOGRAM']);
    } finally {
      hook.disable();
    }
  });

  it('keeps nothing alive: a process that only starts runtime metrics (15 s windows) ends at once', () => {
    const program = "import { runtimeMetrics } from './dist/runtime.js'; runtimeMetrics(); console.log('started');";
    const t0 = Date.now();
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', program], { cwd: root, encoding: 'utf8', timeout: 10_000 });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: 'started\n', stderr: '' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
