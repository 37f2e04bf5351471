/**
 * Express instrumentation: `app.use(expressMetrics())` first, `app.use(expressErrors())`
 * last. The route label is the matched template, mounted routers' templates included
 * (`/api/:ver/items/:id`; `req.baseUrl` holds the concrete prefix, never used).
 *
 * Where the templates come from:
 * - Express 5 (its router 2.3 and later) publishes every layer it runs on the
 *   `express.router.request` TracingChannel with the pattern the layer was registered
 *   with: nothing is patched.
 * - Express 4 keeps no layer's path string: given the module (`expressMetrics({ express })`),
 *   its `Router.use` and `Router.route` are wrapped to tag the layers created from then on
 *   (register the middleware before the routes), as OpenTelemetry's instrumentation does.
 *   The app's private router property is never used.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors } from '../errors/store.js';
import { handler as prometheusHandler } from '../exporters/prometheus/http.js';
import { nodeDiagnostics } from '../util/lazy.js';
import { is, option, typeError } from '../util/validate.js';
import { HttpInstrumentation, type HttpMetricsOptions, pathOf, proceed } from './core.js';

/** Options of {@link expressMetrics}. */
export interface ExpressMetricsOptions extends HttpMetricsOptions {
  /**
   * Serve the Prometheus exposition of the registry at this path (GET), uncounted; `false`
   * serves nothing. Keep it off a public port, or guard it. @default '/metrics'
   */
  readonly metricsPath?: string | false;
  /** The `express` module: needed on Express 4 (whose layers keep no path) to find route templates. @default none (Express 5 needs nothing) */
  readonly express?: unknown;
}

type Next = (err?: unknown) => void;
type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;
type ErrorMiddleware = (err: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void;

interface RequestState {
  readonly core: HttpInstrumentation;
  /** True once a template was found for the request. */
  routed: boolean;
  /** Route template of each concrete mount prefix (`req.baseUrl`) entered so far; made when a router is entered. */
  templates: Map<string, string> | undefined;
}

/**
 * At the end of a request no template was found for (Express 4 without the `express`
 * option): a route that is not mounted is still known, as `req.route.path`.
 */
function fallbackRoute(req: IncomingMessage): void {
  const state = states.get(req);
  if (state === undefined || state.routed) return;
  const route = (req as { route?: { path?: unknown } }).route?.path;
  if ((req as { baseUrl?: string }).baseUrl === '' && (typeof route === 'string' || route instanceof RegExp || Array.isArray(route))) state.core.route(req, patternText(route));
}

const states = new WeakMap<IncomingMessage, RequestState>();

/** A pattern as a label value: strings as written, a RegExp as its source text. */
function patternText(pattern: unknown): string {
  if (typeof pattern === 'string') return pattern;
  if (pattern instanceof RegExp) return String(pattern);
  if (Array.isArray(pattern)) return `[${pattern.map(patternText).join(',')}]`;
  return '';
}

/** Joins a mount template and a pattern: `/api/:ver` + `/items/:id`; `/` adds nothing. */
function join(base: string, pattern: string): string {
  if (pattern === '' || pattern === '/') return base;
  const left = base.endsWith('/') ? base.slice(0, -1) : base;
  return pattern.startsWith('/') || pattern.startsWith('[') ? `${left}${pattern}` : `${left}/${pattern}`;
}

/** The template of the deepest mount prefix that `baseUrl` extends (strictly, unless `same`). */
function parentTemplate(state: RequestState, baseUrl: string, same: boolean): string {
  let best = '';
  let bestLength = -1;
  for (const [concrete, template] of state.templates ?? []) {
    const within = (baseUrl.startsWith(concrete) && concrete.length < baseUrl.length) || (same && baseUrl === concrete);
    if (within && concrete.length > bestLength) {
      best = template;
      bestLength = concrete.length;
    }
  }
  return best;
}

/** A mounted router was entered with `pattern`: remember its template under the concrete prefix. */
function enterRouter(req: IncomingMessage, pattern: unknown): void {
  const state = states.get(req);
  if (state === undefined) return;
  const baseUrl = (req as { baseUrl?: string }).baseUrl ?? '';
  const text = patternText(pattern);
  const mountedAtRoot = text === '' || text === '/';
  const parent = parentTemplate(state, baseUrl, mountedAtRoot);
  state.templates ??= new Map();
  state.templates.set(baseUrl, mountedAtRoot ? parent : join(parent, text));
}

/** A route's handler runs: the route is the mount template plus the route's pattern. */
function enterRoute(req: IncomingMessage, pattern: unknown): void {
  const state = states.get(req);
  if (state === undefined) return;
  const baseUrl = (req as { baseUrl?: string }).baseUrl ?? '';
  const mount = state.templates?.get(baseUrl) ?? parentTemplate(state, baseUrl, true);
  const route = join(mount, patternText(pattern)) || '/';
  state.routed = true;
  state.core.route(req, route);
}

let subscribed = false;

/** Express 5: the router's TracingChannel gives each layer's pattern, nothing patched. */
function subscribeToRouter(): void {
  if (subscribed) return;
  subscribed = true;
  try {
    const dc = nodeDiagnostics();
    if (typeof dc.tracingChannel !== 'function') return;
    dc.tracingChannel('express.router.request').start.subscribe((message: unknown) => {
      try {
        const ctx = message as { req?: IncomingMessage; layer?: { method?: unknown; handle?: { stack?: unknown } }; route?: unknown; errorHandler?: boolean };
        const req = ctx.req;
        if (req === undefined || !states.has(req) || ctx.layer === undefined) return;
        if (ctx.layer.method !== undefined) enterRoute(req, ctx.route); // a handler inside a route
        else if (Array.isArray(ctx.layer.handle?.stack)) enterRouter(req, ctx.route); // a mounted router
      } catch {
        // never into the application's request
      }
    });
  } catch {
    // no diagnostics_channel: routes stay unmatched
  }
}

const TAG = Symbol('probekit.express.path');
const patchedRouters = new WeakSet<object>();

/** Express 4: tags the layers `Router.use`/`Router.route` create with their path, and notes them as they run. */
function patchExpress4(express: unknown): void {
  const Router = (express as { Router?: { use?: unknown; route?: unknown } } | null)?.Router;
  if (Router === undefined || typeof Router.use !== 'function' || typeof Router.route !== 'function') return; // Express 5: the channel serves
  if (patchedRouters.has(Router)) return;
  patchedRouters.add(Router);
  type Layer = { handle: { stack?: unknown }; route?: { path?: unknown }; handle_request: (req: IncomingMessage, res: ServerResponse, next: Next) => void; [TAG]?: unknown };
  const tag = (layer: Layer, path: unknown): void => {
    if (layer[TAG] !== undefined) return;
    layer[TAG] = path;
    const original = layer.handle_request;
    layer.handle_request = function (req, res, next) {
      try {
        if (this.route !== undefined) enterRoute(req, this.route.path);
        else if (Array.isArray(this.handle.stack)) enterRouter(req, path);
      } catch {
        // never into the application's request
      }
      return original.call(this, req, res, next);
    };
  };
  const use = Router.use as (this: { stack: Layer[] }, ...args: unknown[]) => unknown;
  Router.use = function (this: { stack: Layer[] }, ...args: unknown[]) {
    const before = this.stack.length;
    const out = use.apply(this, args);
    const path = typeof args[0] === 'function' ? '/' : Array.isArray(args[0]) && typeof args[0][0] === 'function' ? '/' : args[0];
    for (let i = before; i < this.stack.length; i++) tag(this.stack[i] as Layer, path);
    return out;
  };
  const route = Router.route as (this: { stack: Layer[] }, path: unknown) => unknown;
  Router.route = function (this: { stack: Layer[] }, path: unknown) {
    const out = route.call(this, path);
    const layer = this.stack[this.stack.length - 1];
    if (layer !== undefined) tag(layer, path);
    return out;
  };
}

/**
 * Express middleware: RED metrics per route template, a request context for everything
 * after it, and the Prometheus exposition at `metricsPath`. Register it before the routes.
 *
 * @example
 * import express from 'express';
 * import { expressErrors, expressMetrics } from 'probekit/express';
 * const app = express();
 * app.use(expressMetrics());
 * app.get('/users/:id', handler);
 * app.use(expressErrors());
 */
export function expressMetrics(options: ExpressMetricsOptions = {}): Middleware {
  const core = new HttpInstrumentation('expressMetrics()', options, {
    metricsPath: option((where, v): string | false => {
      if (v === false) return false;
      const path = is.string(where, v);
      if (!path.startsWith('/')) throw typeError(where, 'a path starting with "/", or false', v);
      return path;
    }, '/metrics'),
    express: option((where, v) => {
      if (v === null || (typeof v !== 'function' && typeof v !== 'object')) throw typeError(where, 'the express module', v);
      return v;
    }),
  });
  const metricsPath = options.metricsPath ?? '/metrics';
  const metrics = metricsPath === false ? undefined : prometheusHandler(options.registry === undefined ? {} : { registry: options.registry });
  subscribeToRouter();
  if (options.express !== undefined) patchExpress4(options.express);
  return (req, res, next) => {
    if (metrics !== undefined && (req.method === 'GET' || req.method === 'HEAD') && pathOf((req as { originalUrl?: string }).originalUrl ?? req.url) === metricsPath) {
      metrics(req, res);
      return;
    }
    const store = core.begin(req, res, undefined, fallbackRoute);
    if (store !== undefined) states.set(req, { core, templates: undefined, routed: false });
    proceed(core, store, req, res, () => next(), undefined);
  };
}

/**
 * Express error middleware (register it last): notifies each error passed to `next(err)`,
 * thrown by a handler or (Express 5) rejected by an async one, with the request's context,
 * marks the request's `error_type`, and hands the error on unchanged.
 */
export function expressErrors(): ErrorMiddleware {
  return (err, req, _res, next) => {
    try {
      states.get(req)?.core.fail(req, err);
      errors.notify(err, undefined, 'express');
    } catch {
      // never instead of the application's own error handling
    }
    next(err);
  };
}
