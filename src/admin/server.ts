/**
 * The admin server: health, metrics, recent errors and the action registry over one
 * small HTTP server (the shared transport server), safe by default:
 * - with a `token`, every route but `/livez`, `/readyz` and `/healthz` requires
 *   `Authorization: Bearer <token>` (401 without, 403 with a wrong one; compared in
 *   constant time), `/metrics` too unless `publicMetrics`;
 * - without one, it binds only a loopback host, and actions answer only loopback peers;
 * - every response carries `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`;
 * - bodies are bounded (413), malformed JSON is a 400, unknown routes 404, wrong methods 405.
 *
 * Built-in actions (registered in the shared action registry while the server runs):
 * `cpu-profile`, `heap-snapshot`, `gc` when the process exposes it, and `fault` when the
 * code opts in with `faults: true`.
 */
import type { Server } from 'node:http';
import type { Readable } from 'node:stream';
import { errors } from '../errors/store.js';
import { Exposition } from '../exporters/prometheus/exposition.js';
import { negotiate } from '../exporters/prometheus/format.js';
import { scrapeHeaders } from '../exporters/prometheus/http.js';
import { handleShutdown, isReady } from '../lifecycle/shutdown.js';
import { defaultRegistry, registryOption } from '../probes/probe.js';
import type { Probe } from '../probes/types.js';
import { HttpError, isLoopback, listen, type Reply, type Request, type Route } from '../transport/server.js';
import { describe, is, option, type Parsed, parseOptions, required, typeError } from '../util/validate.js';
import { actions, checkActionName, MAX_STREAM_CHUNKS } from './actions.js';
import { FAULT_INPUT, FaultInjector, planOf } from './faults.js';
import { health } from './health.js';
import { claim, cpuProfile, heapSnapshot, MAX_PROFILE_SECONDS, readMemory, snapshotRoom } from './profiles.js';
import { checkSchema, type InputSchema, mismatch, schemaOf } from './schema.js';
import { dashboardRoutes } from './dashboard.js';
import { LiveFeed } from './feed.js';

/** The dashboard feed's period, in ms. */
const FRAME_MS = 1000;

/** Options of {@link admin.serve}. */
export interface AdminOptions {
  /** Port; 0 picks a free one (read it back from `port`). */
  readonly port: number;
  /** Interface to listen on; without a `token`, only a loopback host is accepted. @default '127.0.0.1' */
  readonly host?: string;
  /** The bearer token every route but the health routes requires. @default none: loopback only */
  readonly token?: string;
  /** Path the routes are served under (`/admin/` serves `/admin/livez`). @default '/' */
  readonly basePath?: string;
  /** Registers the `fault` action (fault injection). @default false */
  readonly faults?: boolean;
  /** Serves `/metrics` without the token (Prometheus can also send one: its `authorization` scrape setting). @default false */
  readonly publicMetrics?: boolean;
  /**
   * Handles SIGTERM and SIGINT with `handleShutdown()`: `/readyz` answers 503 at once,
   * then after this delay (ms, or `'5s'`) probekit's servers close and its exporters
   * flush, within 5 s more. @default none: no signal handling of its own
   */
  readonly shutdownDelay?: number | string;
  /** Limit on a request body, in bytes. @default 16384 */
  readonly maxBodyBytes?: number;
  /** How long an action may run before it is answered 500, in ms. @default 30000 */
  readonly actionTimeoutMs?: number;
  /**
   * Serves the live dashboard at `dashboard` (a public page with no data in it) and its
   * feed at `stream` (guarded like every data route); the feed samples once a second and
   * keeps five minutes for a new tab. @default true
   */
  readonly dashboard?: boolean;
  /** The registry `/metrics`, `/metrics.json` and the dashboard show. @default the default `probe` */
  readonly registry?: Probe;
  /** Called with the server's failures (never thrown into the application). */
  readonly onError?: (error: Error) => void;
  /** The clock the fault injector's deadline reads, in ms. For tests. @default Date.now */
  readonly clock?: () => number;
}

/** A running admin server. */
export interface AdminServer {
  /** The port it listens on (the one picked when 0 was asked). */
  readonly port: number;
  /** The address it listens on. */
  readonly host: string;
  /** `http://host:port` followed by the base path. */
  readonly url: string;
  /** The underlying node:http server. */
  readonly server: Server;
  /** Stops the server, removes its built-in actions, switches a running fault off and stops handling signals. Always resolves; idempotent. */
  close(): Promise<void>;
}

/** Options of {@link admin.action}. */
export interface AdminActionOptions {
  /** The input the action accepts: field names and their types; other fields are a 400. @default no check */
  readonly input?: InputSchema;
  /** One line on what it does, shown beside its button in the dashboard (at most 200 characters). @default none */
  readonly description?: string;
}

const SERVE_OPTIONS = {
  port: required(is.integer(0, 65535)),
  host: option(is.nonEmpty, '127.0.0.1'),
  token: option((where, v) => {
    const token = is.nonEmpty(where, v);
    if (/\s/.test(token)) throw typeError(where, 'a string without whitespace (a bearer token)', token);
    return token;
  }),
  basePath: option((where, v) => {
    const path = is.nonEmpty(where, v);
    if (!path.startsWith('/') || /[?#*\s]/.test(path)) throw typeError(where, 'a path starting with "/" without "?", "#", "*" or spaces', path);
    return path.endsWith('/') ? path : `${path}/`;
  }, '/'),
  faults: option(is.boolean, false),
  publicMetrics: option(is.boolean, false),
  shutdownDelay: option(is.duration),
  maxBodyBytes: option(is.integer(0), 16 * 1024),
  actionTimeoutMs: option(is.integer(1, 2 ** 31 - 1), 30_000),
  dashboard: option(is.boolean, true),
  registry: registryOption,
  onError: option(is.function<(error: Error) => void>()),
  clock: option(is.function<() => number>(), Date.now),
};

const JSON_TYPE = 'application/json; charset=utf-8';

/** Headers on every answer: nothing an intermediary keeps, nothing a browser sniffs. */
const SAFE_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

/** An error answer that carries headers (`Retry-After`), in the transport's error shape. */
function errorReply(status: number, code: string, message: string, headers: Record<string, string> = {}): Reply {
  return { status, headers, body: { error: { status, code, message } } };
}

/** True when an action may answer this peer: any peer with a token set (the token was checked), only loopback peers without one. */
export function peerAllowed(token: string | undefined, remoteAddress: string | undefined): boolean {
  return token !== undefined || (remoteAddress !== undefined && isLoopback(remoteAddress));
}

/** An action's `opts.description` when it is a string (at most 200 characters), else null. */
function descriptionOf(opts: unknown): string | null {
  const d = opts !== null && typeof opts === 'object' ? (opts as { description?: unknown }).description : undefined;
  return typeof d === 'string' ? d.slice(0, 200) : null;
}

/** The body as an action's input: `{}` when empty, else its JSON (400 when not JSON). */
function inputOf(req: Request): unknown {
  return req.body.length === 0 ? {} : req.json();
}

/** `{ seconds }` of a CPU profile: a number above 0, cut to the maximum. */
function secondsOf(input: unknown): number {
  const seconds = (input as { seconds?: unknown }).seconds ?? 10;
  if (typeof seconds !== 'number' || !(seconds > 0)) throw new HttpError(400, 'field "seconds" must be a number above 0', 'invalid_input');
  return Math.min(seconds, MAX_PROFILE_SECONDS);
}

function stamp(): string {
  return `${process.pid}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}

/** Built-in streamed actions, run by the server itself; through the registry (PM2) they only say where to get them. */
const STREAMED = new Set(['cpu-profile', 'heap-snapshot']);

async function serve(options: AdminOptions): Promise<AdminServer> {
  const opts = checkAdminOptions(options);
  const { port, host, token, basePath: base, publicMetrics, onError, actionTimeoutMs } = opts;
  const report = (err: unknown): void => {
    try {
      onError?.(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // an onError that throws must not reach the application either
    }
  };
  const registry = opts.registry ?? defaultRegistry;
  const exposition = new Exposition('admin.serve()', { registry, onError: report });
  const injector = opts.faults ? new FaultInjector(opts.clock) : undefined;

  const forPeers = (req: Request): void => {
    if (!peerAllowed(token, req.raw.socket.remoteAddress)) throw new HttpError(403, 'actions answer only loopback peers when no token is set', 'forbidden');
  };

  const builtins = registerBuiltins(base, injector);
  const feed = opts.dashboard ? new LiveFeed({ registry, errors, onError: report }) : undefined;

  const healthReply = async (readiness: boolean): Promise<Reply> => {
    if (readiness && !isReady()) return { status: 503, body: { status: 'shutting_down', failing: [], checks: [] } };
    const report = await health.run();
    return { status: report.status === 'ok' ? 200 : 503, body: report };
  };

  const runAction = async (req: Request): Promise<Reply> => {
    forPeers(req);
    let name: string;
    try {
      name = checkActionName('name', decodeURIComponent(req.path.slice(`${base}actions/`.length)));
    } catch {
      throw new HttpError(404, 'no action by that name', 'unknown_action');
    }
    if (!actions.has(name)) throw new HttpError(404, `no action named ${JSON.stringify(name)}; GET ${base}actions lists them`, 'unknown_action');
    const info = actions.list().find((a) => a.name === name);
    const input = inputOf(req);
    const schema = schemaOf(info?.opts);
    const wrong = schema === undefined ? undefined : mismatch(schema, input);
    if (wrong !== undefined) throw new HttpError(400, wrong, 'invalid_input');
    if (STREAMED.has(name) && builtins.owns(name)) return name === 'cpu-profile' ? profileReply(input) : snapshotReply();
    const chunks: unknown[] = [];
    const result = await actions.run(name, input, {
      timeoutMs: actionTimeoutMs,
      onStream: (kind, data) => {
        if (kind === 'stream' && chunks.length < MAX_STREAM_CHUNKS) chunks.push(data);
      },
    });
    if (!result.ok) throw new HttpError(500, result.error, 'action_failed');
    // As JSON text: a string result is JSON too, not text/plain.
    const value = info?.scoped === true ? { chunks, value: result.value } : result.value;
    return { headers: { 'Content-Type': JSON_TYPE }, body: JSON.stringify(value ?? null) };
  };

  const routes: Route[] = [
    { method: 'GET', path: `${base}livez`, handle: () => ({ body: { status: 'ok' } }) },
    { method: 'GET', path: `${base}readyz`, handle: () => healthReply(true) },
    { method: 'GET', path: `${base}healthz`, handle: () => healthReply(false) },
    {
      method: 'GET',
      path: `${base}metrics`,
      guarded: !publicMetrics,
      handle: async (req) => {
        const format = negotiate(req.headers.accept);
        try {
          return { headers: scrapeHeaders(format), body: await exposition.bytes(format) };
        } catch (err) {
          exposition.fail(err, 'admin');
          throw new HttpError(500, 'the scrape failed; see the onError option', 'scrape_failed');
        }
      },
    },
    { method: 'GET', path: `${base}metrics.json`, guarded: true, handle: () => ({ body: registry.snapshot() }) },
    { method: 'GET', path: `${base}errors`, guarded: true, handle: () => ({ body: errors.snapshot() }) },
    {
      method: 'GET',
      path: `${base}actions`,
      guarded: true,
      handle: (req) => {
        forPeers(req);
        return { body: { actions: actions.list().map((a) => ({ name: a.name, scoped: a.scoped, input: schemaOf(a.opts) ?? null, description: descriptionOf(a.opts) })) } };
      },
    },
    { method: 'POST', path: `${base}actions/*`, guarded: true, handle: runAction },
    ...(feed === undefined ? [] : dashboardRoutes(base, feed)),
  ];

  let server;
  try {
    server = await listen({ port, host, token, routes, maxBodyBytes: opts.maxBodyBytes, headers: SAFE_HEADERS, onError: report });
  } catch (err) {
    builtins.remove();
    feed?.close();
    throw err;
  }
  let ticker: NodeJS.Timeout | undefined;
  if (feed !== undefined) {
    feed.sample();
    ticker = setInterval(() => feed.sample(), FRAME_MS);
    ticker.unref();
  }
  const stopSignals = opts.shutdownDelay === undefined ? undefined : handleShutdown({ delayMs: opts.shutdownDelay, timeoutMs: opts.shutdownDelay + 5000 });
  const listening = server;
  let closing: Promise<void> | undefined;
  return {
    port: listening.port,
    host: listening.host,
    url: `${listening.url}${base}`,
    server: listening.server,
    close() {
      closing ??= (async () => {
        stopSignals?.();
        clearInterval(ticker);
        // Open streams end now, so the server's close does not wait for them.
        feed?.close();
        builtins.remove();
        injector?.stop();
        await listening.close();
      })();
      return closing;
    },
  };
}

/** A CPU profile, as a `.cpuprofile` download; 409 while another profile or snapshot runs. */
async function profileReply(input: unknown): Promise<Reply> {
  const seconds = secondsOf(input);
  const slot = claim('cpu-profile');
  if ('busy' in slot) throw new HttpError(409, `a ${slot.busy} is already running; try again when it ends`, 'profile_running');
  try {
    const text = await cpuProfile(seconds);
    return { headers: { 'Content-Type': JSON_TYPE, 'Content-Disposition': `attachment; filename="${stamp()}.cpuprofile"` }, body: text };
  } catch (err) {
    throw new HttpError(503, `the inspector could not profile: ${err instanceof Error ? err.message : describe(err)}`, 'inspector_unavailable');
  } finally {
    slot.release();
  }
}

/** A heap snapshot, streamed as a `.heapsnapshot` download; 503 when memory is short, 409 while another profile or snapshot runs. */
function snapshotReply(): Reply {
  const room = snapshotRoom(readMemory());
  if (!room.fits) {
    const mb = (n: number): string => `${Math.round(n / 1048576)} MiB`;
    return errorReply(503, 'insufficient_memory', `a heap snapshot needs about ${mb(room.needed)} (twice the used heap) and ${mb(room.available)} is available`, { 'Retry-After': '60' });
  }
  const slot = claim('heap-snapshot');
  if ('busy' in slot) throw new HttpError(409, `a ${slot.busy} is already running; try again when it ends`, 'profile_running');
  let stream: Readable;
  try {
    stream = heapSnapshot();
  } catch (err) {
    slot.release();
    throw err;
  }
  stream.once('close', slot.release);
  stream.once('end', slot.release);
  stream.once('error', slot.release);
  return { headers: { 'Content-Type': JSON_TYPE, 'Content-Disposition': `attachment; filename="${stamp()}.heapsnapshot"` }, body: stream };
}

/** Registers the built-in actions in the shared registry; `remove()` takes them out again. */
function registerBuiltins(base: string, injector: FaultInjector | undefined): { owns(name: string): boolean; remove(): void } {
  const removers = new Map<string, () => void>();
  const elsewhere = (name: string) => () => {
    throw new Error(`${name} streams its output: POST ${base}actions/${name} on the admin server`);
  };
  removers.set('cpu-profile', actions.register('cpu-profile', { fn: elsewhere('cpu-profile'), opts: { input: { seconds: 'number' }, description: `CPU profile for {seconds} (default 10, at most ${MAX_PROFILE_SECONDS}), as a .cpuprofile` } }));
  removers.set('heap-snapshot', actions.register('heap-snapshot', { fn: elsewhere('heap-snapshot'), opts: { input: {}, description: 'Heap snapshot, as a .heapsnapshot' } }));
  const gc = (globalThis as { gc?: unknown }).gc;
  if (typeof gc === 'function') {
    removers.set(
      'gc',
      actions.register('gc', {
        fn: (_input: unknown, reply: (data: unknown) => void) => {
          const before = process.memoryUsage().heapUsed;
          (gc as () => void)();
          reply({ heapUsedBefore: before, heapUsedAfter: process.memoryUsage().heapUsed });
        },
        opts: { input: {}, description: 'A full garbage collection (the process runs with --expose-gc)' },
      }),
    );
  }
  if (injector !== undefined) {
    removers.set(
      'fault',
      actions.register('fault', {
        fn: (input: Record<string, unknown>, reply: (data: unknown) => void) => {
          if (input.off === true) {
            reply({ on: false, injected: injector.stop() });
            return;
          }
          const plan = planOf(input, Math.random);
          if (typeof plan === 'string') throw new Error(plan);
          const { until } = injector.start(plan);
          reply({ on: true, route: plan.route, fraction: plan.fraction, fault: plan.fault, seed: plan.seed, until });
        },
        opts: { input: FAULT_INPUT, description: 'Injects a delay or an error into a fraction of the requests on a route, for a bounded time' },
      }),
    );
  }
  const ours = new Map([...removers.keys()].map((name) => [name, actions.list().find((a) => a.name === name)]));
  return {
    owns: (name) => removers.has(name) && actions.list().find((a) => a.name === name)?.opts === ours.get(name)?.opts,
    remove: () => {
      for (const remove of removers.values()) remove();
      removers.clear();
    },
  };
}

/**
 * Registers an action the admin server's `POST /actions/:name` runs (and PM2's
 * `pm2 trigger`, through probekit/pmx): `fn` gets the JSON body and its result is the
 * JSON answer; a throw or rejection answers 500. With `input`, a body whose fields are
 * unknown or of another type is answered 400 before `fn` runs. Returns the function that
 * removes the action.
 */
function action(name: string, fn: (input: Readonly<Record<string, unknown>>) => unknown, options: AdminActionOptions = {}): () => void {
  checkActionName('admin.action() argument "name"', name);
  if (typeof fn !== 'function') throw typeError('admin.action() argument "fn"', 'a function', fn);
  const opts = parseOptions('admin.action()', { input: option((where, v) => checkSchema(where, v)), description: option(is.string) }, options);
  return actions.register(name, {
    fn: (input: Readonly<Record<string, unknown>>, reply: (data: unknown) => void) =>
      Promise.resolve()
        .then(() => fn(input))
        .then((value) => reply(value ?? null)),
    opts: opts.input === undefined && opts.description === undefined ? null : { ...(opts.input === undefined ? {} : { input: opts.input }), ...(opts.description === undefined ? {} : { description: opts.description }) },
  });
}

/**
 * The admin server. `serve()` starts it; `action()` registers what it can run.
 *
 * @example
 * import { admin } from 'probekit/admin';
 * const server = await admin.serve({ port: 0 });
 * const res = await fetch(`${server.url}livez`);
 * console.log(res.status, await res.json());
 * await server.close();
 */
export const admin = { serve, action };

/** @internal Checks `admin.serve()`'s options now (init() checks before it starts anything); throws as serve() would. */
export function checkAdminOptions(options: AdminOptions): Parsed<typeof SERVE_OPTIONS> {
  const opts = parseOptions('admin.serve()', SERVE_OPTIONS, options, { required: true });
  if (opts.token === undefined && !isLoopback(opts.host)) {
    throw typeError('admin.serve() option "host"', 'a loopback host (127.0.0.1, ::1, localhost) when no token is set; set "token" to listen on other interfaces', opts.host);
  }
  return opts;
}
