/**
 * node:http instrumentation for apps without a framework: `instrumentServer(server)`
 * counts and times every request of that server and runs its 'request' listeners inside
 * the request's context.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { HttpInstrumentation, type HttpMetricsOptions, proceed } from './core.js';
import { invalid, is, option, typeError } from '../util/validate.js';
import { nodeDiagnostics } from '../util/lazy.js';

/** Options of {@link instrumentServer}. */
export interface InstrumentServerOptions extends HttpMetricsOptions {
  /**
   * The route template of a request (`'/users/:id'`), from a small set: it becomes a label.
   * `undefined` leaves the request under `normalizePath`, or the constant `unmatched` route.
   * @default every request is `unmatched` (one series per method and status)
   */
  readonly route?: (req: IncomingMessage) => string | undefined;
}

/** The route a `route(req)` option gives, or `undefined` when it gives none or throws. */
function routeFrom(routeOf: ((req: IncomingMessage) => string | undefined) | undefined, req: IncomingMessage): string | undefined {
  if (routeOf === undefined) return undefined;
  try {
    const r = routeOf(req);
    return typeof r === 'string' && r !== '' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** What {@link instrumentServer} returns. */
export interface ServerInstrumentation {
  /** Stops instrumenting the server (requests already started are still recorded). */
  close(): void;
}

/**
 * Instruments every request of a node:http (or https) server: RED metrics and a request
 * context (`context.get('requestId')` in the handler, and on every `notify()`).
 *
 * @example
 * import http from 'node:http';
 * import { instrumentServer } from 'probekit/http';
 * const server = http.createServer(handler);
 * instrumentServer(server, { route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined) });
 */
export function instrumentServer(server: Server, options: InstrumentServerOptions = {}): ServerInstrumentation {
  if (server === null || typeof server !== 'object' || typeof (server as { emit?: unknown }).emit !== 'function') {
    throw typeError('instrumentServer() argument "server"', 'a node:http or node:https Server', server);
  }
  const core = new HttpInstrumentation('instrumentServer()', options, { route: option(is.function<(req: IncomingMessage) => string | undefined>()) });
  const routeOf = options.route;
  const original = server.emit;
  const call = original as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  const emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'request') return call.call(this, event, ...args);
    const [req, res] = args as [IncomingMessage, ServerResponse];
    const store = core.begin(req, res, routeFrom(routeOf, req));
    return proceed(core, store, req, res, () => call.call(this, event, ...args), true);
  };
  server.emit = emit as Server['emit'];
  return {
    close() {
      if (server.emit === emit) server.emit = original;
    },
  };
}

/** Marks the servers probekit starts itself (metrics, admin): the process-wide mode leaves them out. */
export const OWN_SERVER = Symbol.for('probekit.ownServer');

/** Options of {@link instrumentAllServers}. */
export type InstrumentAllOptions = InstrumentServerOptions;

let allServers: { readonly close: () => void } | undefined;

/**
 * Instruments every node:http server of the process with no patching at all, through
 * Node's `http.server.request.start` diagnostics channel (probekit's own servers are left
 * out). It records the same metrics as {@link instrumentServer} but cannot give the
 * handler a request context (nothing wraps the handler): use `instrumentServer()` or a
 * framework adapter for that. A request an adapter also sees is counted once, under the
 * adapter's route. One such mode per process: a second call throws.
 *
 * @example
 * import { instrumentAllServers } from 'probekit/http';
 * const all = instrumentAllServers();
 * // ... all.close() to stop
 */
export function instrumentAllServers(options: InstrumentAllOptions = {}): ServerInstrumentation {
  if (allServers !== undefined) {
    throw invalid('probekit: instrumentAllServers() is already on in this process; close() the first one before starting another', 'PROBEKIT_INVALID_ARGUMENT');
  }
  const core = new HttpInstrumentation('instrumentAllServers()', options, { route: option(is.function<(req: IncomingMessage) => string | undefined>()) });
  core.weak = true;
  const routeOf = options.route;
  const dc = nodeDiagnostics();
  const onStart = (message: unknown): void => {
    try {
      const { request: req, response: res, server } = message as { request: IncomingMessage; response: ServerResponse; server: Server & { [OWN_SERVER]?: boolean } };
      if (server?.[OWN_SERVER] === true) return;
      core.begin(req, res, routeFrom(routeOf, req));
    } catch {
      // never into the application's request
    }
  };
  dc.subscribe('http.server.request.start', onStart);
  const handle = {
    close() {
      if (allServers !== handle) return;
      dc.unsubscribe('http.server.request.start', onStart);
      allServers = undefined;
    },
  };
  allServers = handle;
  return handle;
}
