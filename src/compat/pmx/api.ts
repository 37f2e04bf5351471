/**
 * The functions `probekit/pmx` exports: pmx 1.6's names and @pm2/io's, each a thin call
 * into the process-wide agent (facade.ts). `init()` returns the module's functions as one
 * object, so `require('probekit/pmx').init({...}).probe()` reads as it did with pmx.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRecord } from '../../errors/record.js';
import type { Counter, Meter } from '../../probes/types.js';
import { agent, type PmxActionStream, type PmxProbe } from './facade.js';
import type { PmxInitOptions } from './init.js';
import type { PmxCounterOptions, PmxHistogram, PmxHistogramOptions, PmxMeterOptions, PmxMetric, PmxMetricOptions } from './probes.js';

/** Everything `probekit/pmx` exports, as `init()` returns it. */
export interface Pmx {
  init(options?: PmxInitOptions): Pmx;
  probe(): PmxProbe;
  metric(options: PmxMetricOptions): PmxMetric;
  counter(options: PmxCounterOptions): Counter;
  meter(options: PmxMeterOptions): Meter;
  histogram(options: PmxHistogramOptions): PmxHistogram;
  notify(error: unknown, context?: unknown): ErrorRecord;
  notifyError(error: unknown, context?: unknown): ErrorRecord;
  catchAll(options?: { readonly errors?: boolean }): void;
  action(name: string, fn: PmxActionFunction): void;
  action(name: string, opts: PmxActionOptions, fn: PmxActionFunction): void;
  scopedAction(name: string, fn: (params: unknown, res: PmxActionStream) => unknown): void;
  emit(name: string, data?: unknown): boolean;
  expressErrorHandler(): PmxErrorHandler;
  destroy(): void;
}

/** Express error middleware, as `expressErrorHandler()` returns it. */
export type PmxErrorHandler = (err: unknown, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Starts the facade as pmx's `init()` did: error capture (`errors`), node:http metrics
 * (`http`), and under PM2 its default probes and the configuration message. Every other
 * pmx or @pm2/io option is accepted. Returns the module's functions.
 *
 * @example
 * const pmx = require('probekit/pmx').init({ http: true, errors: true, custom_probes: true });
 * const probe = pmx.probe();
 */
export function init(options?: PmxInitOptions): Pmx {
  agent().init(options);
  return pmx;
}

/**
 * pmx's probe factories: `metric`, `counter`, `meter`, `histogram`.
 *
 * @example
 * const probe = require('probekit/pmx').probe();
 * const lastCall = probe.metric({ name: 'Last call' });
 * lastCall.set(new Date().toISOString()); // Prometheus: a timestamp; PM2: the string
 */
export function probe(): PmxProbe {
  return agent().probe();
}

/**
 * @pm2/io's `metric()`: a value or a function (`{ name, value?, unit? }`); `set()`, `val()`.
 *
 * @example
 * const users = metric({ name: 'Realtime users', value: () => sessions.size });
 */
export function metric(options: PmxMetricOptions): PmxMetric {
  return agent().metric(options);
}

/**
 * @pm2/io's `counter()`: probekit's up-and-down counter.
 *
 * @example
 * const jobs = counter({ name: 'Jobs in queue' });
 * jobs.inc();
 */
export function counter(options: PmxCounterOptions): Counter {
  return agent().counter(options);
}

/**
 * @pm2/io's `meter()`: events per `samples` seconds over the last `timeframe` seconds.
 *
 * @example
 * const rpm = meter({ name: 'Calls per minute', samples: 60, timeframe: 3600 });
 * rpm.mark();
 */
export function meter(options: PmxMeterOptions): Meter {
  return agent().meter(options);
}

/**
 * @pm2/io's `histogram()`: reported to PM2 as its `measurement` (default `mean`).
 *
 * @example
 * const latency = histogram({ name: 'latency', unit: 'ms', measurement: 'p95' });
 * latency.update(12);
 */
export function histogram(options: PmxHistogramOptions): PmxHistogram {
  return agent().histogram(options);
}

/**
 * pmx's `notify(err | string | object)`: records the error in probekit's store (and, under
 * PM2, sends `process:exception`). Never throws; returns the record.
 *
 * @example
 * notify(new Error('Unexpected Exception!'));
 */
export function notify(error: unknown, context?: unknown): ErrorRecord {
  return agent().notify(error, context);
}

/**
 * @pm2/io's `notifyError(err, context?)`: {@link notify} with a context.
 *
 * @example
 * notifyError(new Error('card declined'), { orderId: 42 });
 */
export function notifyError(error: unknown, context?: unknown): ErrorRecord {
  return agent().notify(error, context);
}

/**
 * pmx's `catchAll()`: captures uncaught exceptions and unhandled rejections without
 * changing how the process ends.
 *
 * @example
 * require('probekit/pmx').catchAll();
 */
export function catchAll(options?: { readonly errors?: boolean }): void {
  agent().catchAll(options);
}

/**
 * pmx's `action(name, [opts], fn(reply))` (`fn(params, reply)` with two parameters):
 * registered in probekit's action registry; under PM2, `pm2 trigger <app> <name>` runs it.
 * Throws a `TypeError` for a bad name or function.
 *
 * @example
 * action('memory-leak', (reply) => reply({ names: names.length }));
 */
export function action(name: string, fn: PmxActionFunction): void;
export function action(name: string, opts: PmxActionOptions, fn: PmxActionFunction): void;
export function action(name: string, optsOrFn: unknown, fn?: unknown): void {
  agent().action(name, optsOrFn, fn);
}

/** What an action answers with: any JSON value (PM2 prints it; the admin server returns it). */
export type PmxReply = (answer: unknown) => void;

/**
 * An action's function, as pmx called it: `(reply)`, or `(params, reply)` when it declares
 * two parameters. Its first parameter is typed loosely because it is either of the two.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the reply, or the parameters, by the function's arity (pmx's contract)
export type PmxActionFunction = (replyOrParams: any, reply: PmxReply) => unknown;

/** An action's options, as pmx took them (sent to PM2 as given). */
export type PmxActionOptions = Readonly<Record<string, unknown>>;

/**
 * pmx's `scopedAction(name, fn(params, res))`: output streamed with `res.send()`, ended
 * with `res.end()` or `res.error()`.
 *
 * @example
 * scopedAction('tail', (params, res) => { res.send('line 1'); res.end('done'); });
 */
export function scopedAction(name: string, fn: (params: unknown, res: PmxActionStream) => unknown): void {
  agent().scopedAction(name, fn);
}

/**
 * pmx's `emit(name, data)`: a `human:event` on PM2's bus. Never throws; false when
 * nothing was sent (outside PM2, or a name that is not a non-empty string).
 *
 * @example
 * emit('user:signup', { plan: 'pro' });
 */
export function emit(name: string, data?: unknown): boolean {
  return agent().emit(name, data);
}

/**
 * pmx's `expressErrorHandler()`: probekit's `expressErrors()` (register it last).
 *
 * @example
 * app.use(expressErrorHandler());
 */
export function expressErrorHandler(): PmxErrorHandler {
  return agent().expressErrorHandler();
}

/**
 * @pm2/io's `destroy()`: stops talking to PM2 and what `init()` started; probes keep
 * working, and `init()` starts again.
 *
 * @example
 * destroy();
 */
export function destroy(): void {
  agent().destroy();
}

const pmx: Pmx = Object.freeze({
  init,
  probe,
  metric,
  counter,
  meter,
  histogram,
  notify,
  notifyError,
  catchAll,
  action,
  scopedAction,
  emit,
  expressErrorHandler,
  destroy,
});
