/**
 * HTTP push: the registry pushed to a Prometheus Pushgateway (text format 0.0.4) or to any
 * JSON endpoint, on a jittered interval, on `push()`, and once more when the process ends
 * (the lifecycle: `beforeExit`, `shutdown()`, a crash under process capture). Built on the
 * periodic exporter base and the transport client: one push in flight, retries with
 * backoff and jitter, a keep-alive connection that never holds the process.
 */
import { readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ErrorRecord } from '../../errors/record.js';
import { errors, type ErrorStore, storeOption } from '../../errors/store.js';
import { PeriodicExporter } from '../../lifecycle/periodic.js';
import type { Exporter } from '../../lifecycle/shutdown.js';
import { defaultRegistry, registryOption } from '../../probes/probe.js';
import type { Probe } from '../../probes/types.js';
import { checkAgent, checkHttpUrl, type ClientResponse, createClient } from '../../transport/client.js';
import { nodeHttp } from '../../util/lazy.js';
import { is, option, parseOptions, required, typeError } from '../../util/validate.js';
import { TEXT_CONTENT_TYPE } from '../prometheus/format.js';
import { Exposition } from '../prometheus/exposition.js';
import { Outbox, PAYLOAD_VERSION, type PushPayload, type PushService } from './json.js';
import { checkGrouping, groupPath } from './pushgateway.js';

export type { PushPayload, PushService } from './json.js';

/** What to push: the Prometheus text format to a Pushgateway, or the JSON payload. */
export type PushFormat = 'prometheus' | 'json';

/** Options of {@link httpPush}. */
export interface PushOptions {
  /**
   * Where to push: the Pushgateway's base URL (`http://gateway:9091`; the group path is
   * added), or the JSON endpoint's URL. User info in it (`https://user:pass@host`) is sent
   * as basic auth.
   */
  readonly url: string;
  /** @default 'prometheus' */
  readonly format?: PushFormat;
  /** The Pushgateway job (required with `format: 'prometheus'`). */
  readonly job?: string;
  /**
   * The Pushgateway grouping labels besides `job`: `'host'` (`{ instance: <hostname> }`),
   * `'process'` (`{ instance: <hostname>, pid: <pid> }`) or your own labels (`{}` for a
   * singleton job). @default 'host'
   */
  readonly grouping?: 'host' | 'process' | Readonly<Record<string, string>>;
  /** PUT replaces the whole group, POST only the families sent. @default 'PUT' for prometheus, 'POST' for json */
  readonly method?: 'PUT' | 'POST';
  /** Milliseconds between pushes (jittered ±10%, the first at a random point of the first interval); 0 pushes only when asked. @default 10000 */
  readonly interval?: number;
  /** Bound on one attempt, in ms. @default 5000 */
  readonly timeout?: number;
  /** Retries after a failed attempt (connection errors, timeouts, 429 and 5xx), with exponential backoff and jitter. @default 3 */
  readonly retries?: number;
  /** Headers sent with every push (`Authorization: 'Bearer …'`). @default {} */
  readonly headers?: Readonly<Record<string, string>>;
  /** An `http.Agent`/`https.Agent` (a CA, client certificates). @default a keep-alive agent of its own */
  readonly agent?: Agent;
  /** Gzip the body. @default false */
  readonly gzip?: boolean;
  /** Bound on `close()`'s last push (or DELETE), retries included, in ms; then the push is aborted and counted as failed. @default `timeout` */
  readonly closeTimeout?: number;
  /** On `close()`, DELETE the group from the Pushgateway instead of pushing a last time. @default false */
  readonly deleteOnClose?: boolean;
  /** JSON: who pushes. @default the package.json name in the working directory (or the script's name), and the hostname */
  readonly service?: { readonly name?: string; readonly instance?: string };
  /** JSON: most error records waiting for an acknowledged push; beyond it the oldest are dropped, counted. @default 1000 */
  readonly maxPendingErrors?: number;
  /** JSON: the error store whose records are pushed. @default the process-wide `errors` */
  readonly store?: ErrorStore;
  /** Registry to push. @default the default `probe` */
  readonly registry?: Probe;
  /** Called with every failure (a push that failed after its retries, a gateway's 400 with its text); never thrown. @default none */
  readonly onError?: (error: Error) => void;
}

/** What one push came to. `push()` never rejects: it resolves with this. */
export interface PushOutcome {
  /** True when the endpoint answered 2xx. */
  readonly ok: boolean;
  /** The last HTTP status; `null` when no answer came (connection error, timeout). */
  readonly status: number | null;
  /** Attempts made (1 when the first one answered). */
  readonly attempts: number;
  /** Why it failed; `null` when it did not. */
  readonly error: Error | null;
}

/** A running push exporter: an {@link Exporter} with `push()`. */
export interface PushExporter extends Exporter {
  /** Pushes now (after a push already under way) and resolves with the outcome; never rejects. */
  push(): Promise<PushOutcome>;
}

const PUSH_OPTIONS = {
  url: required(checkHttpUrl),
  format: option(is.oneOf(['prometheus', 'json'] as const), 'prometheus'),
  job: option(is.nonEmpty),
  grouping: option((where, v): 'host' | 'process' | Readonly<Record<string, string>> => (v === 'host' || v === 'process' ? v : checkGrouping(where, v)), 'host'),
  method: option(is.oneOf(['PUT', 'POST'] as const)),
  interval: option(is.integer(0), 10_000),
  timeout: option(is.integer(1), 5000),
  retries: option(is.integer(0, 10), 3),
  headers: option((where, v): Readonly<Record<string, string>> => {
    const headers = is.stringRecord(where, v);
    for (const [name, value] of Object.entries(headers)) {
      try {
        nodeHttp().validateHeaderName(name);
        nodeHttp().validateHeaderValue(name, value);
      } catch {
        throw typeError(`${where.replace(/"$/, '')}.${name}"`, 'a valid HTTP header (a token name, a value without line breaks)', value);
      }
    }
    return headers;
  }, {}),
  agent: option(checkAgent),
  gzip: option(is.boolean, false),
  closeTimeout: option(is.integer(1)),
  deleteOnClose: option(is.boolean, false),
  service: option((where, v): { name?: string; instance?: string } => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw typeError(where, 'an object with name and instance strings', v);
    const s = v as { name?: unknown; instance?: unknown };
    for (const key of ['name', 'instance'] as const) {
      if (s[key] !== undefined && (typeof s[key] !== 'string' || s[key] === '')) throw typeError(`${where.replace(/"$/, '')}.${key}"`, 'a non-empty string', s[key]);
    }
    return s as { name?: string; instance?: string };
  }, {}),
  maxPendingErrors: option(is.integer(0), 1000),
  store: storeOption,
  registry: registryOption,
  onError: option(is.function<(e: Error) => void>()),
};

/** The service name: package.json's name in the working directory, else the script's file name. */
function defaultServiceName(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof pkg.name === 'string' && pkg.name !== '') return pkg.name;
  } catch {
    // no readable package.json: fall back to the script
  }
  const script = process.argv[1];
  return script === undefined ? 'node' : (script.split(/[\\/]/).pop() ?? 'node').replace(/\.[cm]?js$/, '') || 'node';
}

/** A 2xx: the push was taken. */
const isOk = (status: number): boolean => status >= 200 && status < 300;

/** Retries connection errors, timeouts, 429 and every 5xx (the gateway's 400 is final). */
const retryOn = (status: number): boolean => status === 429 || status >= 500;

/**
 * Starts pushing the registry over HTTP; see {@link PushOptions}.
 *
 * @example
 * import { httpPush } from 'probekit/push';
 * const pusher = httpPush({ url: 'http://127.0.0.1:9091', job: 'nightly-report' });
 * // ... the job's work; the last values are pushed when the process ends, or:
 * await pusher.close();
 */
export function httpPush(options: PushOptions): PushExporter {
  const opts = parseOptions('httpPush()', PUSH_OPTIONS, options, { required: true });
  if (opts.format === 'prometheus' && opts.job === undefined) throw typeError('httpPush() option "job"', 'a non-empty string (the Pushgateway job) with format "prometheus"', opts.job);
  const registry = opts.registry ?? defaultRegistry;
  const method = opts.method ?? (opts.format === 'json' ? 'POST' : 'PUT');
  const host = hostname();
  const grouping =
    opts.grouping === 'host' ? { instance: host } : opts.grouping === 'process' ? { instance: host, pid: String(process.pid) } : opts.grouping;

  // Basic auth from the URL's user info; the client gets the URL without it.
  const url = opts.url;
  const headers: Record<string, string> = { ...opts.headers };
  if (url.username !== '' || url.password !== '') {
    let user: string;
    let password: string;
    try {
      user = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch {
      throw typeError('httpPush() option "url"', 'a URL whose user info is valid percent-encoding', options.url);
    }
    headers.Authorization ??= `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const basePath = url.pathname.replace(/\/+$/, '');
  // A query string in the URL (an API key) is kept on every request.
  const path = `${opts.format === 'prometheus' ? `${basePath}${groupPath(opts.job as string, grouping)}` : basePath === '' ? '/' : url.pathname}${url.search}`;
  const origin = url.origin;

  const dropped = registry
    .selfCounter('probekit_exporter_dropped', 'Lines or values an exporter dropped to stay within its memory bounds, by exporter', ['exporter'])
    .labels({ exporter: 'push' });
  const exposition = opts.format === 'prometheus' ? new Exposition('httpPush()', { registry }) : undefined;
  const outbox = opts.format === 'json' ? new Outbox(opts.maxPendingErrors, (n) => dropped.inc(n)) : undefined;
  const unsubscribe = outbox === undefined ? undefined : (opts.store ?? errors).onError((record: ErrorRecord) => outbox.add(record));
  const service: PushService = {
    name: opts.service.name ?? defaultServiceName(),
    instance: opts.service.instance ?? host,
    pid: process.pid,
    hostname: host,
  };

  // eslint-disable-next-line prefer-const -- assigned once the exporter (which reports failures) exists
  let exporter: PeriodicExporter;
  const client = createClient({
    url: origin,
    timeoutMs: opts.timeout,
    retries: opts.retries,
    headers,
    retryOn,
    ...(opts.agent === undefined ? {} : { agent: opts.agent }),
  });

  let last: PushOutcome = { ok: true, status: null, attempts: 0, error: null };
  let closing = false;

  function outcome(res: ClientResponse | undefined, error: Error | null): PushOutcome {
    const attempts = res?.attempts ?? (error as { attempts?: number } | null)?.attempts ?? 1;
    return { ok: res !== undefined && isOk(res.status), status: res?.status ?? null, attempts, error };
  }

  async function request(verb: string, body: string | Buffer | undefined, contentType: string | undefined): Promise<ClientResponse> {
    return client.request({
      method: verb,
      path,
      ...(contentType === undefined ? {} : { headers: { 'Content-Type': contentType } }),
      ...(body === undefined ? {} : { body, gzip: opts.gzip }),
    });
  }

  /** One push (or, closing with deleteOnClose, the DELETE); failures go to onError and the self-metric. */
  async function send(): Promise<void> {
    let res: ClientResponse | undefined;
    const verb = closing && opts.deleteOnClose ? 'DELETE' : method;
    try {
      if (verb === 'DELETE') {
        res = await request('DELETE', undefined, undefined);
      } else if (exposition !== undefined) {
        res = await request(method, await exposition.bytes({ openMetrics: false }), TEXT_CONTENT_TYPE);
      } else {
        const batch = (outbox as Outbox).batch();
        const payload: PushPayload = { version: PAYLOAD_VERSION, sentAt: new Date().toISOString(), service, probes: registry.snapshot(), errors: batch };
        res = await request(method, JSON.stringify(payload), 'application/json');
        if (isOk(res.status)) (outbox as Outbox).acknowledge(batch);
      }
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      last = outcome(undefined, error);
      exporter.fail(error);
      return;
    }
    if (isOk(res.status)) {
      last = outcome(res, null);
      return;
    }
    const text = res.body.toString('utf8').slice(0, 2048).trim();
    const error = Object.assign(new Error(`probekit: httpPush(): ${verb} ${origin}${path} answered ${res.status}${text === '' ? '' : `: ${text}`}`), {
      status: res.status,
      attempts: res.attempts,
    });
    last = outcome(res, error);
    exporter.fail(error);
  }

  exporter = new PeriodicExporter({
    name: 'push',
    registry,
    intervalMs: opts.interval,
    jitter: 0.2,
    onError: opts.onError,
    send,
    release: () => {
      unsubscribe?.();
      client.close();
    },
    // close(), shutdown() and a crash exit alike: the last send is the DELETE with
    // deleteOnClose, and it has closeTimeout, retries included, before the client aborts it.
    closing: () => {
      closing = true;
    },
    closeDeadline: { ms: opts.closeTimeout ?? opts.timeout, abort: () => client.close() },
  });

  return {
    push: () => exporter.flush().then(() => last),
    flush: () => exporter.flush(),
    close: () => exporter.close(),
  };
}
