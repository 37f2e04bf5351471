/**
 * Threshold alerts to a chat webhook. Each alert reads one probe (a series picked by its
 * labels, a field of it), tests a condition, and when the condition has held for `for`
 * POSTs a Slack-compatible `{ text }` with the full context, retried through the
 * transport client; when the condition stops it POSTs the resolution. Never more than
 * one message per `every`: a change that comes sooner is sent once `every` has passed,
 * if it still stands. `probekit_alert_firing{alert}` shows each alert's state.
 *
 * Every alert of the process is evaluated on one shared `unref()`ed timer, which stops
 * with the last alert. Each process alerts for itself; a fleet alerts from Prometheus
 * (the README has the equivalent rule), where Alertmanager deduplicates.
 */
import { createClient, checkHttpUrl, type HttpClient } from '../transport/client.js';
import { defaultRegistry, type Registry, registryOption } from '../probes/probe.js';
import type { FamilySnapshot, Probe } from '../probes/types.js';
import { nodeOs } from '../util/lazy.js';
import { shared } from '../util/shared.js';
import { checkActionName } from './actions.js';
import { is, option, parseOptions, required, typeError } from '../util/validate.js';

/** What an alert reads from its series. */
export type AlertField = 'value' | 'rate' | 'p50' | 'p99' | 'mean' | 'delta';

/** Options of {@link alert}. */
export interface AlertOptions {
  /** The alert's name: the `alert` label and the message's title. */
  readonly name: string;
  /** The probe to read, by name (as registered, or as exported). */
  readonly metric: string;
  /** Picks the series whose labels have these values; several matching series are summed (`max` for p50, p99 and mean). @default every series */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * What to read: `value` (counters, metrics), `rate` (meters), `p50`/`p99`/`mean`
   * (histograms), or `delta`, the growth of `value` (`total` for meters) over `for`.
   * @default `rate` for meters, `p99` for histograms, `value` otherwise
   */
  readonly field?: AlertField;
  /** The condition: `'> 0.5'`-style (`>`, `>=`, `<`, `<=`, `==`, `!=`), or a function of the value. */
  readonly when: string | ((value: number) => boolean);
  /** How long the condition must hold before the alert fires: ms, or `'30s'`, `'5m'`. @default 0 */
  readonly for?: number | string;
  /**
   * The webhook to POST to (`http:` or `https:`, a Slack incoming webhook or anything taking
   * JSON). @default none: the alert's state shows only in the dashboard and `probekit_alert_firing`
   */
  readonly webhook?: string;
  /** At most one message per this long: ms, or `'5m'`. @default '5m' */
  readonly every?: number | string;
  /** Retries of a message that failed (network errors, 429 and 5xx). @default 3 */
  readonly retries?: number;
  /** The registry holding the probe. @default the default `probe` */
  readonly registry?: Probe;
  /** Called with every failed delivery (never thrown into the application). */
  readonly onError?: (error: Error) => void;
  /** The clock, in ms. For tests. @default Date.now */
  readonly clock?: () => number;
}

/** A running alert. */
export interface Alert {
  readonly name: string;
  /** True while the condition has held for `for`. */
  readonly firing: boolean;
  /** Stops evaluating it, drops what it has not sent, and sets its gauge to 0. Idempotent. */
  stop(): void;
}

/** What the webhook receives: Slack's `text` and the full context. */
export interface AlertMessage {
  readonly text: string;
  readonly alert: string;
  readonly status: 'firing' | 'resolved';
  readonly metric: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly field: AlertField;
  /** The value read at the change (`null` when the probe had no value). */
  readonly value: number | null;
  /** The condition, as given (`'> 0.5'`, or `'function'`). */
  readonly condition: string;
  readonly for: number;
  /** ISO time the condition started to hold (firing) or stopped (resolved). */
  readonly since: string;
  readonly host: string;
  readonly pid: number;
}

/** How often the shared timer evaluates every alert, in ms. */
export const EVALUATE_MS = 1000;
/** Most `delta` samples an alert keeps. */
const MAX_SAMPLES = 4096;

const FIELDS: readonly AlertField[] = ['value', 'rate', 'p50', 'p99', 'mean', 'delta'];

const ALERT_OPTIONS = {
  name: required((where, v) => checkActionName(where, v)),
  metric: required(is.nonEmpty),
  labels: option(is.stringRecord),
  field: option(is.oneOf(FIELDS)),
  when: required((where, v): ((value: number) => boolean) | string => {
    if (typeof v === 'function') return v as (value: number) => boolean;
    if (typeof v === 'string' && CONDITION.test(v)) return v;
    throw typeError(where, "a condition such as '> 0.5' (>, >=, <, <=, ==, !=) or a function of the value", v);
  }),
  for: option(is.duration, 0),
  webhook: option((where, v) => checkHttpUrl(where, v)),
  every: option(is.duration, 300_000),
  retries: option(is.integer(0, 10), 3),
  registry: registryOption,
  onError: option(is.function<(error: Error) => void>()),
  clock: option(is.function<() => number>(), Date.now),
};

const CONDITION = /^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/i;

function compile(when: string | ((value: number) => boolean)): (value: number) => boolean {
  if (typeof when === 'function') return when;
  const m = CONDITION.exec(when) as RegExpExecArray;
  const op = m[1] as string;
  const threshold = Number(m[2]);
  switch (op) {
    case '>':
      return (v) => v > threshold;
    case '>=':
      return (v) => v >= threshold;
    case '<':
      return (v) => v < threshold;
    case '<=':
      return (v) => v <= threshold;
    case '==':
      return (v) => v === threshold;
    default:
      return (v) => v !== threshold;
  }
}

/** The numbers `field` reads from each matching series of a family snapshot. */
function readField(family: FamilySnapshot, labels: Readonly<Record<string, string>>, field: AlertField): number[] {
  const out: number[] = [];
  for (const series of family.series) {
    const l = series.labels as Readonly<Record<string, string>>;
    if (!Object.entries(labels).every(([k, v]) => l[k] === v)) continue;
    let v: number | null | undefined;
    if (family.kind === 'histogram') {
      const value = (series as unknown as { value: Record<string, number | null> }).value;
      v = field === 'delta' || field === 'value' ? (value.count ?? null) : value[field];
    } else if (family.kind === 'meter') {
      const m = series as { rate: number; total: number };
      v = field === 'delta' || field === 'value' ? m.total : m.rate;
    } else if (family.kind === 'counter') v = (series as { value: number }).value;
    else {
      const s = series as { type: string; value: unknown };
      v = s.type === 'number' || s.type === 'date' ? (s.value as number) : s.type === 'boolean' ? (s.value === true ? 1 : 0) : null;
    }
    if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
  }
  return out;
}

interface State {
  readonly name: string;
  readonly metric: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly field: AlertField | undefined;
  readonly test: (value: number) => boolean;
  readonly condition: string;
  readonly forMs: number;
  readonly everyMs: number;
  readonly registry: Registry;
  readonly clock: () => number;
  /** The webhook's client and path; none without a webhook. */
  readonly client: HttpClient | undefined;
  readonly path: string;
  readonly onError: ((error: Error) => void) | undefined;
  readonly gauge: { set(value: number): void };
  /** (time, value) samples for `delta`, oldest first. */
  readonly samples: Array<[number, number]>;
  /** The value the latest evaluation read (`undefined`: the probe had none). */
  value: number | undefined;
  pendingSince: number | undefined;
  firing: boolean;
  /** The state the webhook was last told (nothing sent yet: resolved). */
  told: 'firing' | 'resolved';
  lastSent: number | undefined;
  sending: Promise<void> | undefined;
  stopped: boolean;
}

const registry = shared('alerts', () => ({ alerts: new Set<State>(), timer: undefined as NodeJS.Timeout | undefined }));

function report(state: State, err: unknown): void {
  try {
    state.onError?.(err instanceof Error ? err : new Error(String(err)));
  } catch {
    // an onError that throws must not reach the application either
  }
}

/** The alert's value now, or `undefined` when the probe has none. Never throws. */
function valueOf(state: State, now: number): number | undefined {
  let family: FamilySnapshot | undefined;
  try {
    for (const f of state.registry.families()) {
      if (f.name === state.metric || f.exportName === state.metric) {
        family = state.registry.read.snapshotFamily(f);
        break;
      }
    }
  } catch (err) {
    report(state, err);
    return undefined;
  }
  if (family === undefined) return undefined;
  const field = state.field ?? (family.kind === 'meter' ? 'rate' : family.kind === 'histogram' ? 'p99' : 'value');
  const values = readField(family, state.labels, field);
  if (values.length === 0) return undefined;
  const value = field === 'p50' || field === 'p99' || field === 'mean' ? Math.max(...values) : values.reduce((a, b) => a + b, 0);
  if (field !== 'delta') return value;
  const samples = state.samples;
  samples.push([now, value]);
  while (samples.length > MAX_SAMPLES || (samples.length > 1 && (samples[1] as [number, number])[0] <= now - state.forMs)) samples.shift();
  return value - (samples[0] as [number, number])[1];
}

function message(state: State, status: 'firing' | 'resolved', value: number | undefined, since: number): AlertMessage {
  const series = Object.entries(state.labels).map(([k, v]) => `${k}="${v}"`).join(', ');
  const shown = `${state.metric}${series === '' ? '' : `{${series}}`}${state.field === undefined ? '' : ` ${state.field}`}`;
  const text =
    status === 'firing'
      ? `[FIRING] ${state.name}: ${shown} is ${value ?? 'absent'} (${state.condition}${state.forMs > 0 ? ` for ${state.forMs / 1000}s` : ''})`
      : `[RESOLVED] ${state.name}: ${shown} is ${value ?? 'absent'}`;
  return {
    text,
    alert: state.name,
    status,
    metric: state.metric,
    labels: state.labels,
    field: state.field ?? 'value',
    value: value ?? null,
    condition: state.condition,
    for: state.forMs,
    since: new Date(since).toISOString(),
    host: nodeOs().hostname(),
    pid: process.pid,
  };
}

/** Evaluates one alert at the clock's time; starts a message when one is due. */
function evaluate(state: State): void {
  if (state.stopped) return;
  const now = state.clock();
  const value = valueOf(state, now);
  state.value = value;
  let holds = false;
  try {
    holds = value !== undefined && state.test(value) === true;
  } catch (err) {
    report(state, err);
  }
  if (holds) {
    state.pendingSince ??= now;
    if (!state.firing && now - state.pendingSince >= state.forMs) {
      state.firing = true;
      state.gauge.set(1);
    }
  } else {
    state.pendingSince = undefined;
    if (state.firing) {
      state.firing = false;
      state.gauge.set(0);
    }
  }
  const want = state.firing ? 'firing' : 'resolved';
  if (state.client === undefined) return;
  if (want === state.told || state.sending !== undefined) return;
  if (state.lastSent !== undefined && now - state.lastSent < state.everyMs) return;
  const previous = state.told;
  state.told = want;
  state.lastSent = now;
  const body = JSON.stringify(message(state, want, value, want === 'firing' ? (state.pendingSince ?? now) : now));
  state.sending = state.client
    .request({ method: 'POST', path: state.path, headers: { 'Content-Type': 'application/json' }, body })
    .then(
      (res) => {
        if (res.status >= 200 && res.status < 300) return;
        state.told = previous; // told nobody: try again after `every`
        report(state, new Error(`probekit: alert "${state.name}": the webhook answered ${res.status} after ${res.attempts} attempts`));
      },
      (err: unknown) => {
        state.told = previous;
        report(state, err);
      },
    )
    .finally(() => {
      state.sending = undefined;
    });
}

/** @internal Evaluates every alert now and waits for the messages it started (and any under way). For tests. */
export async function evaluateAlerts(): Promise<void> {
  for (const state of registry.alerts) evaluate(state);
  await Promise.all([...registry.alerts].map((s) => s.sending));
}

/** One alert's state, as the dashboard shows it. */
export interface AlertState {
  readonly name: string;
  readonly metric: string;
  readonly field: AlertField | null;
  readonly condition: string;
  readonly forMs: number;
  /** The value the latest evaluation read (null: none yet, or the probe had none). */
  readonly value: number | null;
  /** `firing`: the condition has held for `for`; `pending`: it holds, not yet for `for`; `ok` otherwise. */
  readonly state: 'firing' | 'pending' | 'ok';
  /** Epoch ms (the alert's clock) since the condition holds; null when it does not. */
  readonly since: number | null;
}

/** @internal The state of every running alert, in start order (the dashboard's alert panel). */
export function alertStates(): AlertState[] {
  return [...registry.alerts].map((s) => ({
    name: s.name,
    metric: s.metric,
    field: s.field ?? null,
    condition: s.condition,
    forMs: s.forMs,
    value: s.value ?? null,
    state: s.firing ? 'firing' : s.pendingSince !== undefined ? 'pending' : 'ok',
    since: s.pendingSince ?? null,
  }));
}

/** @internal True while the shared timer runs (some alert is active). */
export function alertTimerRunning(): boolean {
  return registry.timer !== undefined;
}

/**
 * Starts a threshold alert; see {@link AlertOptions}. Throws a TypeError for bad options.
 *
 * @example
 * import { alert } from 'probekit/admin';
 * const slow = alert({ name: 'slow-api', metric: 'http_server_request_duration', field: 'p99', when: '> 0.5', for: '5m', webhook: process.env.SLACK_WEBHOOK });
 * slow.stop();
 */
export function alert(options: AlertOptions): Alert {
  const opts = parseOptions('alert()', ALERT_OPTIONS, options, { required: true });
  const target = opts.registry ?? defaultRegistry;
  const gauge = defaultRegistry
    .selfGauge('probekit_alert_firing', 'Alerts whose condition has held for their "for" (1) or not (0), by alert', ['alert'])
    .labels({ alert: opts.name } as never);
  gauge.set(0);
  const url = opts.webhook;
  const state: State = {
    name: opts.name,
    metric: opts.metric,
    labels: { ...opts.labels },
    field: opts.field,
    test: compile(opts.when),
    condition: typeof opts.when === 'string' ? opts.when.trim() : 'function',
    forMs: opts.for,
    everyMs: opts.every,
    registry: target,
    clock: opts.clock,
    client:
      url === undefined
        ? undefined
        : createClient({
            url: url.origin,
            retries: opts.retries,
            retryOn: (status) => status === 429 || status >= 500,
            onError: opts.onError === undefined ? undefined : (err) => report(state, err),
          }),
    path: url === undefined ? '' : `${url.pathname}${url.search}`,
    onError: opts.onError,
    gauge,
    samples: [],
    value: undefined,
    pendingSince: undefined,
    firing: false,
    told: 'resolved',
    lastSent: undefined,
    sending: undefined,
    stopped: false,
  };
  registry.alerts.add(state);
  if (registry.timer === undefined) {
    registry.timer = setInterval(() => {
      for (const s of registry.alerts) evaluate(s);
    }, EVALUATE_MS);
    registry.timer.unref();
  }
  return {
    name: state.name,
    get firing() {
      return state.firing;
    },
    stop() {
      if (state.stopped) return;
      state.stopped = true;
      registry.alerts.delete(state);
      state.client?.close();
      gauge.set(0);
      if (registry.alerts.size === 0 && registry.timer !== undefined) {
        clearInterval(registry.timer);
        registry.timer = undefined;
      }
    },
  };
}
