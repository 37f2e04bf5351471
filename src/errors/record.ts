/**
 * Turns anything that was thrown or passed to `notify()` into a plain, bounded,
 * JSON-serialisable record. Nothing here may throw: hostile getters, circular objects,
 * Symbols and revoked proxies all end up as text.
 */
import { inspect } from 'node:util';

/** One link of an error's `cause` chain (or one of an AggregateError's errors). */
export interface ErrorCause {
  readonly name: string;
  readonly message: string;
  readonly stack: string | null;
}

/** A normalised error, as listeners, the store, snapshots and exporters see it. */
export interface ErrorRecord {
  /** `err.name` for errors; `'Error'` for strings; the type for other values. */
  readonly name: string;
  readonly message: string;
  readonly stack: string | null;
  /** `err.cause`, its cause, and so on (at most 8, cycles cut). */
  readonly causes: readonly ErrorCause[];
  /** An AggregateError's errors (at most 16). */
  readonly errors: readonly ErrorCause[];
  /** `err.code` when it is a string or number. */
  readonly code: string | number | null;
  /** Epoch milliseconds. */
  readonly time: number;
  /** Stable across occurrences: name + message pattern (numbers, ids, quoted text masked) + top stack frame. */
  readonly fingerprint: string;
  /** The request context active when it was notified, merged with the context given to `notify()`. */
  readonly context: Readonly<Record<string, unknown>>;
  /** Process that raised it: this one, or a watched child's. */
  readonly pid: number;
  /** Where it came from: `notify`, `uncaughtException`, `unhandledRejection`, `domain`, `child-exit`. */
  readonly source: string;
}

const MAX_MESSAGE = 2048;
const MAX_STACK = 8192;
const MAX_CAUSES = 8;
const MAX_AGGREGATE = 16;
const MAX_CONTEXT_KEYS = 64;
const MAX_VALUE_TEXT = 512;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** Reads `obj[key]`, turning a throwing getter or proxy trap into `undefined`. */
function read(obj: object, key: PropertyKey): unknown {
  try {
    return (obj as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}

function text(value: unknown): string {
  try {
    if (typeof value === 'string') return value;
    if (typeof value === 'symbol') return value.toString();
    return inspect(value, { depth: 2, breakLength: Infinity, maxArrayLength: 20, maxStringLength: MAX_VALUE_TEXT });
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** `instanceof` that survives a Proxy whose getPrototypeOf trap throws. */
function instanceOf(value: unknown, type: abstract new (...args: never[]) => unknown): boolean {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

function isErrorLike(value: unknown): value is object {
  if (instanceOf(value, Error)) return true;
  if (value === null || typeof value !== 'object') return false;
  return typeof read(value, 'stack') === 'string' && typeof read(value, 'message') === 'string';
}

function causeOf(value: unknown): ErrorCause {
  if (isErrorLike(value)) {
    const name = read(value, 'name');
    const message = read(value, 'message');
    const stack = read(value, 'stack');
    return {
      name: typeof name === 'string' && name !== '' ? name : 'Error',
      message: clip(typeof message === 'string' ? message : text(message), MAX_MESSAGE),
      stack: typeof stack === 'string' ? clip(stack, MAX_STACK) : null,
    };
  }
  if (typeof value === 'string') return { name: 'Error', message: clip(value, MAX_MESSAGE), stack: null };
  if (value === null) return { name: 'null', message: 'null', stack: null };
  if (value === undefined) return { name: 'undefined', message: 'undefined', stack: null };
  if (typeof value === 'object') {
    const name = read(value, 'name');
    const message = read(value, 'message');
    return {
      name: typeof name === 'string' && name !== '' ? clip(name, 128) : 'Object',
      message: clip(typeof message === 'string' ? message : text(value), MAX_MESSAGE),
      stack: null,
    };
  }
  return { name: typeof value, message: clip(text(value), MAX_MESSAGE), stack: null };
}

/** Masks what varies between occurrences of one error: numbers, hex ids, UUIDs, quoted text. */
export function messagePattern(message: string): string {
  return message
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/(["'`]).*?\1/g, '<str>')
    .replace(/\b0x[0-9a-f]+\b/gi, '<hex>')
    .replace(/\b[0-9a-f]{12,}\b/gi, '<hex>')
    .replace(/\d+(\.\d+)?/g, '<n>');
}

/** The first `at ...` line of a stack, without the column (which minifiers and versions shift). */
export function topFrame(stack: string | null): string {
  if (stack === null) return '';
  for (const line of stack.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('at ')) return trimmed.replace(/:\d+\)?$/, (m) => (m.endsWith(')') ? ')' : ''));
  }
  return '';
}

/** 32-bit FNV-1a as 8 hex digits: short, stable, not a security hash. */
function fnv1a(input: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) {
    h ^= input.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** A JSON-safe copy of a context value: primitives as they are, anything else as bounded text. */
function plain(value: unknown): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return clip(value, MAX_VALUE_TEXT);
  if (value === undefined) return undefined;
  if (instanceOf(value, Date)) {
    const d = value as Date;
    return Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString();
  }
  return clip(text(value), MAX_VALUE_TEXT);
}

/** Copies up to 64 own enumerable keys of each source into a JSON-safe object; later sources win. */
export function mergeContext(...sources: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let keys = 0;
  for (const source of sources) {
    if (source === null || typeof source !== 'object') continue;
    let entries: string[];
    try {
      entries = instanceOf(source, Map) ? [...(source as Map<unknown, unknown>).keys()].map(String) : Object.keys(source);
    } catch {
      continue;
    }
    for (const key of entries) {
      if (!(key in out) && keys++ >= MAX_CONTEXT_KEYS) break;
      const value = instanceOf(source, Map) ? (source as Map<unknown, unknown>).get(key) : read(source, key);
      const safe = plain(value);
      if (safe !== undefined) out[key] = safe;
    }
  }
  return out;
}

/** Normalises anything into an {@link ErrorRecord}. Never throws. */
export function toRecord(
  value: unknown,
  options: { context?: Record<string, unknown>; source?: string; time?: number; pid?: number } = {},
): ErrorRecord {
  try {
    return build(value, options);
  } catch {
    // Something defeated every guard above: keep the occurrence, lose the details.
    const name = 'UnreadableError';
    const message = 'a value that could not be read was thrown or notified';
    return {
      name,
      message,
      stack: null,
      causes: [],
      errors: [],
      code: null,
      time: options.time ?? Date.now(),
      fingerprint: fnv1a(`${name}\n${message}\n`),
      context: options.context ?? {},
      pid: options.pid ?? process.pid,
      source: options.source ?? 'notify',
    };
  }
}

function build(value: unknown, options: { context?: Record<string, unknown>; source?: string; time?: number; pid?: number } = {}): ErrorRecord {
  const head = causeOf(value);
  const causes: ErrorCause[] = [];
  const seen = new Set<unknown>([value]);
  let cursor = value !== null && typeof value === 'object' ? read(value, 'cause') : undefined;
  while (cursor !== undefined && causes.length < MAX_CAUSES && !seen.has(cursor)) {
    seen.add(cursor);
    causes.push(causeOf(cursor));
    cursor = cursor !== null && typeof cursor === 'object' ? read(cursor, 'cause') : undefined;
  }
  const errors: ErrorCause[] = [];
  const inner = instanceOf(value, AggregateError) ? read(value as object, 'errors') : undefined;
  if (Array.isArray(inner)) for (const e of inner.slice(0, MAX_AGGREGATE)) errors.push(causeOf(e));
  const rawCode = value !== null && typeof value === 'object' ? read(value, 'code') : undefined;
  const code = typeof rawCode === 'string' ? clip(rawCode, 128) : typeof rawCode === 'number' ? rawCode : null;
  const fingerprint = fnv1a(`${head.name}\n${messagePattern(head.message)}\n${topFrame(head.stack)}`);
  return {
    name: head.name,
    message: head.message,
    stack: head.stack,
    causes,
    errors,
    code,
    time: options.time ?? Date.now(),
    fingerprint,
    context: options.context ?? {},
    pid: options.pid ?? process.pid,
    source: options.source ?? 'notify',
  };
}
