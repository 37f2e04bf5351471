import { inspect } from 'node:util';

/**
 * Boundary validation for every layer. Every check here runs when something is created
 * or configured, never on a recording path. Each failure is a `TypeError` or `RangeError`
 * carrying a stable {@link ErrorCode} and the option it concerns; its message starts with
 * `probekit:` and names the argument, what was expected and what was given.
 */

/**
 * The stable `code` of every error probekit throws, and of the warnings it emits. Match
 * on the code, never on the message text (which may be reworded).
 */
export type ErrorCode =
  /** An argument that is not an options object, or another non-option argument of the wrong type. */
  | 'PROBEKIT_INVALID_ARGUMENT'
  /** An option of the wrong type or shape. `option` names it. */
  | 'PROBEKIT_INVALID_OPTION'
  /** An option key the function does not know (a typo, or a pmx name with a replacement). `option` names it. */
  | 'PROBEKIT_UNKNOWN_OPTION'
  /** A number outside the accepted range. `option` names it. */
  | 'PROBEKIT_OUT_OF_RANGE'
  /** Two probes, registries or exporters would expose one name. */
  | 'PROBEKIT_NAME_CONFLICT'
  /** A second StatsD exporter on one registry. */
  | 'PROBEKIT_EXPORTER_EXISTS';

/** Fields every probekit error carries. */
export interface ProbekitErrorFields {
  readonly code: ErrorCode;
  /** The option concerned (`"buckets[1]"`, `"port"`), when the error is about one. */
  readonly option: string | undefined;
}

/** A `TypeError` with a stable {@link ErrorCode}: what probekit throws for a bad argument, option or name. */
export class ProbekitTypeError extends TypeError implements ProbekitErrorFields {
  readonly code: ErrorCode;
  readonly option: string | undefined;
  /** @internal */
  constructor(message: string, code: ErrorCode, option?: string) {
    super(message);
    this.name = 'TypeError';
    this.code = code;
    this.option = option;
  }
}

/** A `RangeError` with a stable {@link ErrorCode}: what probekit throws for a number out of range. */
export class ProbekitRangeError extends RangeError implements ProbekitErrorFields {
  readonly code: ErrorCode;
  readonly option: string | undefined;
  /** @internal */
  constructor(message: string, code: ErrorCode, option?: string) {
    super(message);
    this.name = 'RangeError';
    this.code = code;
    this.option = option;
  }
}

/** Renders a value and its type for an error message: `-1 (number)`, `"x" (string)`, `[ Infinity ] (array)`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  let type: string = typeof value;
  let shown: string;
  try {
    // Each of these can throw for a Proxy (a revoked one, or traps that throw).
    type = Array.isArray(value) ? 'array' : value instanceof Date ? 'Date' : type;
    // JSON would print Infinity, NaN and invalid Dates as null; inspect shows what was given.
    shown = typeof value === 'string' ? JSON.stringify(value) : inspect(value, { depth: 2, breakLength: Infinity });
  } catch {
    try {
      shown = Object.prototype.toString.call(value);
    } catch {
      shown = `[${typeof value}]`;
    }
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return `${shown} (${type})`;
}

/** The option a `where` text names: `histogram() option "buckets"[1]` → `buckets[1]`. */
function optionOf(where: string): string | undefined {
  const m = /option "([^"]+)"(.*)$/.exec(where);
  return m === null ? undefined : `${m[1] as string}${m[2] as string}`;
}

/** A `TypeError` with `code` and, when it concerns one, the `option`; `message` starts with `probekit:`. */
export function invalid(message: string, code: ErrorCode, option?: string): ProbekitTypeError {
  return new ProbekitTypeError(message, code, option);
}

/** A name clash (`PROBEKIT_NAME_CONFLICT`); `message` starts with `probekit:`. */
export function nameConflict(message: string): ProbekitTypeError {
  return new ProbekitTypeError(message, 'PROBEKIT_NAME_CONFLICT');
}

/** A `RangeError` with code `PROBEKIT_OUT_OF_RANGE` and a message written by the caller. */
export function outOfRange(message: string, option?: string): ProbekitRangeError {
  return new ProbekitRangeError(message, 'PROBEKIT_OUT_OF_RANGE', option);
}

/**
 * `TypeError('probekit: <where> must be <expected>, got <value> (<type>)')`: code
 * `PROBEKIT_INVALID_OPTION` when `where` names an option, else `PROBEKIT_INVALID_ARGUMENT`.
 */
export function typeError(where: string, expected: string, value: unknown): ProbekitTypeError {
  const option = optionOf(where);
  return new ProbekitTypeError(
    `probekit: ${where} must be ${expected}, got ${describe(value)}`,
    option === undefined ? 'PROBEKIT_INVALID_ARGUMENT' : 'PROBEKIT_INVALID_OPTION',
    option,
  );
}

/** `RangeError('probekit: <where> must be <expected>, got <value> (<type>)')`, code `PROBEKIT_OUT_OF_RANGE`. */
export function rangeError(where: string, expected: string, value: unknown): ProbekitRangeError {
  return outOfRange(`probekit: ${where} must be ${expected}, got ${describe(value)}`, optionOf(where));
}

export function checkObject(where: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw typeError(where, 'an options object', value);
  }
  return value as Record<string, unknown>;
}

export function checkString(where: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw typeError(where, 'a non-empty string', value);
  return value;
}

export function optionalString(where: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw typeError(where, 'a string', value);
  return value;
}

export function checkPositive(where: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw typeError(where, 'a number', value);
  if (!(value > 0) || !Number.isFinite(value)) throw rangeError(where, 'a finite number greater than 0', value);
  return value;
}

export function checkInteger(where: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw typeError(where, 'an integer', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    const bound = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw rangeError(where, bound, value);
  }
  return value;
}

/** Rejects option keys the caller did not mean, naming the replacement where one exists. */
export function checkKnownKeys(
  where: string,
  options: Record<string, unknown>,
  known: readonly string[],
  renamed: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const instead = renamed[key];
    const hint = instead === undefined ? `known options are: ${known.join(', ')}` : `use "${instead}" instead`;
    throw new ProbekitTypeError(`probekit: ${where} has no option "${key}"; ${hint}`, 'PROBEKIT_UNKNOWN_OPTION', key);
  }
}

// ---------------------------------------------------------------------------------------
// Option schemas: each factory declares its options once (check and default); the
// known-keys list, the checks and the defaults all come from that one declaration.

/** Checks one option's value; `where` is `fn() option "key"`. Returns the value to use. */
export type Check<T> = (where: string, value: unknown) => T;

/** One option: its check, and its default when absent (`undefined` keeps it absent). */
export interface OptionSpec<T> {
  readonly check: Check<T>;
  readonly default?: T;
  /** Checked even when absent (the check rejects `undefined`). */
  readonly required?: boolean;
}

/** A factory's options, each with its check and default. */
export type Schema = Readonly<Record<string, OptionSpec<unknown>>>;

/** What {@link parseOptions} returns: every option with a default filled in, the others possibly undefined. */
export type Parsed<S extends Schema> = {
  readonly [K in keyof S]: S[K] extends { readonly default: unknown } ? (S[K] extends OptionSpec<infer T> ? T : never) : S[K] extends OptionSpec<infer T> ? T | undefined : never;
};

/** An option spec: `check`, and `default` when given. */
export function option<T>(check: Check<T>): OptionSpec<T>;
export function option<T>(check: Check<T>, fallback: T): OptionSpec<T> & { readonly default: T };
export function option<T>(check: Check<T>, fallback?: T): OptionSpec<T> {
  return fallback === undefined ? { check } : { check, default: fallback };
}

/** A required option: its check also runs when it is absent, and names it missing. */
export function required<T>(check: Check<T>): OptionSpec<T> & { readonly default: T } {
  return { check, required: true } as OptionSpec<T> & { readonly default: T };
}

/**
 * Reads `input` against `schema`: rejects a non-object (and `undefined` when the options
 * are `required`) and unknown keys (suggesting the replacement of a `renamed` one), checks
 * each given option and fills in the defaults.
 */
export function parseOptions<S extends Schema>(
  fn: string,
  schema: S,
  input: unknown,
  how: { readonly renamed?: Readonly<Record<string, string>>; readonly required?: boolean } = {},
): Parsed<S> {
  const renamed = how.renamed ?? {};
  const given = input === undefined && how.required !== true ? {} : checkObject(`${fn} options`, input);
  checkKnownKeys(fn, given, Object.keys(schema), renamed);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema)) {
    const spec = schema[key] as OptionSpec<unknown>;
    const value = given[key];
    out[key] = value === undefined && spec.required !== true ? spec.default : spec.check(`${fn} option "${key}"`, value);
  }
  return out as Parsed<S>;
}

/** Checks for {@link option}: each returns the checked value or throws with the option named. */
export const is = {
  string: ((where, v) => optionalString(where, v) as string) as Check<string>,
  nonEmpty: checkString as Check<string>,
  boolean: ((where, v) => {
    if (typeof v !== 'boolean') throw typeError(where, 'a boolean', v);
    return v;
  }) as Check<boolean>,
  positive: checkPositive as Check<number>,
  integer:
    (min: number, max?: number): Check<number> =>
    (where, v) =>
      checkInteger(where, v, min, max),
  function: <F>(): Check<F> => (where, v) => {
    if (typeof v !== 'function') throw typeError(where, 'a function', v);
    return v as F;
  },
  oneOf:
    <const T extends string>(values: readonly T[]): Check<T> =>
    (where, v) => {
      if (!values.includes(v as T)) throw typeError(where, values.map((x) => `"${x}"`).join(', ').replace(/, ([^,]*)$/, ' or $1'), v);
      return v as T;
    },
  /** An object of string values. */
  stringRecord: ((where, v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw typeError(where, 'an object of names to string values', v);
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw typeError(`${where.replace(/"$/, '')}.${k}"`, 'a string', x);
    return v as Readonly<Record<string, string>>;
  }) as Check<Readonly<Record<string, string>>>,
  /** Any value: the caller checks it (a check that needs other options). */
  any: ((_where, v) => v) as Check<unknown>,
  /** A duration: milliseconds (an integer >= 0), or a string such as `'500ms'`, `'30s'`, `'5m'`, `'1h'`; returns milliseconds. */
  duration: ((where, v) => checkDuration(where, v)) as Check<number>,
};

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration given as an integer of ms or as `'30s'`-style text (`ms`, `s`, `m`, `h`; decimals allowed). */
export function checkDuration(where: string, value: unknown): number {
  if (typeof value === 'number') return checkInteger(where, value, 0, 2 ** 31 - 1);
  const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value) : null;
  if (m === null) throw typeError(where, "a duration: milliseconds, or a string such as '500ms', '30s', '5m' or '1h'", value);
  const ms = Math.round(Number(m[1]) * (DURATION_UNITS[m[2] as string] as number));
  if (ms > 2 ** 31 - 1) throw rangeError(where, 'a duration of at most 2147483647 ms (about 24.8 days)', value);
  return ms;
}
