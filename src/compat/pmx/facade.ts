/**
 * `probekit/pmx`: pmx 1.6's API (and @pm2/io's names beside it) on probekit. The probes
 * are probekit probes in the default registry, errors go to probekit's store, actions to
 * the shared action registry; under PM2 an agent speaks PM2's IPC protocol as pmx did:
 *
 * | message | when |
 * |---|---|
 * | `axm:option:configuration` | `init()`, `catchAll()`, `expressErrorHandler()` |
 * | `axm:monitor` `{ [name]: { value, type, unit, agg_type, historic } }` | every second, one `unref()`ed timer |
 * | `axm:action` `{ action_name, action_type, arity, opts }` | each action registered |
 * | `axm:reply` `{ action_name, return, at }` | a plain action's answer |
 * | `axm:scoped_action:stream` / `:error` / `:end` `{ action_name, uuid, data }` | a scoped action's output |
 * | `process:exception` `{ name, message, stack, metadata }` | each error the store takes |
 * | `human:event` `{ __name, ...data }` | `emit()` |
 *
 * Outside PM2 nothing is sent and no timer or listener is installed.
 */
import { type ActionFunction, type ActionRegistry, actions as sharedActions, checkActionName } from '../../admin/actions.js';
import { errors as sharedErrors, type ErrorStore } from '../../errors/store.js';
import type { ErrorRecord } from '../../errors/record.js';
import { addPending } from '../../lifecycle/shutdown.js';
import { expressErrors } from '../../middleware/express.js';
import { defaultRegistry, type Registry } from '../../probes/probe.js';
import type { Counter, Meter } from '../../probes/types.js';
import { shared } from '../../util/shared.js';
import { typeError } from '../../util/validate.js';
import { configurationFor, parseInitOptions, type PmxInitOptions, type Started, startCore } from './init.js';
import { type Pm2Link, processLink, underPm2 } from './ipc.js';
import {
  type MonitoredProbe,
  pmxCounter,
  pmxHistogram,
  type PmxHistogram,
  type PmxHistogramOptions,
  pmxMeter,
  type PmxMeterOptions,
  pmxMetric,
  type PmxMetric,
  type PmxMetricOptions,
  type PmxCounterOptions,
} from './probes.js';

/** Milliseconds between two `axm:monitor` messages (pmx sent one every 990 ms). */
export const MONITOR_INTERVAL_MS = 1000;
/** Largest `emit()` payload, as JSON text; a larger one is replaced by a note saying so. */
export const MAX_EVENT_BYTES = 64 * 1024;

/** The timer functions the agent uses; a test passes its own to drive the monitor by hand. */
export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** What an agent is made of; {@link createAgent}'s defaults are the process-wide ones. */
export interface AgentOptions {
  readonly registry?: Registry;
  readonly store?: ErrorStore;
  readonly actions?: ActionRegistry;
  /** The channel to PM2; `undefined` outside PM2 (nothing is sent). */
  readonly link?: Pm2Link | undefined;
  readonly timers?: Timers;
  /** Monotonic milliseconds, for the loop-delay probe. */
  readonly now?: () => number;
  /** How long an action may take before PM2 gets an error reply, in ms. @default 30000 */
  readonly actionTimeoutMs?: number;
  /**
   * PM2's own agent (loaded into every fork-mode process) reports uncaught exceptions and
   * unhandled rejections itself: probekit then forwards only the other errors, so PM2 sees
   * each error once. @default detected
   */
  readonly pm2CatchesUncaught?: boolean;
}

/** pmx's `probe()`: the four probe factories. */
export interface PmxProbe {
  /** A value you set, or a function read at every report (`{ name, value?, unit? }`). */
  metric(options: PmxMetricOptions): PmxMetric;
  /** A count that goes up and down (`inc()`, `dec()`, `reset()`, `val()`). */
  counter(options: PmxCounterOptions): Counter;
  /** Events per `samples` seconds over the last `timeframe` seconds (`mark()`, `val()`). */
  meter(options: PmxMeterOptions): Meter;
  /** A distribution reported as its `measurement` (`update()`, `val()`). */
  histogram(options: PmxHistogramOptions): PmxHistogram;
}

/** A scoped action's output channel (pmx's `res`). */
export interface PmxActionStream {
  send(data: unknown): void;
  error(data: unknown): void;
  end(data?: unknown): void;
}

function pm2AgentPresent(): boolean {
  return Object.getOwnPropertySymbols(globalThis).includes(Symbol.for('@pm2/io')) && process.env.exec_mode !== 'cluster_mode';
}

/** Monotonic milliseconds. */
function monotonicNow(): number {
  return performance.now();
}

/** What `process:exception` carries of a record: @pm2/io's fields. */
function exceptionPayload(record: ErrorRecord): Record<string, unknown> {
  return {
    name: record.name,
    message: record.message,
    stack: record.stack ?? `${record.name}: ${record.message}`,
    metadata: record.context,
  };
}

/** `emit()`'s data as `human:event` carries it: a JSON-safe copy with `__name`. */
function eventPayload(name: string, data: unknown): Record<string, unknown> {
  let payload: Record<string, unknown>;
  try {
    const text = JSON.stringify(data);
    if (text !== undefined && text.length > MAX_EVENT_BYTES) {
      payload = { data: `[event data of ${text.length} bytes left out: more than ${MAX_EVENT_BYTES}]` };
    } else {
      const copy: unknown = text === undefined ? undefined : JSON.parse(text);
      payload = copy !== null && typeof copy === 'object' && !Array.isArray(copy) ? (copy as Record<string, unknown>) : { data: copy };
    }
  } catch {
    payload = { data: '[event data that cannot be serialised]' };
  }
  // pmx's key for the event name (a member access would read like a probe's private field).
  return Object.assign(payload, { ['__name']: name });
}

/** One trigger message from PM2: `'name'`, `{ msg, opts, uuid }` or pmx's `{ action_name, opts, uuid }`. */
function parseTrigger(message: unknown): { name: string; params: unknown; uuid: unknown } | undefined {
  if (typeof message === 'string') return { name: message, params: undefined, uuid: undefined };
  if (message === null || typeof message !== 'object') return undefined;
  const m = message as Record<string, unknown>;
  const name = typeof m.msg === 'string' ? m.msg : typeof m.action_name === 'string' ? m.action_name : undefined;
  return name === undefined ? undefined : { name, params: m.opts ?? undefined, uuid: m.uuid };
}

/** The pmx facade's state: its probes, and its link to PM2 once used. */
export class PmxAgent {
  private readonly registry: Registry;
  private readonly store: ErrorStore;
  private readonly actions: ActionRegistry;
  private readonly link: Pm2Link | undefined;
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly actionTimeoutMs: number;
  private readonly pm2CatchesUncaught: boolean;
  /** Facade probes by name, as the monitor reports them. */
  private readonly monitored = new Map<string, MonitoredProbe>();
  private active = false;
  private timer: unknown = undefined;
  private lastTick: number | undefined = undefined;
  private loopDelay: PmxHistogram | undefined;
  private stops: Array<() => void> = [];
  private core: Started | undefined;
  private catching: Started | undefined;

  constructor(options: AgentOptions = {}) {
    this.registry = options.registry ?? defaultRegistry;
    this.store = options.store ?? sharedErrors;
    this.actions = options.actions ?? sharedActions;
    this.link = options.link;
    this.timers = options.timers ?? { setInterval: (fn, ms) => setInterval(fn, ms), clearInterval: (h) => clearInterval(h as NodeJS.Timeout) };
    this.now = options.now ?? monotonicNow;
    this.actionTimeoutMs = options.actionTimeoutMs ?? 30_000;
    this.pm2CatchesUncaught = options.pm2CatchesUncaught ?? pm2AgentPresent();
  }

  /** True when this agent talks to PM2. */
  get connected(): boolean {
    return this.link !== undefined && this.active;
  }

  /**
   * pmx's `init()`: starts what the options ask for (see init.ts), registers PM2's default
   * probes under PM2, and tells PM2 the configuration. A second call only sends the
   * configuration again.
   */
  init(options?: PmxInitOptions): void {
    const core = parseInitOptions(options);
    this.activate();
    if (this.core === undefined) {
      this.core = startCore({ ...core, errors: core.errors && this.catching === undefined }, this.store);
      if (core.customProbes && this.link !== undefined) this.defaultProbes();
    }
    this.link?.send('axm:option:configuration', configurationFor(options, core));
  }

  /** pmx's `probe()`. */
  probe(): PmxProbe {
    return {
      metric: (o) => this.metric(o),
      counter: (o) => this.counter(o),
      meter: (o) => this.meter(o),
      histogram: (o) => this.histogram(o),
    };
  }

  /** See {@link PmxProbe.metric}. */
  metric(options: PmxMetricOptions): PmxMetric {
    return this.keep(pmxMetric(this.registry, options));
  }

  /** See {@link PmxProbe.counter}. */
  counter(options: PmxCounterOptions): Counter {
    return this.keep(pmxCounter(this.registry, options));
  }

  /** See {@link PmxProbe.meter}. */
  meter(options: PmxMeterOptions): Meter {
    return this.keep(pmxMeter(this.registry, options));
  }

  /** See {@link PmxProbe.histogram}. */
  histogram(options: PmxHistogramOptions): PmxHistogram {
    return this.keep(pmxHistogram(this.registry, options));
  }

  /** Records an error in probekit's store (and so for PM2's bus). Never throws; returns the record. */
  notify(error: unknown, context?: unknown): ErrorRecord {
    try {
      this.activate();
    } catch {
      // recording an error must not fail because of PM2
    }
    const ctx = context !== null && typeof context === 'object' ? (context as Record<string, unknown>) : undefined;
    return this.store.notify(error, ctx);
  }

  /** pmx's `catchAll()`: captures uncaught errors as `init({ errors: true })` does. */
  catchAll(options?: { readonly errors?: boolean }): void {
    this.activate();
    const errors = options?.errors ?? true;
    this.link?.send('axm:option:configuration', { error: errors });
    if (!errors || this.catching !== undefined || this.core !== undefined) return;
    this.catching = startCore({ errors: true, http: false, customProbes: false }, this.store);
  }

  /** pmx's `expressErrorHandler()`: probekit's `expressErrors()`, with PM2 told errors are caught. */
  expressErrorHandler(): ReturnType<typeof expressErrors> {
    this.activate();
    this.link?.send('axm:option:configuration', { error: true });
    return expressErrors();
  }

  /** pmx's `action(name, [opts], fn)`. Throws a `TypeError` for a bad name or function. */
  action(name: string, opts: unknown, fn?: unknown): void {
    const [options, handler] = fn === undefined && typeof opts === 'function' ? [undefined, opts] : [opts, fn];
    checkActionName('action() argument "name"', name);
    if (typeof handler !== 'function') throw typeError('action() argument "fn"', 'a function', handler);
    this.activate();
    this.actions.register(name, { fn: handler as ActionFunction, opts: options ?? null });
  }

  /** pmx's `scopedAction(name, fn(params, res))`: output streamed through `res.send()`, `res.error()`, `res.end()`. */
  scopedAction(name: string, fn: (params: unknown, res: PmxActionStream) => unknown): void {
    checkActionName('scopedAction() argument "name"', name);
    if (typeof fn !== 'function') throw typeError('scopedAction() argument "fn"', 'a function', fn);
    this.activate();
    this.actions.register(name, { fn: fn as ActionFunction, scoped: true });
  }

  /** pmx's `emit(name, data)`: a `human:event` for PM2. Never throws; false when nothing was sent. */
  emit(name: unknown, data?: unknown): boolean {
    if (typeof name !== 'string' || name === '') return false;
    try {
      this.activate();
      return this.link?.send('human:event', eventPayload(name, data)) ?? false;
    } catch {
      return false;
    }
  }

  /** Stops talking to PM2 and stops what `init()` started. Probes keep working; `init()` starts again. */
  destroy(): void {
    this.core?.close();
    this.core = undefined;
    this.catching?.close();
    this.catching = undefined;
    if (this.timer !== undefined) this.timers.clearInterval(this.timer);
    this.timer = undefined;
    for (const stop of this.stops.splice(0)) stop();
    this.link?.close();
    this.active = false;
  }

  /** Sends one `axm:monitor` with every facade probe's value now (the timer calls it every second). */
  tick(): void {
    const link = this.link;
    if (link === undefined) return;
    const now = this.now();
    if (this.loopDelay !== undefined && this.lastTick !== undefined) this.loopDelay.update(Math.max(0, now - this.lastTick - MONITOR_INTERVAL_MS));
    this.lastTick = now;
    const data: Record<string, Record<string, unknown>> = {};
    for (const probe of this.monitored.values()) {
      let value: number | string | boolean | undefined;
      try {
        value = probe.value();
      } catch {
        value = undefined;
      }
      if (value === undefined) continue;
      const entry: Record<string, unknown> = { value, type: probe.type, historic: probe.historic };
      if (probe.unit !== undefined) entry.unit = probe.unit;
      if (probe.aggType !== 'none') entry.agg_type = probe.aggType;
      data[probe.name] = entry;
    }
    if (Object.keys(data).length > 0) link.send('axm:monitor', data);
  }

  private keep<P>(made: { readonly probe: P; readonly monitored: MonitoredProbe }): P {
    this.monitored.set(made.monitored.name, made.monitored);
    this.activate();
    return made.probe;
  }

  /** Connects to PM2 on first use: errors, actions and the monitor timer. Nothing outside PM2. */
  private activate(): void {
    const link = this.link;
    if (this.active || link === undefined) return;
    this.active = true;
    const announce = (info: { name: string; scoped: boolean; arity: number; opts: unknown }): void => {
      link.send('axm:action', { action_name: info.name, action_type: info.scoped ? 'scoped' : 'custom', arity: info.arity, opts: info.opts ?? null });
    };
    this.stops.push(this.actions.onRegister(announce));
    for (const info of this.actions.list()) announce(info);
    this.stops.push(
      this.store.onError((record) => {
        if (this.pm2CatchesUncaught && (record.source === 'uncaughtException' || record.source === 'unhandledRejection')) return;
        link.send('process:exception', exceptionPayload(record));
      }),
    );
    // A crash exit waits (within its deadline) until what was handed to the channel is written.
    this.stops.push(addPending(() => link.drain()));
    this.stops.push(link.onMessage((message) => this.onTrigger(link, message)));
    this.lastTick = this.now();
    const timer = this.timers.setInterval(() => this.tick(), MONITOR_INTERVAL_MS);
    (timer as { unref?: () => void } | undefined)?.unref?.();
    this.timer = timer;
  }

  private onTrigger(link: Pm2Link, message: unknown): void {
    const trigger = parseTrigger(message);
    if (trigger === undefined || !this.actions.has(trigger.name)) return;
    const { name, params, uuid } = trigger;
    const scoped = this.actions.list().find((a) => a.name === name)?.scoped === true;
    if (scoped && uuid === undefined) return; // pmx answers a scoped action only within a session
    void this.actions
      .run(name, params, {
        timeoutMs: this.actionTimeoutMs,
        ...(scoped ? { onStream: (kind: 'stream' | 'error' | 'end', data: unknown) => link.send(`axm:scoped_action:${kind}`, { action_name: name, uuid, data }) } : {}),
      })
      .then((result) => {
        if (scoped) return;
        const answer = result.ok ? result.value : { success: false, error: result.error };
        link.send('axm:reply', { action_name: name, return: answer, at: Date.now() });
      });
  }

  /** PM2's default probes, as pmx 1.6 registered them; one whose name is taken is left out. */
  private defaultProbes(): void {
    const tryAdd = (add: () => void): void => {
      try {
        add();
      } catch {
        // the application has a probe of that name: its own stays
      }
    };
    tryAdd(() => {
      this.loopDelay = this.histogram({ name: 'Loop delay', type: 'libuv/latency', measurement: 'mean', unit: 'ms' });
    });
    tryAdd(() => void this.metric({ name: 'Active requests', value: () => activeResources().requests }));
    tryAdd(() => void this.metric({ name: 'Active handles', value: () => activeResources().handles }));
  }
}

/**
 * Active resources as pmx counted them: requests (file system, DNS, writes in flight) and
 * handles (sockets, servers, pipes, ...), from Node's documented
 * `process.getActiveResourcesInfo()`; timers are counted as neither, as pmx did not.
 */
export function activeResources(): { requests: number; handles: number } {
  let requests = 0;
  let handles = 0;
  for (const type of process.getActiveResourcesInfo()) {
    if (type === 'Timeout' || type === 'Immediate') continue;
    if (/Req|Wrap$/.test(type) && !/^(TCP|Pipe|TTY|UDP|Process|Signal|FSEvent|StatWatcher)Wrap$/.test(type)) requests++;
    else handles++;
  }
  return { requests, handles };
}

/** An agent with the process-wide registry, store and actions; under PM2, linked to it. */
export function createAgent(options: AgentOptions = {}): PmxAgent {
  const registry = options.registry ?? defaultRegistry;
  return new PmxAgent({ ...options, registry, link: 'link' in options ? options.link : underPm2() ? processLink(registry) : undefined });
}

/** The process-wide agent, made on first use (importing the facade installs nothing). */
export function agent(): PmxAgent {
  return shared('pmx', () => createAgent());
}
