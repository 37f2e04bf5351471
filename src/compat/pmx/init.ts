/**
 * pmx's `init()` options and what they start. The options of pmx 1.6 and @pm2/io are all
 * accepted; probekit models `errors` (@pm2/io: `catchExceptions`), `http` (@pm2/io:
 * `metrics.http`), `custom_probes` (@pm2/io: `metrics.eventLoop`/`metrics.runtime`),
 * `network` and `ports`.
 * The others are accepted, reported to PM2 in `axm:option:configuration`, and otherwise
 * ignored (see README, "PM2").
 */
import { captureProcessErrors } from '../../errors/process.js';
import type { ErrorStore } from '../../errors/store.js';
import { init } from '../../init/init.js';
import { checkObject, is } from '../../util/validate.js';

/** Options of the facade's `init()`: pmx 1.6's and @pm2/io's names. */
export interface PmxInitOptions {
  /** Capture uncaught exceptions and unhandled rejections (see README for how the process still ends). @default true */
  readonly errors?: boolean;
  /** @pm2/io's name for `errors`. @default true */
  readonly catchExceptions?: boolean;
  /** Instrument every node:http server (`instrumentAllServers()`). @default true */
  readonly http?: boolean;
  /** Register PM2's default probes under PM2: `Loop delay`, `Active requests`, `Active handles`. @default true */
  readonly custom_probes?: boolean;
  /** @pm2/io's metric switches: `http` is `http`, `eventLoop`/`runtime` are `custom_probes`; the others are accepted. */
  readonly metrics?: { readonly http?: boolean; readonly eventLoop?: boolean; readonly runtime?: boolean; readonly [other: string]: unknown };
  /** Count the bytes in and out over the process's TCP sockets (`networkMetrics()`). @default false */
  readonly network?: boolean;
  /** List the ports the process listens on (`portMetrics()`). @default false */
  readonly ports?: boolean;
  /** Every other pmx 1.6 or @pm2/io option (`alert_enabled`, `profiling`, `transactions`, `tracing`, …): accepted, sent to PM2, not modelled. */
  readonly [other: string]: unknown;
}

/** What the facade starts, from {@link parseInitOptions}. */
export interface CoreOptions {
  readonly errors: boolean;
  readonly http: boolean;
  readonly customProbes: boolean;
  readonly network?: boolean;
  readonly ports?: boolean;
}

/** The options of pmx 1.6 and @pm2/io that probekit knows (modelled or only accepted). */
export const PMX_INIT_OPTIONS = [
  'errors', 'catchExceptions', 'http', 'custom_probes', 'metrics', 'network', 'ports',
  // accepted, not modelled
  'alert_enabled', 'default_actions', 'transactions', 'http_latency', 'http_code', 'ignore_routes',
  'profiling', 'collectDependencies', 'ignoreFilter', 'excludedHooks', 'v8', 'event_loop_dump', 'deep_metrics', 'module_conf',
  'standalone', 'apmOptions', 'tracing', 'actions', 'apiKey', 'appName', 'level', 'name', 'module_name',
] as const;

const warned = new Set<string>();

function flag(where: string, value: unknown, fallback: boolean): boolean {
  return value === undefined ? fallback : is.boolean(where, value);
}

/**
 * Reads `init()`'s options into what probekit starts. A non-object is a `TypeError`; a
 * modelled switch that is not a boolean is one too; an unknown option is warned about once
 * (`PROBEKIT_PMX_UNKNOWN_OPTION`), never thrown.
 */
export function parseInitOptions(input: unknown): CoreOptions {
  if (input === undefined || input === null) return { errors: true, http: true, customProbes: true, network: false, ports: false };
  const o = checkObject('init() options', input);
  for (const key of Object.keys(o)) {
    if ((PMX_INIT_OPTIONS as readonly string[]).includes(key) || warned.has(key)) continue;
    warned.add(key);
    process.emitWarning(`probekit: pmx init() got the option "${key}", which neither pmx, @pm2/io nor probekit knows; it is ignored`, {
      code: 'PROBEKIT_PMX_UNKNOWN_OPTION',
    });
  }
  const metrics = o.metrics !== null && typeof o.metrics === 'object' ? (o.metrics as Record<string, unknown>) : {};
  const errors = flag('init() option "errors"', o.errors, flag('init() option "catchExceptions"', o.catchExceptions, true));
  const http = flag('init() option "http"', o.http, flag('init() option "metrics.http"', metrics.http, true));
  const eventLoop = flag('init() option "metrics.eventLoop"', metrics.eventLoop, true) && flag('init() option "metrics.runtime"', metrics.runtime, true);
  const customProbes = flag('init() option "custom_probes"', o.custom_probes, eventLoop);
  const network = flag('init() option "network"', o.network, metrics.network === true);
  const ports = flag('init() option "ports"', o.ports, false);
  return { errors, http, customProbes, network, ports };
}

/** The part of `init()`'s options PM2 keeps (`pm2 jlist`, `axm_options`): JSON values only, never `name` (PM2 would rename the app). */
export function configurationFor(input: unknown, core: CoreOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
      if (key === 'name' || key === 'module_name') continue;
      try {
        const text = JSON.stringify(value);
        if (text !== undefined && text.length <= 4096) out[key] = JSON.parse(text) as unknown;
      } catch {
        // a value PM2 could not keep either
      }
    }
  }
  return { ...out, error: core.errors, http: core.http, custom_probes: core.customProbes, probekit: true };
}

/** What {@link startCore} started, to stop it again. */
export interface Started {
  close(): void;
}

/**
 * Starts what `init()`'s options ask for.
 * - `errors`: process capture. When the process already has an `uncaughtException`
 *   listener that decides how it ends (PM2's own agent, which PM2 7 loads into every
 *   fork-mode process, pmx, @pm2/io, or the application's), probekit only observes,
 *   through `uncaughtExceptionMonitor`, and PM2's agent reports the crash itself.
 *   Otherwise `captureProcessErrors()`, which keeps Node's semantics.
 * - `http`, `custom_probes`, `network`, `ports`: probekit's `init()` with the same names
 *   (every node:http server, runtime metrics, socket bytes, listening ports), which also
 *   starts what `PROBEKIT_*` environment variables ask for (a metrics server, StatsD, push).
 */
export function startCore(options: CoreOptions, store: ErrorStore): Started {
  const stops: Array<() => void> = [];
  if (options.errors) {
    if (process.listenerCount('uncaughtException') > 0) {
      const observe = (err: unknown, origin: string): void => {
        store.notify(err, undefined, origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException');
      };
      process.on('uncaughtExceptionMonitor', observe);
      stops.push(() => process.off('uncaughtExceptionMonitor', observe));
      if (process.listenerCount('unhandledRejection') > 0) {
        // The application (or PM2's agent) already decides about rejections: one more
        // listener changes nothing about how the process ends.
        const onRejection = (reason: unknown): void => {
          store.notify(reason, undefined, 'unhandledRejection');
        };
        process.on('unhandledRejection', onRejection);
        stops.push(() => process.off('unhandledRejection', onRejection));
      }
    } else {
      const capture = captureProcessErrors({ store });
      stops.push(() => capture.close());
    }
  }
  if (options.http || options.customProbes || options.network === true || options.ports === true) {
    try {
      const core = init({ errors: false, http: options.http, custom_probes: options.customProbes, network: options.network === true, ports: options.ports === true });
      stops.push(() => void core.close());
    } catch {
      // a feature the process already runs another way (instrumentAllServers() on): left as it is
    }
  }
  return {
    close() {
      for (const stop of stops.splice(0)) stop();
    },
  };
}
