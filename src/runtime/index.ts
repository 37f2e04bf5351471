/**
 * `runtimeMetrics()`: process, V8, event-loop, GC and host metrics registered as probekit
 * probes, so every exporter (Prometheus, StatsD, push, the dashboard) carries them.
 *
 * One sampler per registry. Its only periodic work is the window timer (`unref()`ed): at
 * each window end the event-loop delay histogram is read and reset, event-loop utilisation
 * and the CPU share are computed, and the cumulative sources (CPU time, /proc counters) are
 * sampled. Everything else is read when the metric is read, from calls that measure nothing.
 */
import { defaultRegistry, type Registry, registryOption } from '../probes/probe.js';
import { isExportName } from '../probes/names.js';
import type { Probe } from '../probes/types.js';
import { shared } from '../util/shared.js';
import { describe, is, option, parseOptions, rangeError, typeError } from '../util/validate.js';
import { warnOnce } from '../init/warn.js';
import type { Group, RuntimeNaming } from './common.js';
import { eventLoopGroup } from './eventloop.js';
import { gcGroup } from './gc.js';
import { hostGroup } from './host.js';
import { processGroup } from './process.js';

export type { RuntimeNaming } from './common.js';

/** Options of {@link runtimeMetrics}. */
export interface RuntimeMetricsOptions {
  /**
   * `otel`: OpenTelemetry's runtime conventions in Prometheus form (`nodejs_eventloop_delay_p99_seconds`,
   * `v8js_gc_duration_seconds`, `v8js_memory_heap_used_bytes`…); `classic`: prom-client's default-metric
   * names (`nodejs_eventloop_lag_p99_seconds`, `process_cpu_user_seconds_total`…) for existing dashboards.
   * @default 'otel'
   */
  readonly naming?: RuntimeNaming;
  /** Registry to register into. @default the default `probe` */
  readonly registry?: Probe;
  /** Prepended to every family name as written (`svc_`), like prom-client's `prefix`. @default '' */
  readonly prefix?: string;
  /**
   * Length of a window in ms: the event-loop figures and the CPU share report the last
   * completed window, and cumulative counters are sampled at its end. Set it to your longest
   * scrape or push interval, so no window goes unread. 0: no timer, windows end only on
   * `endWindow()`. @default 15000
   */
  readonly windowMs?: number;
  /**
   * How often the event-loop delay is sampled, in ms. Each sample includes this interval (an
   * idle loop reads about 0.05 s), and the sampling is the sampler's main cost: 10 ms, as
   * prom-client samples, costs about twice as much. A block longer than the interval always shows.
   * @default 50
   */
  readonly eventLoopResolutionMs?: number;
  /** Observe garbage-collection pauses. @default true */
  readonly gc?: boolean;
  /** Host metrics: load average, memory, CPU count, and on Linux disk and network bytes. @default true */
  readonly host?: boolean;
}

/** Runtime metrics running on a registry. */
export interface RuntimeMetrics {
  /**
   * Ends the current window now: the event-loop figures and the CPU share then report it,
   * the counters are sampled, and a new window starts. Does nothing once stopped.
   */
  endWindow(): void;
  /**
   * Stops this handle. The sampling stops (the timer cleared, the delay histogram disabled,
   * the GC observer disconnected) once every handle on the registry is stopped. The families
   * stay registered, as a registry never forgets a probe; the window figures keep the last
   * completed window. Idempotent.
   */
  stop(): void;
}

const MAX_WINDOW_MS = 3_600_000;

const OPTIONS = {
  naming: option(is.oneOf(['otel', 'classic'] as const), 'otel'),
  registry: registryOption,
  prefix: option((where, v) => {
    const prefix = is.string(where, v);
    if (prefix !== '' && !isExportName(prefix)) throw typeError(where, 'a string matching [a-zA-Z_:][a-zA-Z0-9_:]*', prefix);
    return prefix;
  }, ''),
  windowMs: option((where, v) => {
    const ms = is.integer(0, MAX_WINDOW_MS)(where, v);
    if (ms > 0 && ms < 100) throw rangeError(where, `0 (windows end on endWindow() only) or an integer from 100 to ${MAX_WINDOW_MS}`, v);
    return ms;
  }, 15_000),
  eventLoopResolutionMs: option(is.integer(1, 10_000), 50),
  gc: option(is.boolean, true),
  host: option(is.boolean, true),
};

/** The options that decide what a sampler registers and how it runs, as compared between two calls on one registry. */
const COMPARED = ['naming', 'prefix', 'windowMs', 'eventLoopResolutionMs', 'gc', 'host'] as const;
type Settings = { readonly [K in (typeof COMPARED)[number]]: (typeof OPTIONS)[K] extends { check: (...a: never[]) => infer T } ? T : never };

/** A running sampler and how many handles hold it. */
interface Running {
  readonly settings: Settings;
  readonly sampler: Sampler;
  users: number;
  /** True while every user is init()'s default start. */
  byDefault: boolean;
}

/** The sampler running on each registry, shared by every installed copy of this major version. */
const running = shared('runtime', () => new WeakMap<object, Running>());

class Sampler {
  private readonly groups: Group[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last = performance.now();
  private stopped = false;
  private removeCollector: (() => void) | undefined;

  constructor(registry: Registry, settings: Settings) {
    const ctx = { registry, naming: settings.naming, prefix: settings.prefix };
    try {
      this.groups.push(processGroup(ctx), eventLoopGroup(ctx, settings.eventLoopResolutionMs));
      if (settings.gc) this.groups.push(gcGroup(ctx));
      if (settings.host) this.groups.push(hostGroup(ctx));
    } catch (err) {
      // A name clash with the application's own probes: release what was started, then throw.
      this.stop();
      throw err;
    }
    // Counters (CPU seconds, /proc bytes) are also sampled at each read: exact when read.
    this.removeCollector = registry.onCollect(() => {
      if (!this.stopped) for (const g of this.groups) g.collect?.();
    });
    if (settings.windowMs > 0) {
      this.timer = setInterval(() => this.endWindow(), settings.windowMs);
      this.timer.unref();
    }
  }

  endWindow(): void {
    if (this.stopped) return;
    const now = performance.now();
    const elapsed = now - this.last;
    this.last = now;
    for (const g of this.groups) g.endWindow(elapsed);
  }

  stop(): void {
    this.stopped = true;
    this.removeCollector?.();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const g of this.groups) g.stop();
  }
}

/**
 * Registers runtime and host metrics as probes and starts sampling them; see
 * {@link RuntimeMetricsOptions} for the names and the window.
 *
 * A second call on a registry that already runs them starts nothing: it returns another
 * handle on the same sampler (stopped when every handle is), and its options must match.
 *
 * @example
 * import { runtimeMetrics } from 'probekit/runtime';
 * const runtime = runtimeMetrics({ naming: 'classic' });
 * // ... later, in tests or on shutdown:
 * runtime.stop();
 */
export function runtimeMetrics(options?: RuntimeMetricsOptions): RuntimeMetrics {
  return start(options, false);
}

/**
 * @internal The runtime metrics `init()` starts by default (pmx's `custom_probes`, not asked
 * for by name): an application's own `runtimeMetrics()` call with other options then joins
 * them with a warning instead of throwing, since the application did not start them.
 */
export function defaultRuntimeMetrics(options?: RuntimeMetricsOptions): RuntimeMetrics {
  return start(options, true);
}

function start(options: RuntimeMetricsOptions | undefined, byDefault: boolean): RuntimeMetrics {
  const opts = parseOptions('runtimeMetrics()', OPTIONS, options);
  const registry = opts.registry ?? defaultRegistry;
  const settings: Settings = {
    naming: opts.naming,
    prefix: opts.prefix,
    windowMs: opts.windowMs,
    eventLoopResolutionMs: opts.eventLoopResolutionMs,
    gc: opts.gc,
    host: opts.host,
  };
  let current = running.get(registry);
  if (current !== undefined) {
    for (const key of COMPARED) {
      if (current.settings[key] !== settings[key]) {
        if (byDefault || current.byDefault) {
          // One side was started by init() by default: the application is not stopped for it.
          warnOnce(
            `probekit: runtime metrics already run on this registry with ${key} ${describe(current.settings[key])}${current.byDefault ? ' (started by init(): set init({ custom_probes: {...} }) or PROBEKIT_RUNTIME_* to choose them)' : ''}; a call with ${describe(settings[key])} joins them`,
            'PROBEKIT_RUNTIME_RUNNING',
          );
          break;
        }
        throw typeError(
          `runtimeMetrics() option "${key}"`,
          `${describe(current.settings[key]).replace(/ \(\w+\)$/, '')}, as in the runtime metrics already running on this registry (stop() them first to change it)`,
          settings[key],
        );
      }
    }
    current.users++;
    if (!byDefault) current.byDefault = false;
  } else {
    current = { settings, sampler: new Sampler(registry, settings), users: 1, byDefault };
    running.set(registry, current);
  }
  const held = current;
  let stopped = false;
  return {
    endWindow() {
      if (!stopped) held.sampler.endWindow();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (--held.users > 0) return;
      held.sampler.stop();
      if (running.get(registry) === held) running.delete(registry);
    },
  };
}
