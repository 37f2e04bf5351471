/**
 * Fault injection (the Latency Monkey): for a fraction of the requests the HTTP and
 * Seneca instrumentation sees on a route pattern, hold the handler back or answer an
 * error, for a bounded time after which the injector switches itself off. The random
 * source is seedable, so a run can be replayed exactly; every injected fault is counted
 * in `probekit_faults_injected_total{kind, route}`, so nobody takes it for an incident.
 *
 * One plan at a time for the process (the shared core has one fault hook).
 */
import { type Fault, type FaultRequest, setFaultHook } from '../middleware/core.js';
import type { Counter } from '../probes/counter.js';
import { defaultRegistry } from '../probes/probe.js';
import type { InputSchema } from './schema.js';

/** Longest a plan may last, in seconds. */
export const MAX_FAULT_SECONDS = 3600;
/** Longest injected delay, in ms. */
export const MAX_FAULT_DELAY_MS = 60_000;

/** The `fault` action's input. */
export const FAULT_INPUT: InputSchema = {
  route: 'string',
  fraction: 'number',
  delayMs: 'number',
  status: 'number',
  message: 'string',
  seconds: 'number',
  seed: 'number',
  off: 'boolean',
};

/** A checked plan. */
export interface FaultPlan {
  /** Route pattern: a route template or path, `*` matching any run of characters. */
  readonly route: string;
  readonly fraction: number;
  readonly fault: Fault;
  readonly seconds: number;
  readonly seed: number;
}

/** A 32-bit seeded generator (mulberry32): the same seed, the same sequence, in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** True when `text` matches `pattern`, where `*` matches any run of characters; linear backtracking, no regular expression built from input. */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Reads the action's input into a plan, or says why it cannot (a 400). */
export function planOf(input: Readonly<Record<string, unknown>>, random: () => number): FaultPlan | string {
  const { route, fraction, delayMs, status, message, seconds = 60, seed } = input as Record<string, number | string | undefined>;
  if (typeof route !== 'string' || route.length === 0 || route.length > 256) return 'field "route" must be a route pattern of 1 to 256 characters ("/users/:id", "/api/*")';
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) return 'field "fraction" must be a number from 0 to 1';
  if (typeof seconds !== 'number' || !(seconds > 0 && seconds <= MAX_FAULT_SECONDS)) return `field "seconds" must be a number above 0, at most ${MAX_FAULT_SECONDS}`;
  if (delayMs !== undefined && status !== undefined) return 'give either "delayMs" (a delay) or "status" (an error), not both';
  let fault: Fault;
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !(delayMs >= 0 && delayMs <= MAX_FAULT_DELAY_MS)) return `field "delayMs" must be a number from 0 to ${MAX_FAULT_DELAY_MS}`;
    fault = { kind: 'delay', ms: delayMs };
  } else {
    const code = status ?? 503;
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) return 'field "status" must be an HTTP error status from 400 to 599';
    fault = { kind: 'error', status: code, message: typeof message === 'string' ? message.slice(0, 256) : 'probekit: injected fault' };
  }
  const s = seed === undefined ? Math.floor(random() * 2 ** 32) : seed;
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s >= 2 ** 32) return 'field "seed" must be an integer from 0 to 4294967295';
  return { route, fraction, fault, seconds, seed: s };
}

/** The running plan, and how many faults it injected. */
interface Active {
  readonly plan: FaultPlan;
  readonly until: number;
  readonly timer: NodeJS.Timeout;
  injected: number;
}

/** The fault injector of one admin server. */
export class FaultInjector {
  private active: Active | undefined;
  private readonly clock: () => number;
  private readonly counter: Counter<'kind' | 'route'>;

  constructor(clock: () => number) {
    this.clock = clock;
    this.counter = defaultRegistry.selfCounter(
      'probekit_faults_injected',
      "Requests answered with a fault the admin server's fault action injected (a delay or an error), by kind and route",
      ['kind', 'route'],
      true,
    );
  }

  /** Installs `plan` in place of the running one; it switches itself off after its seconds. */
  start(plan: FaultPlan): { readonly until: string } {
    this.stop();
    const until = this.clock() + plan.seconds * 1000;
    const random = seeded(plan.seed);
    const kind = plan.fault.kind;
    const timer = setTimeout(() => this.stop(), plan.seconds * 1000);
    timer.unref();
    const active: Active = { plan, until, timer, injected: 0 };
    this.active = active;
    setFaultHook((req: FaultRequest) => {
      if (this.active !== active) return undefined;
      if (this.clock() >= until) {
        this.stop();
        return undefined;
      }
      if (!globMatch(plan.route, req.route) && !globMatch(plan.route, req.path)) return undefined;
      if (random() >= plan.fraction) return undefined;
      active.injected += 1;
      this.counter.labels({ kind, route: req.route }).inc();
      return plan.fault;
    });
    return { until: new Date(until).toISOString() };
  }

  /** Switches the running plan off; resolves what it injected (0 when none ran). */
  stop(): number {
    const active = this.active;
    if (active === undefined) return 0;
    this.active = undefined;
    clearTimeout(active.timer);
    setFaultHook(undefined);
    return active.injected;
  }

  /** The plan running now, if any. */
  get running(): FaultPlan | undefined {
    return this.active?.plan;
  }
}
