/**
 * The transport client: requests to one destination, one at a time, with a bounded
 * queue, a timeout per attempt, retries with exponential backoff and full jitter, and
 * a keep-alive connection that never holds the process open while idle.
 */
import type { Agent as HttpAgent, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { nodeHttp, nodeHttps } from '../util/lazy.js';
import { checkKnownKeys, checkObject, checkString, is, option, parseOptions, required, typeError } from '../util/validate.js';
import { gzip } from '../util/gzip.js';

/** `code` of the rejection of a request made while the queue already holds `maxQueue` requests. */
export const QUEUE_FULL = 'PROBEKIT_QUEUE_FULL';
/** `code` of the rejection of an attempt that did not complete within `timeoutMs`. */
export const TIMEOUT = 'PROBEKIT_TIMEOUT';
/** `code` of the rejection of requests still queued, waiting or in flight when the client is closed. */
export const CLOSED = 'PROBEKIT_CLOSED';

/** Statuses that are retried (the request may succeed later); every other status is resolved. */
const RETRIED_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Base URL, `http:` or `https:`; request paths are appended to its path. */
  readonly url: string;
  /** Bound on one attempt, connect to the last byte of the response. @default 10000 */
  readonly timeoutMs?: number;
  /** Retries after the first attempt (network errors, timeouts, 429, 502, 503, 504). @default 3 */
  readonly retries?: number;
  /** Base of the exponential backoff: retry n waits `random() * min(maxBackoffMs, backoffMs * 2^n)`. @default 200 */
  readonly backoffMs?: number;
  /** Cap on one backoff wait, and on a `Retry-After` that is honoured. @default 10000 */
  readonly maxBackoffMs?: number;
  /** Headers sent with every request (a request's own headers win). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Requests that may wait behind the one in flight. @default 100 */
  readonly maxQueue?: number;
  /** Response bodies are cut at this many bytes (`truncated: true`). @default 1048576 */
  readonly maxResponseBytes?: number;
  /** Called with the error of every failed attempt, retried or not; never thrown into the application. */
  readonly onError?: (error: Error) => void;
  /** Statuses worth another attempt. @default 429, 502, 503 and 504 */
  readonly retryOn?: (status: number) => boolean;
  /**
   * The agent to connect with (an `https.Agent` with a CA or client certificates). The
   * client neither destroys nor configures it. @default a keep-alive agent of its own, one socket
   */
  readonly agent?: HttpAgent;
  /** Source of jitter in [0, 1). For tests. @default Math.random */
  readonly random?: () => number;
  /**
   * Waits `ms` between attempts. For tests (to observe the delays); the default is a
   * timer that close() cancels.
   */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** One request. */
export interface ClientRequest {
  /** The method, e.g. `POST`. */
  readonly method: string;
  /** Path (and query), starting with `/`, appended to the base URL's path. */
  readonly path: string;
  /** Headers of this request; they win over the client's `headers` option. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The body (a string is sent as UTF-8); Content-Length is set from it. */
  readonly body?: string | Buffer;
  /** Gzip the body and send `Content-Encoding: gzip`. @default false */
  readonly gzip?: boolean;
}

/** A response, of any status. */
export interface ClientResponse {
  /** The HTTP status. */
  readonly status: number;
  /** The response headers, names lower-cased. */
  readonly headers: IncomingHttpHeaders;
  /** The body, at most `maxResponseBytes` long. */
  readonly body: Buffer;
  /** True when the body was longer than `maxResponseBytes` and was cut. */
  readonly truncated: boolean;
  /** How many attempts it took (1 when the first one answered). */
  readonly attempts: number;
}

/** A client for one destination; see {@link createClient}. */
export interface HttpClient {
  /**
   * Queues `req` and resolves with the response of its last attempt; rejects with the
   * last attempt's error (with an `attempts` count) when every attempt failed, with
   * code {@link QUEUE_FULL} at once when the queue is full, and with {@link CLOSED}
   * when the client is closed first.
   */
  request(req: ClientRequest): Promise<ClientResponse>;
  /** Rejects every queued and waiting request with {@link CLOSED}, aborts the one in flight and drops the connection. Idempotent. */
  close(): void;
}

interface Job {
  readonly req: ClientRequest;
  readonly body: Buffer | undefined;
  readonly resolve: (res: ClientResponse) => void;
  readonly reject: (err: Error) => void;
}

/** The caller's retry predicate; one that throws means no retry. */
function safeRetryOn(retryOn: (status: number) => boolean, status: number): boolean {
  try {
    return retryOn(status) === true;
  } catch {
    return false;
  }
}

function coded(message: string, code: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}


/** The seconds of a `Retry-After: <seconds>` header in ms; undefined when absent or not a number of seconds. */
function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value) * 1000;
}

/** Checks an absolute `http:` or `https:` URL option and returns it parsed. */
export function checkHttpUrl(where: string, value: unknown): URL {
  const text = checkString(where, value);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw typeError(where, 'an absolute http: or https: URL', text);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw typeError(where, 'an absolute http: or https: URL', text);
  return url;
}

/** Checks an `http.Agent`/`https.Agent` option. */
export function checkAgent(where: string, value: unknown): HttpAgent {
  if (value === null || typeof value !== 'object' || typeof (value as { destroy?: unknown }).destroy !== 'function') throw typeError(where, 'an http.Agent or https.Agent', value);
  return value as HttpAgent;
}

/** Every option of {@link createClient}, its check and its default. */
const CLIENT_OPTIONS = {
  url: required(checkHttpUrl),
  timeoutMs: option(is.integer(1), 10_000),
  retries: option(is.integer(0), 3),
  backoffMs: option(is.integer(0), 200),
  maxBackoffMs: option(is.integer(0), 10_000),
  headers: option((where, v) => checkHeaders(where, v), {}),
  maxQueue: option(is.integer(0), 100),
  maxResponseBytes: option(is.integer(0), 1024 * 1024),
  onError: option(is.function<(error: Error) => void>()),
  retryOn: option(is.function<(status: number) => boolean>(), (status: number) => RETRIED_STATUSES.has(status)),
  agent: option(checkAgent),
  random: option(is.function<() => number>(), Math.random),
  sleep: option(is.function<(ms: number) => Promise<void>>()),
};

/**
 * A client for the destination at `url`. Requests run one at a time, in the order they
 * were made, over one keep-alive connection; the idle connection never keeps the process
 * alive, a request being tried (or waiting to be retried) does.
 *
 * Each attempt is bounded by `timeoutMs` (error code {@link TIMEOUT}). Network errors,
 * timeouts and the statuses 429, 502, 503 and 504 are retried up to `retries` times,
 * retry n (from 0) after `random() * min(maxBackoffMs, backoffMs * 2^n)` ms; on 429 and
 * 503 a `Retry-After` in seconds is waited instead when it is at most `maxBackoffMs`,
 * and when it is longer the response is resolved at once (the server asked for more
 * patience than the client has). Other statuses resolve: the caller decides.
 *
 * @example
 * const client = createClient({ url: 'http://127.0.0.1:4318' });
 * const res = await client.request({ method: 'POST', path: '/v1/metrics', body: JSON.stringify(batch), gzip: true });
 * client.close();
 */
export function createClient(options: ClientOptions): HttpClient {
  const opts = parseOptions('createClient()', CLIENT_OPTIONS, options, { required: true });
  const { url: base, timeoutMs, retries, backoffMs, maxBackoffMs, maxQueue, maxResponseBytes, onError, random, sleep } = opts;
  const defaultHeaders = opts.headers;

  const https = base.protocol === 'https:';
  const ownAgent = opts.agent === undefined;
  const agent: HttpAgent =
    opts.agent ?? (https ? new (nodeHttps().Agent)({ keepAlive: true, maxSockets: 1 }) : new (nodeHttp().Agent)({ keepAlive: true, maxSockets: 1 }));
  const retryOn = opts.retryOn;
  const send = https ? nodeHttps().request : nodeHttp().request;
  const basePath = base.pathname.replace(/\/+$/, '');

  const queue: Job[] = [];
  let running = false;
  let closed = false;
  /** Aborts the attempt in flight and the wait between attempts. */
  const closing = new AbortController();

  const report = (err: Error): void => {
    try {
      onError?.(err);
    } catch {
      // an onError that throws must not reach the application either
    }
  };

  const closedError = (): Error => coded('probekit: the client was closed before the request completed', CLOSED);

  /** Waits `ms`; rejects with CLOSED as soon as the client closes. */
  function wait(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (closing.signal.aborted) {
        reject(closedError());
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const onClose = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        reject(closedError());
      };
      closing.signal.addEventListener('abort', onClose, { once: true });
      const done = (): void => {
        closing.signal.removeEventListener('abort', onClose);
        resolve();
      };
      if (sleep === undefined) timer = setTimeout(done, ms);
      else sleep(ms).then(done, done);
    });
  }

  function backoff(retry: number): number {
    return random() * Math.min(maxBackoffMs, backoffMs * 2 ** retry);
  }

  /** One attempt: resolves with the whole (bounded) response, rejects on a network error, timeout or close. */
  function attempt(req: ClientRequest, body: Buffer | undefined, attempts: number): Promise<ClientResponse> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const headers: OutgoingHttpHeaders = { ...defaultHeaders, ...req.headers };
      if (body !== undefined) {
        headers['Content-Length'] = body.length;
        if (req.gzip === true) headers['Content-Encoding'] = 'gzip';
      }
      const outgoing = send({
        protocol: base.protocol,
        hostname: base.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: base.port === '' ? undefined : Number(base.port),
        path: basePath + req.path,
        method: req.method,
        headers,
        agent,
      });
      const finish = (err: Error | undefined, res?: ClientResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        closing.signal.removeEventListener('abort', onClose);
        if (err === undefined && res !== undefined) resolve(res);
        else reject(err ?? new Error('probekit: the request ended without a response'));
      };
      const timer = setTimeout(() => {
        const err = coded(`probekit: the request ${req.method} ${base.origin}${basePath}${req.path} timed out after ${timeoutMs} ms`, TIMEOUT);
        finish(err);
        outgoing.destroy(err);
      }, timeoutMs);
      const onClose = (): void => {
        const err = closedError();
        finish(err);
        outgoing.destroy(err);
      };
      closing.signal.addEventListener('abort', onClose, { once: true });
      outgoing.on('error', (err) => finish(err));
      outgoing.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        const done = (): void =>
          finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, size), truncated, attempts });
        res.on('data', (chunk: Buffer) => {
          if (truncated) return;
          const room = maxResponseBytes - size;
          if (chunk.length <= room) {
            chunks.push(chunk);
            size += chunk.length;
            return;
          }
          if (room > 0) chunks.push(chunk.subarray(0, room));
          size += Math.max(room, 0);
          truncated = true;
          done();
          // The rest is not wanted: drop the connection rather than read it.
          res.destroy();
        });
        res.on('end', done);
        res.on('error', (err) => finish(err));
        // A response that closes before its end was cut off (finish() ignores this after a settled one).
        res.on('close', () => finish(coded('probekit: the response was cut off before its end', 'ECONNRESET')));
      });
      outgoing.end(body);
    });
  }

  async function run(job: Job): Promise<ClientResponse> {
    const { req } = job;
    const body = job.body === undefined ? undefined : req.gzip === true ? await gzip(job.body) : job.body;
    for (let n = 0; ; n++) {
      if (closed) throw closedError();
      let res: ClientResponse;
      try {
        res = await attempt(req, body, n + 1);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        if ((error as { code?: unknown }).code === CLOSED) throw error;
        Object.assign(error, { attempts: n + 1 });
        report(error);
        if (n >= retries) throw error;
        await wait(backoff(n));
        continue;
      }
      if (!safeRetryOn(retryOn, res.status) || n >= retries) return res;
      let delay = backoff(n);
      if (res.status === 429 || res.status === 503) {
        const after = retryAfterMs(res.headers['retry-after']);
        if (after !== undefined) {
          if (after > maxBackoffMs) return res;
          delay = after;
        }
      }
      await wait(delay);
    }
  }

  function pump(): void {
    if (running) return;
    const job = queue.shift();
    if (job === undefined) return;
    running = true;
    run(job).then(job.resolve, job.reject).finally(() => {
      running = false;
      pump();
    });
  }

  return {
    request(req: ClientRequest): Promise<ClientResponse> {
      if (closed) return Promise.reject(closedError());
      let body: Buffer | undefined;
      try {
        body = checkRequest(req);
      } catch (err) {
        return Promise.reject(err as Error);
      }
      if (running && queue.length >= maxQueue) {
        return Promise.reject(coded(`probekit: the client queue is full (${maxQueue} requests waiting); the request was dropped`, QUEUE_FULL));
      }
      return new Promise<ClientResponse>((resolve, reject) => {
        queue.push({ req: { ...req }, body, resolve, reject });
        pump();
      });
    },
    close(): void {
      if (closed) return;
      closed = true;
      for (const job of queue.splice(0)) job.reject(closedError());
      closing.abort();
      if (ownAgent) agent.destroy();
    },
  };
}

function checkHeaders(where: string, value: unknown): Record<string, string> {
  const headers = checkObject(where, value);
  for (const [name, v] of Object.entries(headers)) {
    if (typeof v !== 'string') throw typeError(`${where} "${name}"`, 'a string', v);
  }
  return { ...(headers as Record<string, string>) };
}

/** Checks a request; returns its body as a Buffer (undefined without one). */
function checkRequest(req: unknown): Buffer | undefined {
  const r = checkObject('request() argument', req);
  checkKnownKeys('request() argument', r, ['method', 'path', 'headers', 'body', 'gzip']);
  const method = checkString('request() "method"', r.method);
  if (!/^[A-Za-z]+$/.test(method)) throw typeError('request() "method"', 'an HTTP method name', method);
  const path = checkString('request() "path"', r.path);
  if (!path.startsWith('/')) throw typeError('request() "path"', 'a path starting with "/"', path);
  if (r.headers !== undefined) checkHeaders('request() "headers"', r.headers);
  if (r.gzip !== undefined && typeof r.gzip !== 'boolean') throw typeError('request() "gzip"', 'a boolean', r.gzip);
  if (r.body === undefined) return undefined;
  if (typeof r.body === 'string') return Buffer.from(r.body, 'utf8');
  if (Buffer.isBuffer(r.body)) return r.body;
  throw typeError('request() "body"', 'a string or a Buffer', r.body);
}
