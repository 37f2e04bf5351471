/**
 * `init()`: one call, or environment variables alone, instruments a process: errors,
 * every node:http server, runtime, network and port metrics, and the exporters. Its
 * option names and meanings are pmx's (`http`, `errors`, `custom_probes`, `network`,
 * `ports`) plus probekit's own. It is synchronous, as pmx's is; exporters that start
 * asynchronously (a metrics server's listen) finish later, and `ready` says when.
 *
 * Calling it again reconfigures: a feature whose options did not change keeps running, a
 * changed one is stopped and started anew, a removed one is stopped. Nothing runs twice.
 */
import { captureProcessErrors, type CaptureOptions } from '../errors/process.js';
import { httpPush, type PushOptions } from '../exporters/push/index.js';
import { checkServeOptions, serve, type MetricsServer, type ServeOptions } from '../exporters/prometheus/http.js';
import { statsd, type StatsdOptions } from '../exporters/statsd/index.js';
import { handleShutdown, type HandleShutdownOptions } from '../lifecycle/shutdown.js';
import { instrumentAllServers, type InstrumentAllOptions } from '../middleware/http.js';
import { defaultRuntimeMetrics, runtimeMetrics, type RuntimeMetricsOptions } from '../runtime/index.js';
import { networkMetrics } from '../runtime/network.js';
import { portMetrics } from '../runtime/ports.js';
import { admin, type AdminOptions, type AdminServer, checkAdminOptions } from '../admin/server.js';
import { checkObject, invalid, is, ProbekitRangeError, ProbekitTypeError, typeError } from '../util/validate.js';
import { optionsFromEnv } from './env.js';
import { warnOnce } from './warn.js';

/** Options of {@link init}; every one can also come from an environment variable (see README, "init() and environment variables"). */
export interface InitOptions {
  /** The service's name: the push payload's `service.name`. @default the environment's, else none */
  readonly serviceName?: string;
  /** Count and time the requests of every node:http/https server (`instrumentAllServers()`). @default true */
  readonly http?: boolean | InstrumentAllOptions;
  /** Capture uncaught exceptions and unhandled rejections (`captureProcessErrors()`). @default true */
  readonly errors?: boolean | CaptureOptions;
  /** Runtime and host metrics (`runtimeMetrics()`): pmx's name for its default probes. @default true */
  readonly custom_probes?: boolean | RuntimeMetricsOptions;
  /** Bytes in and out over the process's TCP sockets (`networkMetrics()`). @default false */
  readonly network?: boolean;
  /** The TCP ports the process listens on (`portMetrics()`). @default false */
  readonly ports?: boolean;
  /** Serve `/metrics` (`prometheus.serve()`); `true` is port 9464 on 127.0.0.1. @default off */
  readonly prometheus?: boolean | Partial<ServeOptions>;
  /** Send to StatsD (`statsd()`); `true` is its defaults (127.0.0.1:8125). @default off */
  readonly statsd?: boolean | StatsdOptions;
  /** Push over HTTP (`httpPush()`); needs at least `url`. @default off */
  readonly push?: false | PushOptions;
  /** Finish cleanly on SIGTERM and SIGINT (`handleShutdown()`). @default false */
  readonly handleShutdown?: boolean | HandleShutdownOptions;
  /** Serve the admin server (`admin.serve()`); `true` is port 9465 on 127.0.0.1. @default off */
  readonly admin?: boolean | Partial<AdminOptions>;
}

/** What {@link init} returns. */
export interface Instrumentation {
  /** Resolves when what started asynchronously (a metrics server) is up, or failed and was reported; never rejects. */
  readonly ready: Promise<void>;
  /** The metrics server, once `ready` resolved, when `prometheus` is on and it started. */
  readonly metricsServer: MetricsServer | undefined;
  /** The admin server, once `ready` resolved, when `admin` is on and it started. */
  readonly adminServer: AdminServer | undefined;
  /** Stops everything this `init()` (and any earlier one) started; resolves when servers are closed. */
  close(): Promise<void>;
}

/** The default port of a Prometheus exporter (OpenTelemetry's, free of the common app ports). */
export const DEFAULT_PROMETHEUS_PORT = 9464;

/** The default port of the admin server `init({ admin: true })` starts: the next one. */
export const DEFAULT_ADMIN_PORT = 9465;

type Section = Exclude<keyof InitOptions, 'serviceName'>;

/** A running feature and the options it was started with. */
interface Running {
  readonly key: string;
  /** Stops it; a promise when the stop is asynchronous (a server's close). */
  stop(): void | Promise<void>;
}

const running = new Map<Section, Running>();
let metricsServer: MetricsServer | undefined;
let adminServer: AdminServer | undefined;
/** Settles when the last restart of the metrics server is done. */
let serverWork: Promise<void> = Promise.resolve();

/** A stable text for comparing options: functions and objects such as agents by identity. */
function keyOf(value: unknown): string {
  const ids = new Map<unknown, number>();
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'function' || (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype)) {
      if (!ids.has(v)) ids.set(v, identity(v));
      return `#${String(ids.get(v))}`;
    }
    return v;
  });
}

const identities = new WeakMap<object, number>();
let nextIdentity = 1;
function identity(v: unknown): number {
  const o = v as object;
  let id = identities.get(o);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(o, id);
  }
  return id;
}

/** Options of a section that is on, or `undefined` when it is off. */
function sectionOptions<T extends object>(value: boolean | T | undefined, fallback: boolean): T | Record<string, never> | undefined {
  if (value === undefined) return fallback ? {} : undefined;
  if (value === false) return undefined;
  if (value === true) return {};
  return value;
}

/**
 * Instruments the process in one call, with pmx's option names: `http`, `errors`,
 * `custom_probes` (runtime metrics), `network`, `ports`, and probekit's `prometheus`,
 * `statsd`, `push`, `handleShutdown`, `serviceName`. A section the code leaves out is
 * read from the environment (`PROBEKIT_<SECTION>_<OPTION>`, see `optionsFromEnv()`);
 * an invalid variable warns once and leaves its feature off. Invalid options given in
 * code throw a `TypeError`, as every probekit option does.
 *
 * @example
 * import { init } from 'probekit';
 * const instrumentation = init({ prometheus: { port: 9464 }, network: true });
 * await instrumentation.ready; // /metrics answers on :9464
 */
export function init(options: InitOptions = {}): Instrumentation {
  const given = checkObject('init() options', options) as InitOptions;
  for (const key of Object.keys(given)) {
    if (!KNOWN.has(key)) throw invalid(`probekit: init() got the option "${key}", which it does not know; known: ${[...KNOWN].join(', ')}`, 'PROBEKIT_UNKNOWN_OPTION', key);
  }
  const env = optionsFromEnv(process.env);
  const pick = <K extends keyof InitOptions>(k: K): InitOptions[K] => (given[k] !== undefined ? given[k] : env[k]);
  const serviceName = pick('serviceName');
  if (serviceName !== undefined) is.nonEmpty('init() option "serviceName"', serviceName);

  const push = pick('push');
  const wanted: Record<Section, object | undefined> = {
    errors: sectionOptions(pick('errors'), true),
    http: sectionOptions(pick('http'), true),
    custom_probes: sectionOptions(pick('custom_probes'), true),
    network: sectionOptions(pick('network'), false),
    ports: sectionOptions(pick('ports'), false),
    prometheus: sectionOptions(pick('prometheus'), false),
    statsd: sectionOptions(pick('statsd'), false),
    push: push === undefined || push === false ? undefined : serviceName !== undefined && push.service?.name === undefined ? { ...push, service: { ...push.service, name: serviceName } } : push,
    handleShutdown: sectionOptions(pick('handleShutdown'), false),
    admin: sectionOptions(pick('admin'), false),
  };

  // Check every section first: code errors throw before anything starts or stops.
  const starters = new Map<Section, () => Running>();
  for (const section of SECTIONS) {
    const opts = wanted[section];
    if (opts === undefined) continue;
    const key = keyOf(opts);
    if (running.get(section)?.key === key) continue;
    // Runtime metrics nobody configured (on by default, or just `true`) give way to the application's own call.
    const byDefault = section === 'custom_probes' && (pick('custom_probes') === undefined || pick('custom_probes') === true);
    try {
      starters.set(section, prepare(section, opts, key, byDefault));
    } catch (err) {
      if (given[section] !== undefined) throw err;
      // From the environment: that feature stays off, the application starts.
      warnOnce(`probekit: the PROBEKIT_* variables of "${section}" give an invalid option: ${err instanceof Error ? err.message : String(err)}; "${section}" stays off`, 'PROBEKIT_INVALID_ENV');
      wanted[section] = undefined;
    }
  }
  for (const section of SECTIONS) {
    const current = running.get(section);
    if (current === undefined) continue;
    if (wanted[section] === undefined || starters.has(section)) {
      running.delete(section);
      stopFeature(section, current);
    }
  }
  let badOption: unknown;
  for (const [section, start] of starters) {
    try {
      running.set(section, start());
    } catch (err) {
      // Options given in code are checked like every probekit option: the first bad one is
      // thrown once the rest started; from the environment, a warning.
      if (given[section] !== undefined && (err instanceof ProbekitTypeError || err instanceof ProbekitRangeError)) badOption ??= err;
      else warnOnce(`probekit: init() could not start "${section}": ${err instanceof Error ? err.message : String(err)}`, 'PROBEKIT_INIT');
    }
  }
  if (badOption !== undefined) throw badOption;
  return handle;
}

/** One handle for every init() call: the process has one configuration. */
const handle: Instrumentation = {
  get ready(): Promise<void> {
    return serverWork;
  },
  get metricsServer(): MetricsServer | undefined {
    return metricsServer;
  },
  get adminServer(): AdminServer | undefined {
    return adminServer;
  },
  async close(): Promise<void> {
    for (const section of [...running.keys()].reverse()) {
      const current = running.get(section) as Running;
      running.delete(section);
      stopFeature(section, current);
    }
    await serverWork;
  },
};

function stopFeature(section: Section, current: Running): void {
  try {
    const stopped = current.stop();
    if ((section === 'prometheus' || section === 'admin') && stopped instanceof Promise) serverWork = serverWork.then(() => stopped).catch(() => undefined);
  } catch {
    // a feature that fails to stop is gone from the configuration anyway
  }
}

const SECTIONS: readonly Section[] = ['handleShutdown', 'errors', 'http', 'custom_probes', 'network', 'ports', 'prometheus', 'statsd', 'push', 'admin'];
const KNOWN = new Set<string>(['serviceName', ...SECTIONS]);

/** Checks a section's options now (throwing on bad ones) and returns what starts it. */
function prepare(section: Section, opts: object, key: string, byDefault: boolean): () => Running {
  const where = `init() option "${section}"`;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw typeError(where, section === 'push' ? 'false or an options object with "url"' : 'true, false or an options object', opts);
  switch (section) {
    case 'errors':
      return () => {
        const capture = captureProcessErrors(opts as CaptureOptions);
        return { key, stop: () => capture.close() };
      };
    case 'http':
      return () => {
        const all = instrumentAllServers(opts as InstrumentAllOptions);
        return { key, stop: () => all.close() };
      };
    case 'custom_probes':
      return () => {
        const runtime = (byDefault ? defaultRuntimeMetrics : runtimeMetrics)(opts as RuntimeMetricsOptions);
        return { key, stop: () => runtime.stop() };
      };
    case 'network':
      return () => {
        const network = networkMetrics();
        return { key, stop: () => network.stop() };
      };
    case 'ports':
      return () => {
        const ports = portMetrics();
        return { key, stop: () => ports.stop() };
      };
    case 'handleShutdown':
      return () => {
        const remove = handleShutdown(opts as HandleShutdownOptions);
        return { key, stop: remove };
      };
    case 'statsd':
      return () => {
        const exporter = statsd(opts as StatsdOptions);
        return { key, stop: () => void exporter.close() };
      };
    case 'push':
      return () => {
        const exporter = httpPush(opts as PushOptions);
        return { key, stop: () => void exporter.close() };
      };
    case 'admin': {
      const adminOptions = { port: DEFAULT_ADMIN_PORT, ...(opts as Partial<AdminOptions>) } as AdminOptions;
      checkAdminOptions(adminOptions);
      return () => startServer(key, 'the admin server', adminOptions, () => admin.serve(adminOptions), (s) => (adminServer = s), () => adminServer);
    }
    case 'prometheus': {
      const serveOptions = { port: DEFAULT_PROMETHEUS_PORT, ...(opts as Partial<ServeOptions>) } as ServeOptions;
      checkServeOptions(serveOptions);
      return () => startServer(key, 'the metrics server', serveOptions, () => serve(serveOptions), (s) => (metricsServer = s), () => metricsServer);
    }
  }
}

/** A server init() starts: the metrics or the admin server. */
interface Started {
  readonly server: { unref(): unknown };
  close(): Promise<void>;
}

/**
 * Starts a server once the previous one of its kind has closed (a restart on the same port
 * must find it free). It does not hold the process: the application's own work decides when
 * the process ends. A failure to start is one warning, never a rejection.
 */
function startServer<S extends Started>(
  key: string,
  what: string,
  where: { readonly host?: string; readonly port: number },
  start: () => Promise<S>,
  publish: (server: S | undefined) => void,
  published: () => S | undefined,
): Running {
  let server: S | undefined;
  let stopped = false;
  serverWork = serverWork
    .then(start)
    .then((s) => {
      server = s;
      if (stopped) return s.close();
      s.server.unref();
      publish(s);
      return undefined;
    })
    .catch((err: unknown) => {
      warnOnce(`probekit: init() could not start ${what} on ${where.host ?? '127.0.0.1'}:${where.port}: ${err instanceof Error ? err.message : String(err)}`, 'PROBEKIT_INIT');
    });
  return {
    key,
    stop: () => {
      stopped = true;
      if (published() === server) publish(undefined);
      return server?.close();
    },
  };
}
