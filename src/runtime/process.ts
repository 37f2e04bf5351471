/**
 * Process metrics: CPU time (a counter sampled at each read and window end) and the share of a core
 * it was over the window, resident memory, the V8 heap (totals and per space), external
 * and array buffer memory, active resources by type (`process.getActiveResourcesInfo()`,
 * no private API), open file descriptors on Linux, start time or uptime, and (classic) the
 * Node.js version. Everything but CPU is read when the metric is read, from calls that
 * cost microseconds and measure nothing.
 */
import { nodeFs, nodeV8 } from '../util/lazy.js';
import type { MonotonicCounter } from '../probes/types.js';
import { advance, type Group, type GroupContext, lastGood, quietPairs } from './common.js';

type Pair<L extends string> = readonly [Readonly<Record<L, string>>, number];

/** Counts of `process.getActiveResourcesInfo()` by type, as `[labels, count]` pairs. */
export function activeResources(): Array<Pair<'type'>> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return [...counts].map(([type, n]) => [{ type }, n] as const);
}

/** Open file descriptors from `/proc/self/fd`, less the one the listing itself holds open. */
export function openFds(): number {
  return nodeFs().readdirSync('/proc/self/fd').length - 1;
}

/** The soft limit of open files from `/proc/self/limits` text; `undefined` when absent or unlimited. */
export function parseMaxFds(limits: string): number | undefined {
  for (const line of limits.split('\n')) {
    if (!line.startsWith('Max open files')) continue;
    const soft = Number(line.slice('Max open files'.length).trim().split(/\s+/)[0]);
    return Number.isFinite(soft) ? soft : undefined;
  }
  return undefined;
}

/** Registers the process metrics; CPU is sampled now and at every window end. */
export function processGroup(ctx: GroupContext): Group {
  const { registry: p, naming, prefix } = ctx;
  const otel = naming === 'otel';
  const v8 = nodeV8();
  const name = (n: string): string => prefix + n;

  // CPU: cumulative counters, and the share of one core over the window.
  const cpu: Array<[MonotonicCounter<string>, (u: NodeJS.CpuUsage) => number]> = [];
  if (otel) {
    const time = p.counter({ name: name('process_cpu_time_seconds'), monotonic: true, labels: ['cpu_mode'], help: 'CPU time of this process by mode' });
    cpu.push([time.labels({ cpu_mode: 'user' }), (u) => u.user], [time.labels({ cpu_mode: 'system' }), (u) => u.system]);
  } else {
    const counter = (n: string, help: string): MonotonicCounter<string> => p.counter({ name: name(n), monotonic: true, help }) as MonotonicCounter<string>;
    cpu.push(
      [counter('process_cpu_user_seconds', 'User CPU time of this process'), (u) => u.user],
      [counter('process_cpu_system_seconds', 'System CPU time of this process'), (u) => u.system],
      [counter('process_cpu_seconds', 'User and system CPU time of this process'), (u) => u.user + u.system],
    );
  }
  const coreRatio = p.metric({
    name: name('process_cpu_core_utilization_ratio'),
    help: 'CPU time of this process over the last completed window per wall-clock time: 1 is one core fully busy (more with worker threads)',
  });
  let lastCpu = process.cpuUsage();
  const sampleCpu = (): NodeJS.CpuUsage => {
    const usage = process.cpuUsage();
    for (const [series, pick] of cpu) advance(series, pick(usage) / 1e6);
    return usage;
  };
  sampleCpu();

  // Memory: RSS and array buffers need process.memoryUsage(), which reads /proc and can
  // fail (out of descriptors); the heap figures come from V8, which cannot.
  const rss = lastGood(() => process.memoryUsage.rss());
  if (rss !== undefined) p.metric({ name: name(otel ? 'process_memory_usage_bytes' : 'process_resident_memory_bytes'), help: 'Resident set size of this process', value: rss });
  const external = (): number => v8.getHeapStatistics().external_memory;
  p.metric({ name: name(otel ? 'nodejs_memory_external_bytes' : 'nodejs_external_memory_bytes'), help: 'Memory of C++ objects bound to JavaScript objects managed by V8', value: external });
  const arrayBuffers = lastGood(() => process.memoryUsage().arrayBuffers);
  if (arrayBuffers !== undefined) {
    p.metric({ name: name(otel ? 'nodejs_memory_array_buffers_bytes' : 'nodejs_array_buffers_bytes'), help: 'Memory of ArrayBuffers and SharedArrayBuffers, Buffers included', value: arrayBuffers });
  }
  const spaces = (pick: (s: import('node:v8').HeapSpaceInfo) => number, label: 'v8js_heap_space_name' | 'space') =>
    quietPairs(() =>
      v8.getHeapSpaceStatistics().map((s) => {
        // prom-client names a space without its `_space` suffix; OpenTelemetry keeps V8's name.
        const space = label === 'space' ? s.space_name.replace(/_space$/, '') : s.space_name;
        return [{ [label]: space } as Record<typeof label, string>, pick(s)] as const;
      }),
    );
  if (otel) {
    const perSpace = (n: string, help: string, pick: (s: import('node:v8').HeapSpaceInfo) => number): void => {
      p.metric({ name: name(n), help, labels: ['v8js_heap_space_name'], value: spaces(pick, 'v8js_heap_space_name') });
    };
    perSpace('v8js_memory_heap_limit_bytes', 'Size of each V8 heap space', (s) => s.space_size);
    perSpace('v8js_memory_heap_used_bytes', 'Memory used in each V8 heap space', (s) => s.space_used_size);
    perSpace('v8js_memory_heap_space_available_size_bytes', 'Memory still available in each V8 heap space', (s) => s.space_available_size);
    perSpace('v8js_memory_heap_space_physical_size_bytes', 'Memory committed to each V8 heap space', (s) => s.physical_space_size);
  } else {
    p.metric({ name: name('nodejs_heap_size_total_bytes'), help: 'Size of the V8 heap', value: () => v8.getHeapStatistics().total_heap_size });
    p.metric({ name: name('nodejs_heap_size_used_bytes'), help: 'Memory used in the V8 heap', value: () => v8.getHeapStatistics().used_heap_size });
    const perSpace = (n: string, help: string, pick: (s: import('node:v8').HeapSpaceInfo) => number): void => {
      p.metric({ name: name(n), help, labels: ['space'], value: spaces(pick, 'space') });
    };
    perSpace('nodejs_heap_space_size_total_bytes', 'Size of each V8 heap space', (s) => s.space_size);
    perSpace('nodejs_heap_space_size_used_bytes', 'Memory used in each V8 heap space', (s) => s.space_used_size);
    perSpace('nodejs_heap_space_size_available_bytes', 'Memory still available in each V8 heap space', (s) => s.space_available_size);
  }

  // Active resources: what keeps the event loop alive, by type.
  p.metric({ name: name('nodejs_active_resources'), help: 'Resources keeping the event loop alive, by type (process.getActiveResourcesInfo())', labels: ['type'], value: quietPairs(activeResources) });
  if (!otel) {
    // prom-client's name; a gauge, though promtool expects `_total` on counters only.
    p.metric({ name: name('nodejs_active_resources_total'), help: 'Resources keeping the event loop alive', value: () => process.getActiveResourcesInfo().length });
  }

  // File descriptors, where /proc/self/fd exists (Linux).
  const fds = process.platform === 'linux' ? lastGood(openFds) : undefined;
  if (fds !== undefined) p.metric({ name: name(otel ? 'process_unix_file_descriptor_count' : 'process_open_fds'), help: 'Open file descriptors of this process', value: fds });
  if (!otel && fds !== undefined) {
    let max: number | undefined;
    try {
      max = parseMaxFds(nodeFs().readFileSync('/proc/self/limits', 'utf8'));
    } catch {
      max = undefined;
    }
    if (max !== undefined) p.metric({ name: name('process_max_fds'), help: 'Most file descriptors this process may open (soft limit)', value: max });
  }

  // Start time (classic) or uptime (OpenTelemetry), and the Node.js version (classic).
  if (otel) p.metric({ name: name('process_uptime_seconds'), help: 'Time since this process started', value: () => process.uptime() });
  else {
    p.metric({ name: name('process_start_time_seconds'), help: 'Start time of this process, in seconds since the Unix epoch', value: (Date.now() - process.uptime() * 1000) / 1000 });
    const [major = '', minor = '', patch = ''] = process.version.slice(1).split('.');
    p.metric({ name: name('nodejs_version_info'), help: 'Node.js version', labels: ['version', 'major', 'minor', 'patch'] }).labels({ version: process.version, major, minor, patch }).set(1);
  }

  return {
    endWindow(elapsedMs) {
      try {
        const usage = sampleCpu();
        if (elapsedMs > 0) coreRatio.set((usage.user - lastCpu.user + usage.system - lastCpu.system) / 1000 / elapsedMs);
        lastCpu = usage;
      } catch {
        // process.cpuUsage() failing: this window is skipped
      }
    },
    collect() {
      try {
        sampleCpu();
      } catch {
        // process.cpuUsage() failing: the counters keep their last sample
      }
    },
    stop() {},
  };
}
