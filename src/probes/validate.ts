import { inspect } from 'node:util';

/**
 * Boundary validation. Every check here runs when a probe is created or
 * configured, never on a recording path; each failure names the argument,
 * what was expected and what was given, so the message alone says the fix.
 */

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

/** Stable `code` of every `TypeError` probekit throws for a bad argument or option. */
export const INVALID_ARGUMENT = 'PROBEKIT_INVALID_ARGUMENT';
/** Stable `code` of every `RangeError` probekit throws for a value out of range. */
export const OUT_OF_RANGE = 'PROBEKIT_OUT_OF_RANGE';

/** A `TypeError` with `code` {@link INVALID_ARGUMENT}; `message` starts with `probekit:`. */
export function invalidArgument(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: INVALID_ARGUMENT });
}

/** A `RangeError` with `code` {@link OUT_OF_RANGE}; `message` starts with `probekit:`. */
export function outOfRange(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: OUT_OF_RANGE });
}

/** `TypeError('probekit: <where> must be <expected>, got <value> (<type>)')`, code {@link INVALID_ARGUMENT}. */
export function typeError(where: string, expected: string, value: unknown): TypeError {
  return invalidArgument(`probekit: ${where} must be ${expected}, got ${describe(value)}`);
}

/** `RangeError('probekit: <where> must be <expected>, got <value> (<type>)')`, code {@link OUT_OF_RANGE}. */
export function rangeError(where: string, expected: string, value: unknown): RangeError {
  return outOfRange(`probekit: ${where} must be ${expected}, got ${describe(value)}`);
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
    throw invalidArgument(`probekit: ${where} has no option "${key}"; ${hint}`);
  }
}
