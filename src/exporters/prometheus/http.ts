/**
 * The `/metrics` endpoint: a `(req, res)` handler for node:http, Express and Fastify's
 * raw handler, and a small server around it.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { acceptsGzip } from '../../transport/negotiate.js';
import { HttpError, listen, type Reply, type Request } from '../../transport/server.js';
import { is, option, type Parsed, parseOptions, required, typeError } from '../../util/validate.js';
import { type Format, negotiate, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE } from './format.js';
import { Exposition, type ExpositionOptions } from './exposition.js';
import { gzip } from '../../util/gzip.js';

/** A `(req, res)` request handler. */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;


/** The response headers of a scrape in `format`. */
export function scrapeHeaders(format: Format): Record<string, string> {
  return {
    'Content-Type': format.openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE,
    'Cache-Control': 'no-store',
    Vary: 'Accept, Accept-Encoding',
  };
}

/** Serves one scrape of `exposition` on `res`; never throws, failures answer 500. */
export function serveScrape(exposition: Exposition, produce: (format: Format) => Promise<Buffer>, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Method Not Allowed\n');
    return;
  }
  const format = negotiate(req.headers.accept);
  const zip = acceptsGzip(req.headers['accept-encoding']);
  void (async () => {
    try {
      const bytes = await produce(format);
      const body = zip ? await gzip(bytes) : bytes;
      const headers: Record<string, string | number> = { ...scrapeHeaders(format), 'Content-Length': body.length };
      if (zip) headers['Content-Encoding'] = 'gzip';
      if (res.headersSent || res.destroyed) return;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      exposition.fail(err);
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('probekit: the scrape failed; see the exporter onError option\n');
      }
    }
  })();
}

/**
 * A `(req, res)` handler serving the exposition: Prometheus text 0.0.4 by default,
 * OpenMetrics 1.0 when `Accept` asks for `application/openmetrics-text`, gzip when
 * `Accept-Encoding` allows it, HEAD, and 405 for other methods.
 *
 * @example
 * app.get('/metrics', prometheus.handler());                   // Express
 * http.createServer(prometheus.handler()).listen(9464);      // node:http
 * fastify.get('/metrics', (req, reply) => { reply.hijack(); handler(req.raw, reply.raw); });
 */
export function handler(options: ExpositionOptions = {}): MetricsHandler {
  const exposition = new Exposition('prometheus.handler()', options);
  return (req, res) => serveScrape(exposition, (format) => exposition.bytes(format), req, res);
}

/** Options of `prometheus.serve()`. */
export interface ServeOptions extends ExpositionOptions {
  /** Port; 0 picks a free one (read it back from `server.port`). */
  readonly port: number;
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Path of the endpoint; other paths answer 404. @default '/metrics' */
  readonly path?: string;
}

/** A started metrics server. */
export interface MetricsServer {
  /** The port it listens on (the one picked when 0 was asked). */
  readonly port: number;
  readonly host: string;
  /** `http://host:port/path`. */
  readonly url: string;
  /** The underlying node:http server. */
  readonly server: Server;
  /** Stops listening and closes idle connections. */
  close(): Promise<void>;
}

/**
 * Starts an HTTP server (the shared transport server) that serves the exposition at
 * `path`; other paths answer 404 and other methods 405, as JSON errors. `shutdown()`
 * closes it. See {@link ServeOptions}.
 */
export async function serve(options: ServeOptions): Promise<MetricsServer> {
  const opts = checkServeOptions(options);
  const { port, host, path, ...rest } = opts;
  return serveExposition(new Exposition('prometheus.serve()', definedOnly(rest)), { port, host, path, exclusive: false });
}

/** The given options of `rest`, without the absent ones. */
export function definedOnly(rest: Readonly<Record<string, unknown>>): ExpositionOptions {
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as ExpositionOptions;
}

/** Serves `exposition` at `path` on the shared transport server; `exclusive` as listen() takes it. */
export async function serveExposition(
  exposition: Exposition,
  where: { readonly port: number; readonly host: string; readonly path: string; readonly exclusive: boolean },
): Promise<MetricsServer> {
  const { port, host, path, exclusive } = where;
  const scrape = async (req: Request): Promise<Reply> => {
    const format = negotiate(req.headers.accept);
    try {
      // Gzip is the transport's (from 1 KiB, when accepted); a small scrape goes as is.
      return { headers: scrapeHeaders(format), body: await exposition.bytes(format) };
    } catch (err) {
      exposition.fail(err);
      throw new HttpError(500, 'the scrape failed; see the exporter onError option', 'scrape_failed');
    }
  };
  const server = await listen({ port, host, exclusive, routes: [{ method: 'GET', path, handle: scrape }], onError: (err) => exposition.fail(err) });
  return {
    port: server.port,
    host: server.host,
    url: `${server.url}${path}`,
    server: server.server,
    close: () => server.close(),
  };
}

/** Checks a path option: a string starting with `/`. */
export function checkPath(where: string, v: unknown): string {
  const path = is.string(where, v);
  if (!path.startsWith('/')) throw typeError(where, 'a path starting with "/"', path);
  return path;
}

const SERVE_OPTIONS = {
  port: required(is.integer(0, 65535)),
  host: option(is.string, '127.0.0.1'),
  path: option(checkPath, '/metrics'),
  registry: option(is.any),
  defaultMetrics: option(is.any),
  windowQuantiles: option(is.any),
  onError: option(is.any),
};

/** @internal Checks `prometheus.serve()`'s options now (init() checks before it starts anything); throws as serve() would. */
export function checkServeOptions(options: ServeOptions): Parsed<typeof SERVE_OPTIONS> {
  return parseOptions('prometheus.serve()', SERVE_OPTIONS, options, { required: true });
}
