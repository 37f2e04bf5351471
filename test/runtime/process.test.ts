import { openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';
import { runtimeMetrics, type RuntimeMetrics } from '../../src/runtime.js';
import { activeResources, parseMaxFds } from '../../src/runtime/process.js';
import { series, value } from './read.js';

const linux = process.platform === 'linux';
const MiB = 1024 * 1024;

let p: Probe;
let h: RuntimeMetrics;
afterEach(() => {
  h.stop();
  p.close();
});

function start(naming: 'otel' | 'classic'): void {
  p = createProbe();
  h = runtimeMetrics({ registry: p, naming, windowMs: 0, gc: false, host: false });
}

describe('CPU', () => {
  it('samples user and system CPU seconds at each read, between process.cpuUsage() read just before and just after', () => {
    start('otel');
    h.endWindow();
    for (let i = 0; i < 1e6; i++) Math.sqrt(i); // some CPU after the window end: a read must still see it
    const before = process.cpuUsage();
    const snap = p.snapshot();
    const after = process.cpuUsage();
    const user = value(snap, 'process_cpu_time_seconds', { cpu_mode: 'user' });
    const system = value(snap, 'process_cpu_time_seconds', { cpu_mode: 'system' });
    expect(user >= before.user / 1e6 && user <= after.user / 1e6).toBe(true);
    expect(system >= before.system / 1e6 && system <= after.system / 1e6).toBe(true);
  });

  it('reports user, system and their sum under the classic names, the sum exactly user + system', () => {
    start('classic');
    for (let i = 0; i < 3; i++) h.endWindow();
    const snap = p.snapshot();
    const user = value(snap, 'process_cpu_user_seconds');
    const system = value(snap, 'process_cpu_system_seconds');
    expect(value(snap, 'process_cpu_seconds')).toBeCloseTo(user + system, 9);
    expect(user).toBeLessThanOrEqual(process.cpuUsage().user / 1e6);
  });

  it('reports the share of a core the process used over the window: a busy window reads as the CPU time it burned per wall-clock time', () => {
    start('otel');
    h.endWindow();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < 200) {
      // a busy window: one core, all the time
    }
    h.endWindow();
    const cpu = process.cpuUsage(cpu0);
    const expected = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
    expect(Math.abs(value(p, 'process_cpu_core_utilization_ratio') - expected)).toBeLessThan(0.05);
  });
});

describe('Memory', () => {
  // The heap and RSS move with every allocation, the read's own included: the figures are
  // compared with process.memoryUsage() read right after, within what a read allocates.
  it('reports RSS, external and array buffer memory as process.memoryUsage() does (otel names)', () => {
    start('otel');
    const rss = value(p, 'process_memory_usage_bytes');
    const external = value(p, 'nodejs_memory_external_bytes');
    const buffers = value(p, 'nodejs_memory_array_buffers_bytes');
    const m = process.memoryUsage();
    expect(Math.abs(rss - m.rss)).toBeLessThan(4 * MiB);
    expect(Math.abs(external - m.external)).toBeLessThan(64 * 1024);
    expect(Math.abs(buffers - m.arrayBuffers)).toBeLessThan(64 * 1024);
  });

  it('reports heap total and used as process.memoryUsage() does (classic names)', () => {
    start('classic');
    const total = value(p, 'nodejs_heap_size_total_bytes');
    const used = value(p, 'nodejs_heap_size_used_bytes');
    const m = process.memoryUsage();
    expect(Math.abs(total - m.heapTotal)).toBeLessThan(MiB);
    expect(Math.abs(used - m.heapUsed)).toBeLessThan(MiB);
    expect(Math.abs(value(p, 'process_resident_memory_bytes') - m.rss)).toBeLessThan(4 * MiB);
    expect(Math.abs(value(p, 'nodejs_external_memory_bytes') - m.external)).toBeLessThan(64 * 1024);
  });

  it("reports every V8 heap space under V8's names (otel), whose used sizes add up to the heap used", () => {
    start('otel');
    const used = series(p, 'v8js_memory_heap_used_bytes');
    const heapUsed = process.memoryUsage().heapUsed;
    expect(Object.keys(used)).toEqual(getHeapSpaceStatistics().map((s) => JSON.stringify({ v8js_heap_space_name: s.space_name })));
    expect(Math.abs(Object.values(used).reduce((a, b) => a + b, 0) - heapUsed)).toBeLessThan(MiB);
    expect(Object.keys(series(p, 'v8js_memory_heap_limit_bytes'))).toEqual(Object.keys(used));
  });

  it("reports every V8 heap space under prom-client's space names (classic), without the _space suffix", () => {
    start('classic');
    expect(Object.keys(series(p, 'nodejs_heap_space_size_total_bytes'))).toEqual(
      getHeapSpaceStatistics().map((s) => JSON.stringify({ space: s.space_name.replace(/_space$/, '') })),
    );
  });
});

describe('Active resources', () => {
  it('counts process.getActiveResourcesInfo() by type, and sees a listening server as one more TCPServerWrap', async () => {
    start('classic');
    const count = (): number => series(p, 'nodejs_active_resources')['{"type":"TCPServerWrap"}'] ?? 0;
    const before = count();
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      expect(count()).toBe(before + 1);
      const got = series(p, 'nodejs_active_resources');
      expect(got).toEqual(Object.fromEntries(activeResources().map(([labels, n]) => [JSON.stringify(labels), n])));
      expect(value(p, 'nodejs_active_resources_total')).toBe(process.getActiveResourcesInfo().length);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe.runIf(linux)('File descriptors on Linux', () => {
  it('reports the open descriptors exactly as /proc/self/fd lists them, less the listing’s own', () => {
    start('otel');
    expect(value(p, 'process_unix_file_descriptor_count')).toBe(readdirSync('/proc/self/fd').length - 1);
  });

  it('sees a file opened as one more descriptor (classic name)', () => {
    start('classic');
    const before = value(p, 'process_open_fds');
    const fd = openSync('/proc/self/status', 'r');
    try {
      expect(value(p, 'process_open_fds')).toBe(before + 1);
    } finally {
      closeSync(fd);
    }
  });

  it("reports the soft limit of /proc/self/limits as process_max_fds", () => {
    start('classic');
    expect(value(p, 'process_max_fds')).toBe(parseMaxFds(readFileSync('/proc/self/limits', 'utf8')));
  });
});

describe('parseMaxFds()', () => {
  it('reads the soft limit of the "Max open files" line', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             127535               127535               processes ',
      'Max open files            1024                 524288               files     ',
    ].join('\n');
    expect(parseMaxFds(limits)).toBe(1024);
  });

  it('gives undefined for an unlimited soft limit and for text without the line', () => {
    expect(parseMaxFds('Max open files            unlimited            unlimited            files     ')).toBe(undefined);
    expect(parseMaxFds('')).toBe(undefined);
  });
});

describe('Process identity', () => {
  it('reports the start time (classic) and the uptime (otel) as process.uptime() gives them', () => {
    start('classic');
    expect(Math.abs(value(p, 'process_start_time_seconds') - (Date.now() / 1000 - process.uptime()))).toBeLessThan(0.05);
    h.stop();
    p.close();
    start('otel');
    expect(Math.abs(value(p, 'process_uptime_seconds') - process.uptime())).toBeLessThan(0.05);
  });

  it("reports the Node.js version as nodejs_version_info's labels (classic)", () => {
    start('classic');
    const [major, minor, patch] = process.version.slice(1).split('.');
    expect(series(p, 'nodejs_version_info')).toEqual({ [JSON.stringify({ version: process.version, major, minor, patch })]: 1 });
  });
});
