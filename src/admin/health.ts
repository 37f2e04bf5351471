/**
 * Health checks: named functions the admin server's `/healthz` and `/readyz` run, each
 * with its own timeout. One process-wide set (shared by every installed copy of this
 * major), so a library can register its own check and the application's server runs it.
 *
 * Running the checks never throws and never waits longer than the slowest timeout: a
 * check that throws, rejects, returns `false` or does not settle in time is failing. A
 * check still running from an earlier request is joined, not started again, so a hanging
 * dependency never piles up calls.
 */
import { shared } from '../util/shared.js';
import { describe, is, option, parseOptions, typeError } from '../util/validate.js';

/** A check: resolves (or returns) when healthy; `false`, a throw or a rejection is failing. A returned object is shown as its `detail`. */
export type HealthCheck = () => unknown;

/** Options of {@link health.check}. */
export interface HealthCheckOptions {
  /** How long the check may take before it counts as failing, in ms. @default 2000 */
  readonly timeoutMs?: number;
  /** A failing critical check makes `/healthz` and `/readyz` answer 503; a non-critical one is only reported. @default true */
  readonly critical?: boolean;
}

/** One check's outcome. */
export interface HealthCheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly critical: boolean;
  /** How long it took, in ms (the timeout when it timed out). */
  readonly ms: number;
  /** Why it failed. */
  readonly error?: string;
  /** What a passing check returned, when it returned a small JSON object. */
  readonly detail?: unknown;
}

/** What {@link health.run} resolves with. */
export interface HealthReport {
  /** `ok` unless a critical check fails. */
  readonly status: 'ok' | 'failing';
  /** Names of the failing critical checks. */
  readonly failing: readonly string[];
  readonly checks: readonly HealthCheckResult[];
}

/** Longest `detail` kept, as JSON text. */
const MAX_DETAIL_BYTES = 4096;

interface Entry {
  readonly fn: HealthCheck;
  readonly timeoutMs: number;
  readonly critical: boolean;
  /** The run in progress, joined by a request that comes while it runs. */
  running: Promise<HealthCheckResult> | undefined;
}

const CHECK_OPTIONS = {
  timeoutMs: option(is.integer(1, 2 ** 31 - 1), 2000),
  critical: option(is.boolean, true),
};

const checks = shared('health', () => new Map<string, Entry>());

function reason(err: unknown): string {
  try {
    return err instanceof Error ? err.message : typeof err === 'string' ? err : describe(err);
  } catch {
    return 'unreadable error';
  }
}

function detailOf(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  try {
    const text = JSON.stringify(value);
    return text !== undefined && text.length <= MAX_DETAIL_BYTES ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one check under its timeout; never rejects. */
function runOne(name: string, entry: Entry): Promise<HealthCheckResult> {
  const { critical, timeoutMs } = entry;
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
  return new Promise<HealthCheckResult>((resolve) => {
    let done = false;
    const finish = (result: HealthCheckResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ name, ok: false, critical, ms: timeoutMs, error: `timed out after ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
    const pass = (value: unknown): void => {
      if (value === false) finish({ name, ok: false, critical, ms: elapsed(), error: 'returned false' });
      else {
        const detail = detailOf(value);
        finish(detail === undefined ? { name, ok: true, critical, ms: elapsed() } : { name, ok: true, critical, ms: elapsed(), detail });
      }
    };
    const fail = (err: unknown): void => finish({ name, ok: false, critical, ms: elapsed(), error: reason(err) });
    try {
      Promise.resolve(entry.fn()).then(pass, fail);
    } catch (err) {
      fail(err);
    }
  });
}

/**
 * Health checks for the admin server's `/healthz` and `/readyz`.
 *
 * @example
 * import { health } from 'probekit/admin';
 * const stop = health.check('config', () => ({ loaded: true }), { timeoutMs: 500 });
 * const report = await health.run();
 * console.log(report.status, report.checks[0].detail);
 * stop();
 */
export const health = {
  /**
   * Registers (or, under the same name, replaces) a check. Returns the function that
   * removes it. Throws a TypeError for a bad name, function or option.
   */
  check(name: string, fn: HealthCheck, options: HealthCheckOptions = {}): () => void {
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) {
      throw typeError('health.check() argument "name"', 'a name of 1 to 64 letters, digits, "_", ".", ":" or "-"', name);
    }
    if (typeof fn !== 'function') throw typeError('health.check() argument "fn"', 'a function', fn);
    const opts = parseOptions('health.check()', CHECK_OPTIONS, options);
    const entry: Entry = { fn, timeoutMs: opts.timeoutMs, critical: opts.critical, running: undefined };
    checks.set(name, entry);
    return () => {
      if (checks.get(name) === entry) checks.delete(name);
    };
  },

  /** Names of the registered checks, in registration order. */
  list(): string[] {
    return [...checks.keys()];
  },

  /** Runs every check, concurrently, each under its timeout; never rejects. */
  async run(): Promise<HealthReport> {
    const results = await Promise.all(
      [...checks].map(([name, entry]) => {
        entry.running ??= runOne(name, entry).finally(() => {
          entry.running = undefined;
        });
        return entry.running;
      }),
    );
    const failing = results.filter((r) => !r.ok && r.critical).map((r) => r.name);
    return { status: failing.length === 0 ? 'ok' : 'failing', failing, checks: results };
  },
};
