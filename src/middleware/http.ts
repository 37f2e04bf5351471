/**
 * node:http instrumentation for apps without a framework: `instrumentServer(server)`
 * counts and times every request of that server and runs its 'request' listeners inside
 * the request's context.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { HttpInstrumentation, type HttpMetricsOptions, runInContext } from './core.js';
import { is, option, typeError } from '../util/validate.js';

/** Options of {@link instrumentServer}. */
export interface InstrumentServerOptions extends HttpMetricsOptions {
  /**
   * The route template of a request (`'/users/:id'`), from a small set: it becomes a label.
   * `undefined` leaves the request under `normalizePath`, or the constant `unmatched` route.
   * @default every request is `unmatched` (one series per method and status)
   */
  readonly route?: (req: IncomingMessage) => string | undefined;
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
    let route: string | undefined;
    if (routeOf !== undefined) {
      try {
        const r = routeOf(req);
        route = typeof r === 'string' && r !== '' ? r : undefined;
      } catch {
        route = undefined;
      }
    }
    const store = core.begin(req, res, route);
    return runInContext(store, () => call.call(this, event, ...args));
  };
  server.emit = emit as Server['emit'];
  return {
    close() {
      if (server.emit === emit) server.emit = original;
    },
  };
}
