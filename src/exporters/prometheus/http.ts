/**
 * The `/metrics` endpoint: a `(req, res)` handler for node:http, Express and Fastify's
 * raw handler, and a small server around it.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeHttp, nodeZlib } from '../../util/lazy.js';
import { checkInteger, optionalString, typeError } from '../../util/validate.js';
import { type Format, negotiate, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE } from './format.js';
import { Exposition, type ExpositionOptions } from './exposition.js';

/** A `(req, res)` request handler. */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** True when `Accept-Encoding` accepts gzip (q > 0). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined) return false;
  // RFC 9110 §12.5.3: gzip's own entry decides; `*` covers it only when it is not listed.
  let gzipQ: number | undefined;
  let anyQ: number | undefined;
  for (const part of value.split(',')) {
    const [coding = '', ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (coding === 'gzip') gzipQ = weight;
    else if (coding === '*') anyQ = weight;
  }
  return (gzipQ ?? anyQ ?? 0) > 0;
}

function gzipAsync(body: string): Promise<Buffer> {
  return new Promise((resolve, reject) => nodeZlib().gzip(body, (err, out) => (err ? reject(err) : resolve(out))));
}

/** Serves one scrape of `exposition` on `res`; never throws, failures answer 500. */
export function serveScrape(exposition: Exposition, produce: (format: Format) => Promise<string>, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Method Not Allowed\n');
    return;
  }
  const format = negotiate(req.headers.accept);
  const zip = acceptsGzip(req.headers['accept-encoding']);
  void (async () => {
    try {
      const text = await produce(format);
      const body = zip ? await gzipAsync(text) : Buffer.from(text);
      const headers: Record<string, string | number> = {
        'Content-Type': format.openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE,
        'Content-Length': body.length,
        'Cache-Control': 'no-store',
        Vary: 'Accept, Accept-Encoding',
      };
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
  return (req, res) => serveScrape(exposition, (format) => exposition.text(format), req, res);
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

/** Starts an HTTP server that serves the exposition at `path`; see {@link ServeOptions}. */
export async function serve(options: ServeOptions): Promise<MetricsServer> {
  if (options === null || typeof options !== 'object') throw typeError('prometheus.serve() options', 'an options object with a port', options);
  const port = checkInteger('prometheus.serve() option "port"', options.port, 0, 65535);
  const host = optionalString('prometheus.serve() option "host"', options.host) ?? '127.0.0.1';
  const path = optionalString('prometheus.serve() option "path"', options.path) ?? '/metrics';
  if (!path.startsWith('/')) throw typeError('prometheus.serve() option "path"', 'a path starting with "/"', path);
  const { port: _p, host: _h, path: _path, ...rest } = options;
  const exposition = new Exposition('prometheus.serve()', rest, ['port', 'host', 'path']);
  const server = nodeHttp().createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q === -1 ? url : url.slice(0, q)) !== path) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`Not Found: metrics are at ${path}\n`);
      return;
    }
    serveScrape(exposition, (format) => exposition.text(format), req, res);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => exposition.fail(err));
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    port: address.port,
    host: address.address,
    url: `http://${shownHost}:${address.port}${path}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
