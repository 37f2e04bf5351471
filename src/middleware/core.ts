/**
 * The request-instrumentation core every adapter (node:http now; Express and Seneca next)
 * uses. Adapters only find the route. The core gives each request a context (request id,
 * method, route) so `notify()` and error domains inside the handler carry it; records
 * RED metrics named by the OpenTelemetry HTTP conventions (or the classic
 * express-prom-bundle names); ends the duration at the response's `finish`, or at `close`
 * when the client went away (status 499, `error_type="aborted"`, recorded once); and
 * never lets a URL become a label value: a request without a route template gets one
 * constant route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context } from '../errors/context.js';
import { defaultRegistry, registryOption } from '../probes/probe.js';
import type { Counter, Histogram, Probe } from '../probes/types.js';
import { isLabelName } from '../probes/names.js';
import { nodeCrypto } from '../util/lazy.js';
import { is, option, parseOptions, type Schema, typeError } from '../util/validate.js';

/** The route of every request no route template matched: one series, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/** The OpenTelemetry HTTP semantic conventions' duration buckets, in seconds. */
export const OTEL_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Methods kept as they are; any other becomes `_OTHER` (a scanner's method cannot make a series). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** A request id taken from `X-Request-Id`: at most 128 characters, none that could break a log line or a header. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._~:@/+=-]{1,128}$/;

/** Names of the metrics: OpenTelemetry's HTTP conventions, or express-prom-bundle's. */
export type HttpNaming = 'otel' | 'classic';

/** Options every HTTP instrumentation takes. */
export interface HttpMetricsOptions {
  /** `otel`: `http_server_request_duration_seconds` and `http_server_active_requests`; `classic`: `http_request_duration_seconds{method, path, status_code}`. @default 'otel' */
  readonly naming?: HttpNaming;
  /** Duration buckets in seconds. @default OpenTelemetry's [0.005 … 10] */
  readonly buckets?: readonly number[];
  /** Requests to leave out (health checks): `true` skips the request. @default none */
  readonly skip?: (req: IncomingMessage) => boolean;
  /** Paths (without the query) to leave out, exactly or by pattern. @default [] */
  readonly excludePaths?: ReadonlyArray<string | RegExp>;
  /** Static labels added to every series (`{ service: 'api' }`). @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The route of a request the adapter found no template for; its result must come from a
   * small set (you map URLs to it). @default every such request is `unmatched`
   */
  readonly normalizePath?: (req: IncomingMessage) => string | undefined;
  /** Record `2xx`, `4xx`… instead of the exact status, for a tight series budget. @default false */
  readonly statusClass?: boolean;
  /**
   * Run each handler in a request context (`context.get('requestId')`, and on every
   * `notify()`). `false` saves its cost (on Node 20, AsyncLocalStorage turns on promise
   * hooks for the whole process; see Benchmarks) and keeps the metrics. @default true
   */
  readonly context?: boolean;
  /** Registry to record into. @default the default `probe` */
  readonly registry?: Probe;
}

/** Options every instrumentation (HTTP and RPC) shares: buckets, static labels, the registry. */
export const SHARED_OPTIONS = {
  buckets: option(is.any),
  labels: option((where, v): Readonly<Record<string, string>> => {
    const labels = is.stringRecord(where, v);
    for (const name of Object.keys(labels)) if (!isLabelName(name)) throw typeError(`${where.replace(/"$/, '')}.${name}"`, 'a label name matching [a-zA-Z_][a-zA-Z0-9_]*', name);
    return labels;
  }, {}),
  registry: registryOption,
};

const OPTIONS = {
  ...SHARED_OPTIONS,
  naming: option(is.oneOf(['otel', 'classic'] as const), 'otel'),
  skip: option(is.function<(req: IncomingMessage) => boolean>()),
  excludePaths: option((where, v): ReadonlyArray<string | RegExp> => {
    if (!Array.isArray(v)) throw typeError(where, 'an array of paths and regular expressions', v);
    for (const p of v) if (typeof p !== 'string' && !(p instanceof RegExp)) throw typeError(`${where.replace(/"$/, '')}[]"`, 'a path or a RegExp', p);
    return v as ReadonlyArray<string | RegExp>;
  }, []),
  normalizePath: option(is.function<(req: IncomingMessage) => string | undefined>()),
  statusClass: option(is.boolean, false),
  context: option(is.boolean, true),
};

/** Marks a request some instrumentation already counts: another one seeing it stays out. */
const COUNTED = Symbol.for('probekit.http.counted');
/** The core's state of a request, kept on the request itself (cheaper than a WeakMap). */
const PENDING = Symbol('probekit.http.pending');

type Marked = IncomingMessage & { [COUNTED]?: boolean; [PENDING]?: Pending };

/** What the core keeps per request until it ends. */
interface Pending {
  readonly core: HttpInstrumentation;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Called once at the end, before the request is recorded (an adapter's last look at the route). */
  readonly beforeEnd: ((req: IncomingMessage) => void) | undefined;
  readonly start: number;
  readonly method: string;
  readonly scheme: string;
  route: string;
  errorType: string;
  done: boolean;
}

/** The context store of an instrumented request: `context.get('requestId')` inside a handler. */
export interface HttpRequestContext {
  requestId: string;
  method: string;
  route: string;
}

/** One configured instrumentation: the metrics, and begin/route/fail per request. */
export class HttpInstrumentation {
  private readonly duration: Histogram<string, never>;
  private readonly active: Counter<string> | undefined;
  private readonly naming: HttpNaming;
  private readonly skip: ((req: IncomingMessage) => boolean) | undefined;
  private readonly exclude: ReadonlyArray<string | RegExp>;
  private readonly staticLabels: Readonly<Record<string, string>>;
  private readonly normalizePath: ((req: IncomingMessage) => string | undefined) | undefined;
  private readonly statusClass: boolean;
  /** False when handlers run without a request context (the `context` option). */
  readonly withContext: boolean;
  private readonly hasStatic: boolean;
  /** The active-requests series per method and scheme, held: no label object per request. */
  private readonly activeSeries = new Map<string, Counter<string>>();
  /** performance.now(), or the registry's injected clock. */
  private readonly now: () => number;

  /** True for the process-wide (zero-patch) mode: any adapter that sees the request too takes it over. */
  weak = false;

  constructor(where: string, options: HttpMetricsOptions = {}, extra: Schema = {}) {
    const opts = parseOptions(where, { ...OPTIONS, ...extra }, options);
    const registry = opts.registry ?? defaultRegistry;
    this.now = registry.time.precise;
    this.naming = opts.naming;
    this.skip = opts.skip;
    this.exclude = opts.excludePaths;
    this.staticLabels = opts.labels;
    this.normalizePath = opts.normalizePath;
    this.statusClass = opts.statusClass;
    this.withContext = opts.context;
    const fixed = Object.keys(opts.labels);
    this.hasStatic = fixed.length > 0;
    const buckets = (opts.buckets as readonly number[] | undefined) ?? OTEL_BUCKETS;
    if (this.naming === 'otel') {
      this.duration = registry.histogram({
        name: 'http_server_request_duration',
        unit: 's',
        help: 'Duration of HTTP server requests',
        buckets,
        labels: ['http_request_method', 'url_scheme', 'http_route', 'http_response_status_code', 'error_type', ...fixed],
      }) as unknown as Histogram<string, never>;
      this.active = registry.counter({
        name: 'http_server_active_requests',
        help: 'HTTP server requests in flight',
        labels: ['http_request_method', 'url_scheme', ...fixed],
      }) as unknown as Counter<string>;
    } else {
      this.duration = registry.histogram({
        name: 'http_request_duration',
        unit: 's',
        help: 'Duration of HTTP requests',
        buckets,
        labels: ['method', 'path', 'status_code', ...fixed],
      }) as unknown as Histogram<string, never>;
      this.active = undefined;
    }
  }

  /**
   * Starts instrumenting `req` unless it is skipped or already counted; returns its context
   * store (run the handler in it), or `undefined` when the request is not instrumented.
   */
  begin(req: IncomingMessage, res: ServerResponse, route: string | undefined, beforeEnd?: (req: IncomingMessage) => void): HttpRequestContext | undefined {
    try {
      const marked = req as Marked;
      if (marked[COUNTED] === true) {
        // A framework adapter takes a request over from the process-wide mode: its route wins.
        const other = marked[PENDING];
        if (this.weak || other === undefined || !other.core.weak || other.done) return undefined;
        other.core.cancel(other);
      }
      if (this.skipped(req)) return undefined;
      marked[COUNTED] = true;
      const rawMethod = req.method ?? '';
      const method = KNOWN_METHODS.has(rawMethod) ? rawMethod : '_OTHER';
      const scheme = (req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
      const p: Pending = { core: this, req, res, beforeEnd, start: this.now(), method, scheme, route: route ?? this.fallbackRoute(req), errorType: '', done: false };
      marked[PENDING] = p;
      this.activeFor(p)?.inc();
      // One listener function for both events, shared by every request: no closure per request.
      res.on('finish', onResponseEnd);
      res.on('close', onResponseEnd);
      if (!this.withContext) return { requestId: '', method, route: p.route };
      const header = req.headers['x-request-id'];
      const requestId = typeof header === 'string' && SAFE_REQUEST_ID.test(header) ? header : nodeCrypto().randomUUID();
      return { requestId, method, route: p.route };
    } catch {
      return undefined; // a hostile request object: the app's request goes on, uncounted
    }
  }

  /** Sets the route template an adapter found after routing (Express). */
  route(req: IncomingMessage, route: string): void {
    const p = (req as Marked)[PENDING];
    if (p !== undefined && p.core === this && !p.done) p.route = route;
    const store = context.get() as Partial<HttpRequestContext> | undefined;
    if (store !== undefined && 'requestId' in store) store.route = route;
  }

  /** Marks the request as failed with `error` (its `error_type` is the error's name). */
  fail(req: IncomingMessage, error: unknown): void {
    const p = (req as Marked)[PENDING];
    if (p === undefined || p.core !== this || p.done) return;
    let name = 'Error';
    try {
      if (error instanceof Error && typeof error.name === 'string' && error.name !== '') name = error.name.slice(0, 64);
    } catch {
      // a hostile error: the generic name
    }
    p.errorType = name;
  }

  /** Marks the request as answered by an injected fault (`error_type="injected_fault"`). */
  injected(req: IncomingMessage): void {
    const p = (req as Marked)[PENDING];
    if (p !== undefined && p.core === this && !p.done) p.errorType = INJECTED_FAULT;
  }

  private skipped(req: IncomingMessage): boolean {
    if (this.exclude.length > 0) {
      const path = pathOf(req.url);
      for (const e of this.exclude) if (typeof e === 'string' ? e === path : e.test(path)) return true;
    }
    if (this.skip === undefined) return false;
    try {
      return this.skip(req) === true;
    } catch {
      return false;
    }
  }

  private fallbackRoute(req: IncomingMessage): string {
    if (this.normalizePath === undefined) return UNMATCHED_ROUTE;
    try {
      const r = this.normalizePath(req);
      return typeof r === 'string' && r !== '' ? r : UNMATCHED_ROUTE;
    } catch {
      return UNMATCHED_ROUTE;
    }
  }

  /** Drops a request another instrumentation took over: no record, the active count undone. */
  cancel(p: Pending): void {
    if (p.done) return;
    p.done = true;
    p.res.off('finish', onResponseEnd);
    p.res.off('close', onResponseEnd);
    this.activeFor(p)?.dec();
  }

  /** The active-requests series of a request's method and scheme, found once per pair. */
  private activeFor(p: Pending): Counter<string> | undefined {
    if (this.active === undefined) return undefined;
    const key = `${p.method} ${p.scheme}`;
    let series = this.activeSeries.get(key);
    if (series === undefined) {
      series = this.active.labels({ http_request_method: p.method, url_scheme: p.scheme, ...this.staticLabels } as never) as Counter<string>;
      if (this.activeSeries.size < 64) this.activeSeries.set(key, series);
    }
    return series;
  }

  /** Records the request once, at `finish`, or at `close` before it (the client went away: 499, aborted). */
  end(p: Pending): void {
    if (p.done) return;
    const { req, res } = p;
    if (p.beforeEnd !== undefined) {
      try {
        p.beforeEnd(req); // may still set the route
      } catch {
        // an adapter's last look must not cost the record
      }
    }
    p.done = true;
    (req as Marked)[PENDING] = undefined;
    res.off('finish', onResponseEnd);
    res.off('close', onResponseEnd);
    const seconds = (this.now() - p.start) / 1000;
    const aborted = !res.writableFinished;
    const code = aborted ? 499 : res.statusCode;
    const status = this.statusClass ? `${Math.floor(code / 100)}xx` : String(code);
    const errorType = aborted ? 'aborted' : p.errorType !== '' ? p.errorType : code >= 500 ? String(code) : '';
    this.activeFor(p)?.dec();
    const fixed = this.staticLabels;
    const labels =
      this.naming === 'otel'
        ? { http_request_method: p.method, url_scheme: p.scheme, http_route: p.route, http_response_status_code: status, error_type: errorType }
        : { method: p.method, path: p.route, status_code: status };
    this.duration.labels((this.hasStatic ? { ...labels, ...fixed } : labels) as never).observe(seconds);
  }
}

/** The one 'finish'/'close' listener of every instrumented response. */
function onResponseEnd(this: ServerResponse): void {
  const req = (this as ServerResponse & { req?: IncomingMessage }).req;
  const p = req === undefined ? undefined : (req as Marked)[PENDING];
  if (p !== undefined && p.res === this) p.core.end(p);
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string | undefined): string {
  const text = url ?? '/';
  const q = text.indexOf('?');
  return q === -1 ? text : text.slice(0, q);
}

/** Runs `handler` in the request's context when it is instrumented. */
export function runInContext<R>(store: HttpRequestContext | undefined, handler: () => R): R {
  return store === undefined ? handler() : context.run(store as unknown as Record<string, unknown>, handler);
}

/** One request, or one RPC call, a fault injector is asked about. */
export interface FaultRequest {
  readonly kind: 'http' | 'rpc';
  /** The route template (or `unmatched`), or the action's pattern. */
  readonly route: string;
  /** The request path without its query (an action's pattern for RPC). */
  readonly path: string;
  /** The HTTP method (`_OTHER` outside the standard ones), or `seneca`. */
  readonly method: string;
}

/** What a fault injector decides for one request: hold the handler back, or answer an error instead of it. */
export type Fault = { readonly kind: 'delay'; readonly ms: number } | { readonly kind: 'error'; readonly status: number; readonly message: string };

/** Decides the fault of each instrumented request; `undefined` lets it through. */
export type FaultHook = (request: FaultRequest) => Fault | undefined;

/** The `error_type` of a request answered by an injected error: never mistaken for a real one. */
export const INJECTED_FAULT = 'injected_fault';

let faultHook: FaultHook | undefined;

/**
 * Installs the process's one fault injector (the admin server's `fault` action uses it),
 * or removes it with `undefined`. Every adapter that wraps the handler asks it before
 * handing a request on: `instrumentServer()`, Express and Seneca (not the process-wide
 * node:http mode, which wraps nothing).
 */
export function setFaultHook(hook: FaultHook | undefined): void {
  faultHook = hook;
}

/** The fault for a request, or `undefined`: none installed, none decided, a hook that threw or answered nonsense. */
export function faultFor(request: FaultRequest): Fault | undefined {
  const hook = faultHook;
  if (hook === undefined) return undefined;
  try {
    const fault = hook(request);
    if (fault === undefined || fault === null || typeof fault !== 'object') return undefined;
    if (fault.kind === 'delay' && Number.isFinite(fault.ms) && fault.ms >= 0) return { kind: 'delay', ms: Math.min(fault.ms, 600_000) };
    if (fault.kind === 'error' && Number.isInteger(fault.status) && fault.status >= 400 && fault.status <= 599) return { kind: 'error', status: fault.status, message: String(fault.message) };
  } catch {
    // an injector's bug never fails a request
  }
  return undefined;
}

/**
 * Hands an instrumented request to the application in its context (`handler`), unless
 * the fault injector holds it back (the handler runs after the delay, in the same
 * context) or answers it with an error (the handler never runs).
 */
export function proceed<R>(core: HttpInstrumentation, store: HttpRequestContext | undefined, req: IncomingMessage, res: ServerResponse, handler: () => R, answered: R): R {
  const within = core.withContext ? store : undefined;
  if (faultHook === undefined || store === undefined) return runInContext(within, handler);
  const fault = faultFor({ kind: 'http', route: store.route, path: pathOf(req.url), method: store.method });
  if (fault === undefined) return runInContext(within, handler);
  return runInContext(within, () => {
    if (fault.kind === 'delay') {
      setTimeout(handler, fault.ms);
      return answered;
    }
    core.injected(req);
    try {
      res.statusCode = fault.status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify({ error: fault.message }));
    } catch {
      // a response the application already touched
    }
    return answered;
  });
}
