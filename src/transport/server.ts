/**
 * The transport server: a small node:http router shared by probekit's HTTP endpoints.
 * Exact method + path routes, bounded request bodies, uniform JSON errors, gzip by
 * `Accept-Encoding`, an optional bearer-token guard, and a close() that always ends.
 * Nothing it does throws into the application once listen() has resolved: failures go
 * to the onError option.
 */
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { openServer } from '../lifecycle/shutdown.js';
import { nodeCrypto, nodeHttp, nodeNet } from '../util/lazy.js';
import { checkInteger, checkKnownKeys, checkObject, checkString, invalid, is, option, parseOptions, required, typeError } from '../util/validate.js';
import { acceptsGzip } from './negotiate.js';
import { gzip } from '../util/gzip.js';

/** The methods a {@link Route} can serve. */
export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

const METHODS: readonly Method[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'];

/** Default limit on a request body, in bytes (64 KiB). */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/** Replies this long or longer are gzipped when the client accepts gzip (1 KiB). */
export const GZIP_MIN_BYTES = 1024;
/** Default bound on receiving one whole request, in milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** How long close() lets in-flight requests finish before it destroys their connections. */
export const CLOSE_GRACE_MS = 1000;
/** How long a connection answered 413 may keep sending (discarded) before it is destroyed. */
const LINGER_MS = 2000;

const JSON_TYPE = 'application/json; charset=utf-8';

/** A request as a {@link Route} handler sees it. */
export interface Request {
  /** The request method as sent (`HEAD` when a GET route serves a HEAD). */
  readonly method: string;
  /** The path, without the query string. */
  readonly path: string;
  /** The query string, parsed. */
  readonly query: URLSearchParams;
  /** The request headers, names lower-cased. */
  readonly headers: IncomingHttpHeaders;
  /** The whole body, read up to the route's limit; empty for GET and HEAD. */
  readonly body: Buffer;
  /** The body parsed as JSON; throws an {@link HttpError} 400 (`invalid_json`) when it is not JSON. */
  json(): unknown;
  /** The underlying node:http request (its body has already been read). */
  readonly raw: IncomingMessage;
}

/**
 * What a handler answers. `body`: a string (sent as UTF-8, `text/plain` unless a
 * Content-Type header is given), a Buffer (`application/octet-stream`), a `Readable`
 * (streamed as it comes, chunked, never gzipped: `application/octet-stream` unless a
 * Content-Type is given), or any other value, sent as JSON (`application/json`). Status
 * defaults to 200.
 */
export interface Reply {
  /** @default 200 */
  readonly status?: number;
  /** Response headers; Content-Type, Content-Length and (for gzip) Content-Encoding and Vary are set unless given. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The body; none when absent. A stream that fails half-way cuts the connection (the client sees an incomplete answer) and goes to onError. */
  readonly body?: string | Buffer | Readable | object;
}

/** One endpoint: a method and path, and the handler that answers it. */
export interface Route {
  /** The method served; a GET route also serves HEAD unless a HEAD route is given for the path. */
  readonly method: Method;
  /**
   * The exact path (no query string), starting with `/`; or a prefix ending in `/*`
   * (`/actions/*`), which serves every longer path under it that no exact route serves
   * (the handler reads the rest from `req.path`, still percent-encoded).
   */
  readonly path: string;
  /**
   * Requires `Authorization: Bearer <token>` (the listen() `token` option). Without a
   * token, guarded routes are served only on a loopback host.
   */
  readonly guarded?: boolean;
  /** Limit on this route's request body in bytes; @default the listen() `maxBodyBytes` */
  readonly maxBodyBytes?: number;
  /** Answers the request; throw an {@link HttpError} to answer 4xx. */
  handle(req: Request): Promise<Reply> | Reply;
}

const STATUS_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_content',
  429: 'too_many_requests',
  500: 'internal_error',
  503: 'unavailable',
};

/**
 * An error a handler throws to answer with `status` (400 to 599): the client gets
 * `{"error": {"status", "code", "message"}}`, and onError is not called.
 *
 * @example
 * throw new HttpError(409, 'the job is already running', 'job_running');
 */
export class HttpError extends Error {
  /** The HTTP status answered. */
  readonly status: number;
  /** A stable machine-readable code; by default derived from the status (`not_found`). */
  readonly code: string;

  /** `status` from 400 to 599 (a RangeError otherwise); `message` is sent to the client as is. */
  constructor(status: number, message: string, code?: string) {
    super(message);
    checkInteger('HttpError status', status, 400, 599);
    this.name = 'HttpError';
    this.status = status;
    this.code = code ?? STATUS_CODES[status] ?? (status < 500 ? 'client_error' : 'server_error');
  }
}

/** Options of {@link listen}. */
export interface ListenOptions {
  /** Port; 0 picks a free one (read it back from `port`). */
  readonly port: number;
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** The endpoints; each method and path may appear once. */
  readonly routes: readonly Route[];
  /** The bearer token guarded routes require; required when they listen on a non-loopback host. */
  readonly token?: string;
  /** Default limit on a request body in bytes. @default 65536 */
  readonly maxBodyBytes?: number;
  /** Called with every failure (handler errors, socket and server errors); never thrown into the application. */
  readonly onError?: (error: Error) => void;
  /** Bound on receiving one whole request (0: none). @default 30000 */
  readonly requestTimeoutMs?: number;
  /** Headers sent with every response, errors included (`Cache-Control: no-store`); a reply's own headers win. @default {} */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Listen on a socket of this process's own, also in a `node:cluster` worker (where a
   * listen otherwise shares one socket through the primary, which hands each connection
   * to any worker). @default false
   */
  readonly exclusive?: boolean;
}

/** A started server. */
export interface HttpServer {
  /** The port it listens on (the one picked when 0 was asked). */
  readonly port: number;
  /** The address it listens on. */
  readonly host: string;
  /** `http://host:port`, IPv6 addresses in brackets. */
  readonly url: string;
  /** The underlying node:http server. */
  readonly server: Server;
  /**
   * Stops listening, closes idle connections, and destroys the remaining ones after a
   * short grace ({@link CLOSE_GRACE_MS}). Always resolves; calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * Compares two secrets in time independent of where they differ and of their lengths:
 * both are hashed with SHA-256 and the digests compared with `crypto.timingSafeEqual`.
 */
export function safeEqual(a: string, b: string): boolean {
  const crypto = nodeCrypto();
  const da = crypto.createHash('sha256').update(a, 'utf8').digest();
  const db = crypto.createHash('sha256').update(b, 'utf8').digest();
  return crypto.timingSafeEqual(da, db);
}

/** True for hosts only this machine can reach: 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`. */
export function isLoopback(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const { isIPv4, isIPv6 } = nodeNet();
  if (h.startsWith('::ffff:') && isIPv4(h.slice(7))) h = h.slice(7);
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || h === '::1';
  return false;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}


/** A route as listen() checked it: its fields copied, so later changes to the caller's object do not matter. */
interface CheckedRoute {
  readonly route: Route;
  readonly method: Method;
  readonly path: string;
  readonly guarded: boolean;
  readonly limit: number;
}

function checkRoutes(value: unknown, defaultLimit: number): CheckedRoute[] {
  const where = 'listen() option "routes"';
  if (!Array.isArray(value)) throw typeError(where, 'an array of routes', value);
  const seen = new Set<string>();
  return value.map((item: unknown, i) => {
    const at = `${where}[${i}]`;
    const route = checkObject(at, item);
    checkKnownKeys(at, route, ['method', 'path', 'guarded', 'maxBodyBytes', 'handle']);
    if (!METHODS.includes(route.method as Method)) throw typeError(`${at}.method`, `one of ${METHODS.join(', ')}`, route.method);
    const path = checkString(`${at}.path`, route.path);
    if (!path.startsWith('/') || path.includes('?') || path.includes('#') || (path.includes('*') && !/^\/[^*]*\/\*$/.test(path))) {
      throw typeError(`${at}.path`, 'a path starting with "/" without a query or fragment, with "*" only as its last segment ("/actions/*")', path);
    }
    if (route.guarded !== undefined && typeof route.guarded !== 'boolean') throw typeError(`${at}.guarded`, 'a boolean', route.guarded);
    const limit = route.maxBodyBytes === undefined ? defaultLimit : checkInteger(`${at}.maxBodyBytes`, route.maxBodyBytes, 0);
    if (typeof route.handle !== 'function') throw typeError(`${at}.handle`, 'a function', route.handle);
    const key = `${route.method as string} ${path}`;
    if (seen.has(key)) throw invalid(`probekit: ${where} has two routes for ${key}; each method and path may appear once`, 'PROBEKIT_INVALID_OPTION', 'routes');
    seen.add(key);
    return { route: item as Route, method: route.method as Method, path, guarded: route.guarded === true, limit };
  });
}

/** Every option of {@link listen}, its check and its default (the routes are checked with the body limit). */
const LISTEN_OPTIONS = {
  port: required(is.integer(0, 65535)),
  host: option((where, v) => checkString(where, v), '127.0.0.1'),
  routes: required(is.any),
  token: option((where, v) => {
    const token = checkString(where, v);
    if (/\s/.test(token)) throw typeError(where, 'a string without whitespace (a bearer token)', token);
    return token;
  }),
  maxBodyBytes: option(is.integer(0), DEFAULT_MAX_BODY_BYTES),
  onError: option(is.function<(error: Error) => void>()),
  requestTimeoutMs: option(is.integer(0), DEFAULT_REQUEST_TIMEOUT_MS),
  headers: option(is.stringRecord, {}),
  exclusive: option(is.boolean, false),
};

/**
 * Starts an HTTP server with `routes`; resolves once it listens, rejects with the
 * listen error (EADDRINUSE) otherwise. Option errors throw a TypeError/RangeError.
 *
 * Errors are answered as `{"error": {"status", "code", "message"}}`: 404 (no route
 * for the path), 405 (with `Allow`), 413 (body over the limit; the connection is
 * closed), 400 (bad JSON), 401 (guarded route without the right bearer token), 500
 * (the handler threw; the error goes to onError).
 *
 * @example
 * const server = await listen({ port: 0, routes: [{ method: 'GET', path: '/health', handle: () => ({ body: { ok: true } }) }] });
 * console.log(server.url);
 * await server.close();
 */
export async function listen(options: ListenOptions): Promise<HttpServer> {
  const opts = parseOptions('listen()', LISTEN_OPTIONS, options, { required: true });
  const { port, host, token, maxBodyBytes, requestTimeoutMs, onError, exclusive } = opts;
  const always: Readonly<Record<string, string>> = { ...opts.headers };
  const routes = checkRoutes(opts.routes, maxBodyBytes);
  if (token === undefined && routes.some((r) => r.guarded) && !isLoopback(host)) {
    throw typeError(
      'listen() option "token"',
      `a non-empty string when guarded routes listen on the non-loopback host ${JSON.stringify(host)}`,
      token,
    );
  }

  const table = new Map<string, Map<string, CheckedRoute>>();
  for (const route of routes) {
    let methods = table.get(route.path);
    if (methods === undefined) table.set(route.path, (methods = new Map()));
    methods.set(route.method, route);
  }
  // Prefix routes (`/actions/*`), longest first: a path no exact route serves goes to the first whose prefix it extends.
  const prefixes = [...table.keys()]
    .filter((p) => p.endsWith('/*'))
    .sort((a, b) => b.length - a.length)
    .map((p) => ({ prefix: p.slice(0, -1), methods: table.get(p) as Map<string, CheckedRoute> }));
  const lookup = (path: string): Map<string, CheckedRoute> | undefined => {
    const exact = path.endsWith('/*') ? undefined : table.get(path);
    if (exact !== undefined) return exact;
    for (const p of prefixes) if (path.length > p.prefix.length && path.startsWith(p.prefix)) return p.methods;
    return undefined;
  };

  // A 404 names the paths served here, except guarded ones (no map of the admin endpoints for strangers).
  const open = [...new Set(routes.filter((r) => !r.guarded).map((r) => r.path))];
  const notFound = open.length === 0 ? 'no route for this path' : `no route for this path; served here: ${open.join(', ')}`;

  const answerError = (res: ServerResponse, head: boolean, status: number, code: string, message: string, extra: Readonly<Record<string, string>> = {}): void =>
    sendError(res, head, status, code, message, { ...always, ...extra });

  const report = (value: unknown): void => {
    try {
      onError?.(toError(value));
    } catch {
      // an onError that throws must not reach the application either
    }
  };

  const server = nodeHttp().createServer({
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs > 0 ? Math.min(60_000, requestTimeoutMs) : 60_000,
    // How often Node looks for requests over their time (an unref'd timer); by default
    // every 30 s, which would let a short requestTimeoutMs run far over.
    connectionsCheckingInterval: requestTimeoutMs > 0 ? Math.max(100, Math.min(30_000, Math.floor(requestTimeoutMs / 2))) : 30_000,
  });
  // probekit's own servers stay out of the process-wide HTTP instrumentation.
  (server as Server & Record<symbol, boolean>)[Symbol.for('probekit.ownServer')] = true;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.on('error', report);
    dispatch(req, res).catch((err: unknown) => {
      report(err);
      answerError(res, false, 500, 'internal_error', 'internal server error');
    });
  });
  server.on('clientError', (err: Error & { code?: string }, socket) => {
    socket.destroy();
    if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') report(err);
  });

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    const methods = lookup(path);
    if (methods === undefined) {
      answerError(res, head, 404, 'not_found', notFound);
      return;
    }
    const route = methods.get(method) ?? (head ? methods.get('GET') : undefined);
    if (route === undefined) {
      const allowed = METHODS.filter((m) => methods.has(m) || (m === 'HEAD' && methods.has('GET')));
      const list = allowed.join(', ');
      answerError(res, head, 405, 'method_not_allowed', `method ${method} is not allowed here; allowed: ${list}`, { Allow: list });
      return;
    }
    if (route.guarded && token !== undefined) {
      const auth = authorized(req.headers.authorization, token);
      if (auth === 'missing') {
        answerError(res, head, 401, 'unauthorized', 'a valid bearer token is required', { 'WWW-Authenticate': 'Bearer' });
        return;
      }
      if (auth === 'wrong') {
        answerError(res, head, 403, 'forbidden', 'the bearer token is not valid');
        return;
      }
    }
    const body = method === 'GET' || head ? Buffer.alloc(0) : await readBody(req, res, route.limit);
    if (body === undefined) return;
    const request: Request = {
      method,
      path,
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      headers: req.headers,
      body,
      raw: req,
      json() {
        try {
          return JSON.parse(body.toString('utf8')) as unknown;
        } catch {
          throw new HttpError(400, 'the request body is not valid JSON', 'invalid_json');
        }
      },
    };
    let reply: Reply;
    try {
      reply = await route.route.handle(request);
    } catch (err) {
      if (err instanceof HttpError) {
        answerError(res, head, err.status, err.code, err.message);
      } else {
        report(err);
        answerError(res, head, 500, 'internal_error', 'internal server error');
      }
      return;
    }
    await answer(req, res, head, reply);
  }

  function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size > limit) tooLarge();
        else chunks.push(chunk);
      };
      const tooLarge = (): void => {
        req.removeListener('data', onData);
        // Keep discarding what the client still sends for a moment, so it reads the
        // 413 instead of a reset; the connection is closed after the answer.
        req.on('data', () => {});
        const linger = setTimeout(() => req.socket.destroy(), LINGER_MS);
        linger.unref();
        req.socket.once('close', () => clearTimeout(linger));
        answerError(res, false, 413, 'payload_too_large', `the request body exceeds ${limit} bytes`, { Connection: 'close' });
        resolve(undefined);
      };
      const declared = Number(req.headers['content-length']);
      if (declared > limit) {
        tooLarge();
        return;
      }
      req.on('data', onData);
      req.once('end', () => resolve(Buffer.concat(chunks, size)));
      // The client went away mid-body: nothing to answer, and not the application's failure.
      req.once('error', () => resolve(undefined));
      req.once('aborted', () => resolve(undefined));
    });
  }

  async function answer(req: IncomingMessage, res: ServerResponse, head: boolean, reply: Reply): Promise<void> {
    let status: number;
    let headers: Record<string, string | number>;
    let body: Buffer;
    try {
      const r = checkObject('a route handler reply', reply);
      status = r.status === undefined ? 200 : checkInteger('a route handler reply status', r.status, 100, 599);
      headers = { ...always, ...(r.headers as Record<string, string> | undefined) };
      const has = (name: string): boolean => Object.keys(headers).some((k) => k.toLowerCase() === name);
      const value = r.body;
      if (isReadable(value)) {
        if (!has('content-type')) headers['Content-Type'] = 'application/octet-stream';
        stream(res, head, status, headers, value);
        return;
      }
      let type: string | undefined;
      if (value === undefined) body = Buffer.alloc(0);
      else if (typeof value === 'string') [body, type] = [Buffer.from(value, 'utf8'), 'text/plain; charset=utf-8'];
      else if (value instanceof Uint8Array) [body, type] = [Buffer.from(value.buffer, value.byteOffset, value.byteLength), 'application/octet-stream'];
      else [body, type] = [Buffer.from(JSON.stringify(value), 'utf8'), JSON_TYPE];
      if (status === 204 || status === 304) body = Buffer.alloc(0);
      else if (type !== undefined && !has('content-type')) headers['Content-Type'] = type;
      if (body.length >= GZIP_MIN_BYTES && !has('content-encoding')) {
        if (!has('vary')) headers.Vary = 'Accept-Encoding';
        if (acceptsGzip(req.headers['accept-encoding'])) {
          body = await gzip(body);
          headers['Content-Encoding'] = 'gzip';
        }
      }
      if (status !== 204 && status !== 304) headers['Content-Length'] = body.length;
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, headers);
    } catch (err) {
      report(err);
      answerError(res, head, 500, 'internal_error', 'internal server error');
      return;
    }
    res.end(head ? undefined : body);
  }

  /** Sends `body` as it comes; a stream that fails cuts the connection and is reported. Never throws. */
  function stream(res: ServerResponse, head: boolean, status: number, headers: Record<string, string | number>, body: Readable): void {
    const fail = (err: unknown): void => {
      report(err);
      if (!res.headersSent) answerError(res, head, 500, 'internal_error', 'internal server error');
      else res.destroy();
    };
    body.once('error', fail);
    // The client went away: stop producing.
    res.once('close', () => {
      if (!res.writableFinished) body.destroy();
    });
    if (res.headersSent || res.destroyed) {
      body.destroy();
      return;
    }
    if (head) {
      res.writeHead(status, headers);
      res.end();
      body.destroy();
      return;
    }
    res.writeHead(status, headers);
    body.pipe(res);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', report);

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  // shutdown() closes every server probekit started.
  const unregister = openServer({ close: () => started.close() });
  const started: HttpServer = {
    port: address.port,
    host: address.address,
    url: `http://${shownHost}:${address.port}`,
    server,
    close() {
      unregister();
      closing ??= new Promise<void>((resolve) => {
        const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        grace.unref();
        server.close(() => {
          clearTimeout(grace);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
  return started;
}

/** `ok`, `missing` (no bearer credentials: 401) or `wrong` (a bearer token that is not the token: 403). */
function authorized(header: string | undefined, token: string): 'ok' | 'missing' | 'wrong' {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  // Compare even when the header is missing, so a missing one costs the same time.
  const equal = safeEqual(match?.[1] ?? '', token);
  return match === null ? 'missing' : equal ? 'ok' : 'wrong';
}

function isReadable(value: unknown): value is Readable {
  return value !== null && typeof value === 'object' && typeof (value as Readable).pipe === 'function' && typeof (value as Readable).on === 'function';
}

/** Answers `{"error": {...}}` unless an answer is already under way; never throws. */
function sendError(
  res: ServerResponse,
  head: boolean,
  status: number,
  code: string,
  message: string,
  extra: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(JSON.stringify({ error: { status, code, message } }), 'utf8');
  try {
    res.writeHead(status, { ...extra, 'Content-Type': JSON_TYPE, 'Content-Length': body.length });
    res.end(head ? undefined : body);
  } catch {
    res.destroy();
  }
}
