/**
 * Seneca 3 instrumentation: `seneca.use(senecaProbe)` times every action the instance
 * runs, its own and the ones it sends to other services through `seneca.client()`, and
 * runs each action in a context of its own that carries the caller's.
 *
 * The hooks, and why:
 * - Metrics come from Seneca's public `inward()` and `outward()` hooks. They see every
 *   action, including ones added after the plugin, the calls a `client()` sends out
 *   (`actdef.client`), and messages no pattern matched, without wrapping any action: a
 *   user's `seneca.find(pattern).func` stays theirs.
 * - The context: Seneca queues every `act()` on its gate executor and runs the queue from
 *   `setImmediate`, so an action (and the caller's reply callback) runs in the async
 *   context of whoever started the queue, not of its caller: AsyncLocalStorage, and with
 *   it the request context, is lost through `act()` and `prior()`. The one place to mend
 *   that is the queue: each queued call is bound to the async context it was queued from
 *   (the root instance's gate executor is wrapped; gates made from it are wrapped too).
 *   That needs no hook per action and also gives the caller's reply callback its own
 *   context back.
 */
import { AsyncResource } from 'node:async_hooks';
import { context } from '../errors/context.js';
import { errors } from '../errors/store.js';
import { defaultRegistry } from '../probes/probe.js';
import type { Counter, Histogram, Probe } from '../probes/types.js';
import { is, option, type Parsed, parseOptions, typeError } from '../util/validate.js';
import { faultFor, INJECTED_FAULT, OTEL_BUCKETS, SHARED_OPTIONS } from './core.js';

/** The `rpc_method` of messages no pattern matched: one series, whatever was sent. */
export const UNMATCHED_PATTERN = 'unmatched';

/** The `rpc_method` of a `seneca.client()` without a pin (it takes every message nothing local matches). */
export const ANY_PATTERN = '*';

/** Seneca's own actions (transport, options, stats, plugin init): left out unless `internal` is on. */
const INTERNAL = /(?:^|,)(?:role:(?:seneca|transport|options)|sys:seneca|init:[^,]*|plugin:define)(?:,|$)/;

/** Options of {@link senecaProbe}. */
export interface SenecaProbeOptions {
  /** Duration buckets in seconds. @default OpenTelemetry's [0.005 … 10] */
  readonly buckets?: readonly number[];
  /** Static labels added to every series (`{ service: 'mortgage' }`). @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** Actions to leave out, by pattern (`'cmd:ping'`, Seneca's canonical order): `true` skips. @default none */
  readonly skip?: (pattern: string) => boolean;
  /** Also record Seneca's own actions (`role:seneca`, `role:transport`, `init:…`). @default false */
  readonly internal?: boolean;
  /** Notify the errors an action replies with or throws (with its pattern and message id). @default true */
  readonly notify?: boolean;
  /** Registry to record into. @default the default `probe` */
  readonly registry?: Probe;
}

/** The context store of an instrumented action: `context.get('pattern')` inside it. */
export interface SenecaActionContext {
  /** The action's pattern (`cmd:greet`), or the client pin it was sent through. */
  pattern: string;
  /** Seneca's message id (`<message>/<transaction>`), the same on the client and the server. */
  messageId: string;
}

const OPTIONS = {
  ...SHARED_OPTIONS,
  skip: option(is.function<(pattern: string) => boolean>()),
  internal: option(is.boolean, false),
  notify: option(is.boolean, true),
};

/** The parts of a Seneca action definition read here. */
interface ActDef {
  readonly pattern?: unknown;
  readonly client?: unknown;
}

/** The parts of Seneca's message metadata read here. */
interface Meta {
  readonly id?: unknown;
  readonly start?: unknown;
  readonly end?: unknown;
  /** The id of the action a `prior()` call came from. */
  readonly prior?: unknown;
  [STARTED]?: number;
}

/** What Seneca's inward and outward hooks are given. */
interface HookSpec {
  readonly ctx?: { readonly actdef?: ActDef | null };
  readonly data?: { readonly meta?: Meta; readonly err?: unknown; readonly msg?: unknown };
}

/** The gate executor: Seneca's queue of calls. */
interface GateExecutor {
  add(spec: { fn?: unknown }): unknown;
  gate(): GateExecutor;
}

/** A Seneca instance, as far as the plugin uses it. */
interface SenecaLike {
  readonly root?: SenecaLike;
  inward?(hook: (spec: HookSpec) => InwardStop | undefined): unknown;
  outward?(hook: (spec: HookSpec) => void): unknown;
  private$?: { ge?: GateExecutor };
  [INSTRUMENTED]?: true;
}

/** The moment an action started, on its metadata (the clock Seneca keeps there is whole milliseconds). */
const STARTED = Symbol('probekit.seneca.started');
/** Marks a root instance already instrumented: a second `use()` records nothing twice. */
const INSTRUMENTED = Symbol.for('probekit.seneca.instrumented');
/** Marks a gate executor whose queued calls keep their caller's context. */
const BOUND = Symbol.for('probekit.seneca.bound');
/** The context store the queue made for each call, and the caller's async context it was queued from. */
const callers = new WeakMap<object, AsyncResource>();
/** Errors already notified: an error handed up a chain of actions is notified once. */
const notified = new WeakSet<object>();

/** One side's metrics: server (actions run here) or client (calls sent out). */
interface Side {
  readonly duration: Histogram<string, never>;
  readonly calls: Counter<string>;
}

/**
 * A Seneca plugin: `seneca.use(senecaProbe, options?)`. Records, per action pattern,
 * `rpc_server_duration_seconds` and `rpc_server_calls_total` for the actions this
 * instance runs, `rpc_client_duration_seconds` and `rpc_client_calls_total` for the ones
 * it sends through `seneca.client()`, each with `rpc_system="seneca"`, `rpc_method` (the
 * pattern; `unmatched` when none matched) and, on durations, `error_type` (the error's
 * code or name; empty on success). Each action runs in a context carrying its `pattern`
 * and `messageId` and the keys of its caller's context, through `act()` and `prior()`;
 * an error it replies with or throws is notified with that context.
 *
 * Seneca deep-copies the options it hands a plugin, so objects such as a `registry` go
 * through {@link senecaPlugin} instead.
 *
 * @example
 * const seneca = require('seneca')();
 * const { senecaProbe } = require('probekit/seneca');
 * seneca.use(senecaProbe);
 * seneca.add({ cmd: 'greet' }, (msg, reply) => reply(null, { hello: msg.name }));
 * seneca.listen({ type: 'http', port: 8085 });
 */
export function senecaProbe(this: unknown, options?: SenecaProbeOptions): void {
  install(this, parseOptions('senecaProbe()', OPTIONS, options ?? {}));
}

/** A Seneca plugin: what {@link senecaPlugin} returns, for `seneca.use()`. */
export type SenecaPlugin = (this: unknown, options?: SenecaProbeOptions) => void;

/**
 * {@link senecaProbe} with its options given here rather than through `seneca.use()`,
 * which deep-copies them: the way to pass a `registry`. Checks the options now.
 *
 * @example
 * const { createProbe } = require('probekit');
 * const { senecaPlugin } = require('probekit/seneca');
 * seneca.use(senecaPlugin({ registry: createProbe({ prefix: 'billing' }), labels: { service: 'billing' } }));
 */
export function senecaPlugin(options: SenecaProbeOptions = {}): SenecaPlugin {
  const opts = parseOptions('senecaPlugin()', OPTIONS, options);
  // Named as the plain plugin is, so Seneca sees one plugin whichever way it is used.
  return {
    senecaProbe(this: unknown): void {
      install(this, opts);
    },
  }.senecaProbe;
}

/** Hooks the instance `self` belongs to, once per root instance. */
function install(self: unknown, opts: Parsed<typeof OPTIONS>): void {
  const instance = self as SenecaLike | undefined;
  const root = instance?.root ?? instance;
  if (root === undefined || root === null || typeof root.inward !== 'function' || typeof root.outward !== 'function') {
    throw typeError('senecaProbe() "this"', 'a Seneca 3 instance (give senecaProbe to seneca.use())', self);
  }
  if (root[INSTRUMENTED] === true) {
    process.emitWarning('probekit: senecaProbe is already in use on this Seneca instance; this use() changes nothing (its options are ignored)', { code: 'PROBEKIT_SENECA_TWICE' });
    return;
  }
  root[INSTRUMENTED] = true;

  const registry = opts.registry ?? defaultRegistry;
  const now = registry.time.precise; // performance.now(), or the registry's injected clock
  const fixed = Object.keys(opts.labels);
  const buckets = (opts.buckets as readonly number[] | undefined) ?? OTEL_BUCKETS;
  const side = (kind: 'server' | 'client', help: string): Side => ({
    duration: registry.histogram({
      name: `rpc_${kind}_duration`,
      unit: 's',
      help: `Duration of ${help}`,
      buckets,
      labels: ['rpc_system', 'rpc_method', 'error_type', ...fixed],
    }) as unknown as Histogram<string, never>,
    calls: registry.counter({
      name: `rpc_${kind}_calls`,
      monotonic: true,
      help: `${help}, counted when each starts`,
      labels: ['rpc_system', 'rpc_method', ...fixed],
    }) as unknown as Counter<string>,
  });
  const server = side('server', 'Seneca actions run by this process');
  const client = side('client', 'Seneca calls sent to other services through seneca.client()');
  const staticLabels = opts.labels;
  const { skip, internal } = opts;
  const notify = opts.notify;

  /** The recorded pattern of an action, or undefined when it is left out. */
  const patternOf = (actdef: ActDef): string | undefined => {
    const raw = actdef.pattern;
    const pattern = typeof raw === 'string' ? (raw === '' ? ANY_PATTERN : raw) : ANY_PATTERN;
    if (!internal && INTERNAL.test(pattern)) return undefined;
    if (skip !== undefined) {
      try {
        if (skip(pattern) === true) return undefined;
      } catch {
        // a throwing skip() leaves the action in
      }
    }
    return pattern;
  };

  const count = (s: Side, pattern: string): void => {
    s.calls.labels({ rpc_system: 'seneca', rpc_method: pattern, ...staticLabels } as never).inc();
  };

  root.inward((spec): InwardStop | undefined => {
    try {
      const actdef = spec.ctx?.actdef;
      const meta = spec.data?.meta;
      // A prior() call runs inside the action that made it, which is timed already.
      if (actdef === undefined || actdef === null || meta === undefined || meta === null || meta.prior) return;
      const pattern = patternOf(actdef);
      if (pattern === undefined) return;
      // A client without a pin takes every message, Seneca's own (plugin init) included.
      if (!internal && pattern === ANY_PATTERN && isInternalMessage(spec.data?.msg)) return;
      meta[STARTED] = now();
      count(actdef.client === true ? client : server, pattern);
      const store = context.get() as Partial<SenecaActionContext> | undefined;
      const caller = store === undefined ? undefined : callers.get(store);
      if (store !== undefined && caller !== undefined) {
        store.pattern = pattern;
        store.messageId = typeof meta.id === 'string' ? meta.id : '';
        // The caller's reply callback runs in the caller's context, not in the action's.
        const ctx = spec.ctx as { reply?: unknown };
        if (typeof ctx.reply === 'function') ctx.reply = caller.bind(ctx.reply as (...a: unknown[]) => unknown);
      }
      if (actdef.client !== true) return injectFault(spec, pattern);
    } catch {
      // never into the application's action
    }
    return undefined;
  });

  root.outward((spec) => {
    try {
      const actdef = spec.ctx?.actdef;
      const meta = spec.data?.meta;
      if (meta === undefined || meta === null) return;
      const err = unwrap(spec.data?.err ?? undefined);
      let pattern: string | undefined;
      let s = server;
      let seconds: number;
      const started = meta[STARTED];
      if (actdef === undefined || actdef === null) {
        // No action matched: the inward hooks stopped before ours. (A message with
        // `default$` is answered with its default instead: not a call of anything.)
        if ((err as { code?: unknown } | undefined)?.code !== 'act_not_found') return;
        pattern = UNMATCHED_PATTERN;
        count(server, pattern);
        seconds = typeof meta.start === 'number' && typeof meta.end === 'number' ? Math.max(0, meta.end - meta.start) / 1000 : 0;
      } else {
        if (started === undefined) return; // left out, or started before the plugin
        pattern = patternOf(actdef);
        if (pattern === undefined) return;
        if (actdef.client === true) s = client;
        seconds = (now() - started) / 1000;
      }
      meta[STARTED] = undefined;
      const labels = { rpc_system: 'seneca', rpc_method: pattern, error_type: err === undefined ? '' : errorType(err), ...staticLabels };
      s.duration.labels(labels as never).observe(seconds);
      if (err !== undefined && notify && s === server && actdef !== undefined && actdef !== null && err !== null && typeof err === 'object' && !notified.has(err)) {
        notified.add(err);
        errors.notify(err, undefined, 'seneca');
      }
    } catch {
      // never into the application's reply
    }
  });

  bindQueue(root);
}

/** A message of Seneca's own (`role:seneca`, `role:transport`, `role:options`, `sys:seneca`, a plugin's `init:`). */
function isInternalMessage(msg: unknown): boolean {
  if (msg === null || typeof msg !== 'object') return false;
  const m = msg as { role?: unknown; sys?: unknown; init?: unknown };
  return m.role === 'seneca' || m.role === 'transport' || m.role === 'options' || m.sys === 'seneca' || m.init !== undefined;
}

/** What an inward hook returns to answer a call itself (Seneca's contract). */
interface InwardStop {
  readonly op: 'stop';
  readonly out: { readonly kind: 'error'; readonly error: Error };
}

/**
 * Asks the fault injector about an action: an error answers the call instead of the
 * action (`error_type="injected_fault"`, never notified); a delay holds the action's reply
 * back, so the caller and the action's duration both see it.
 */
function injectFault(spec: HookSpec, pattern: string): InwardStop | undefined {
  const fault = faultFor({ kind: 'rpc', route: pattern, path: pattern, method: 'seneca' });
  if (fault === undefined) return undefined;
  if (fault.kind === 'error') {
    const error = Object.assign(new Error(fault.message), { code: INJECTED_FAULT, status: fault.status });
    notified.add(error);
    return { op: 'stop', out: { kind: 'error', error } };
  }
  const data = spec.data as { reply?: unknown } | undefined;
  const reply = data?.reply;
  if (data !== undefined && typeof reply === 'function') {
    data.reply = function (this: unknown, ...args: unknown[]) {
      setTimeout(() => (reply as (...a: unknown[]) => unknown).apply(this, args), fault.ms);
    };
  }
  return undefined;
}

/**
 * The error an action failed with: Seneca (by default) wraps it in its own `act_execute`
 * error, keeping the original as `orig`.
 */
function unwrap(err: unknown): unknown {
  try {
    if (err === null || typeof err !== 'object') return err;
    const e = err as { seneca?: unknown; code?: unknown; orig?: unknown };
    if (e.seneca === true && e.code === 'act_execute' && e.orig !== null && typeof e.orig === 'object') return e.orig;
  } catch {
    // a hostile error: as it is
  }
  return err;
}

/** The `error_type` of an error: its code when it is a short word (`ECONNREFUSED`, `action_timeout`), else its name. */
function errorType(err: unknown): string {
  try {
    if (err === null || typeof err !== 'object') return 'Error';
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
    const name = (err as { name?: unknown }).name;
    return typeof name === 'string' && name !== '' ? name.slice(0, 64) : 'Error';
  } catch {
    return 'Error';
  }
}

/**
 * Binds each call queued on the instance's gate executor to the async context it was
 * queued from, in a context store of its own that starts as a copy of the caller's.
 */
function bindQueue(root: SenecaLike): void {
  const privates = root.private$;
  const ge = privates?.ge;
  if (privates === undefined || ge === undefined || typeof ge.add !== 'function' || typeof ge.gate !== 'function') {
    process.emitWarning('probekit: this Seneca has no gate executor where 3.x keeps it; actions are timed, but run without their caller\'s context', { code: 'PROBEKIT_SENECA_CONTEXT' });
    return;
  }
  privates.ge = bound(ge);
}

/** A gate executor whose `add()` binds each call's function, and whose gates do the same. */
function bound(ge: GateExecutor): GateExecutor {
  if ((ge as GateExecutor & { [BOUND]?: true })[BOUND] === true) return ge;
  const wrapper = Object.create(ge) as GateExecutor & { [BOUND]?: true };
  wrapper[BOUND] = true;
  wrapper.add = function (spec) {
    try {
      const fn = spec?.fn;
      if (typeof fn === 'function') {
        const parent = context.get();
        const store: Record<string, unknown> = parent === undefined ? {} : { ...parent };
        // The caller's async context, for the action and, through the inward hook, its reply.
        const caller = new AsyncResource('probekit.seneca.act');
        callers.set(store, caller);
        spec.fn = function (this: unknown, ...args: unknown[]) {
          return caller.runInAsyncScope(() => context.run(store, () => (fn as (...a: unknown[]) => unknown).apply(this, args)));
        };
      }
    } catch {
      // the call is queued as it came
    }
    return ge.add(spec);
  };
  wrapper.gate = function () {
    return bound(ge.gate());
  };
  return wrapper;
}
