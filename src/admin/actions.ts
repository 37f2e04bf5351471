/**
 * The process-wide registry of actions: named functions an operator can run in a live
 * process (`pm2 trigger <app> <action>`, and the admin server's endpoint later). One
 * registry serves every caller, so an action registered once is reachable from each.
 *
 * Running an action never throws into the application and never hangs its caller: an
 * action that throws, rejects, never replies, or replies with something too large or
 * unserialisable is answered with an error result; a scoped action's streamed output is
 * bounded.
 */
import { shared } from '../util/shared.js';
import { describe, is, option, parseOptions, required, typeError } from '../util/validate.js';

/** Answers a plain action; only the first call counts. */
export type ActionReply = (data: unknown) => void;

/** What a scoped action writes to: chunks, an error, and the end. Calls after the end are ignored. */
export interface ActionStream {
  /** Streams one chunk of output. */
  send(data: unknown): void;
  /** Ends the run with an error. */
  error(data: unknown): void;
  /** Ends the run, with a last chunk when `data` is given. */
  end(data?: unknown): void;
}

/**
 * An action's function. A plain action gets `(reply)`, or `(params, reply)` when it
 * declares two parameters; a scoped action gets `(params, stream)`. A returned Promise's
 * rejection is an error result; its value, when not `undefined` and nothing was
 * replied yet, is the reply.
 */
export type ActionFunction = (...args: never[]) => unknown;

/** How an action is registered. */
export interface ActionDefinition {
  /** The function; see {@link ActionFunction}. */
  readonly fn: ActionFunction;
  /** Free-form options shown to whoever lists the actions (pmx's `opts`). @default null */
  readonly opts?: unknown;
  /** Streams its output through an {@link ActionStream} instead of replying once. @default false */
  readonly scoped?: boolean;
}

/** One registered action, as {@link ActionRegistry.list} shows it. */
export interface ActionInfo {
  readonly name: string;
  readonly scoped: boolean;
  /** Declared parameters of the function. */
  readonly arity: number;
  readonly opts: unknown;
}

/** Options of one {@link ActionRegistry.run}. */
export interface RunOptions {
  /** How long the action may take before it is answered with an error, in ms. @default 30000 */
  readonly timeoutMs?: number;
  /** Receives a scoped action's output as it comes (`'stream'` chunks, then `'error'` or `'end'`). */
  readonly onStream?: (kind: 'stream' | 'error' | 'end', data: unknown) => void;
}

/** How a run ended: the reply, or why there is none. */
export type ActionResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

/** Longest accepted action name. */
export const MAX_ACTION_NAME = 128;
/** Largest reply or streamed chunk, as JSON text. */
export const MAX_REPLY_BYTES = 64 * 1024;
/** Most chunks one scoped run may stream. */
export const MAX_STREAM_CHUNKS = 1000;

const RUN_OPTIONS = {
  timeoutMs: option(is.integer(1, 2 ** 31 - 1), 30_000),
  onStream: option(is.function<NonNullable<RunOptions['onStream']>>()),
};

const DEFINITION_OPTIONS = {
  fn: required(is.function<ActionFunction>()),
  opts: option(is.any),
  scoped: option(is.boolean, false),
};

/**
 * Checks an action name: 1 to 128 characters, no control characters, no surrounding
 * spaces, and not in PM2's own `km:` / `internal:` namespaces (its agent answers those).
 */
export function checkActionName(where: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_ACTION_NAME || name.trim() !== name || hasControl(name)) {
    throw typeError(where, `a name of 1 to ${MAX_ACTION_NAME} characters without control characters or surrounding spaces`, name);
  }
  if (name.startsWith('km:') || name.startsWith('internal:')) {
    throw typeError(where, 'a name outside the "km:" and "internal:" namespaces (PM2\'s own agent answers those)', name);
  }
  return name;
}

/** True when `text` holds a control character (U+0000–U+001F, U+007F). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

interface Entry {
  readonly name: string;
  readonly fn: ActionFunction;
  readonly opts: unknown;
  readonly scoped: boolean;
}

/** A reply as JSON-safe data, or why it cannot be sent. */
function bounded(data: unknown): ActionResult {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    return { ok: false, error: `reply could not be serialised: ${err instanceof Error ? err.message : describe(err)}` };
  }
  if (text === undefined) return { ok: true, value: null };
  if (text.length > MAX_REPLY_BYTES) return { ok: false, error: `reply of ${text.length} bytes exceeds the ${MAX_REPLY_BYTES}-byte limit` };
  return { ok: true, value: JSON.parse(text) as unknown };
}

function reason(err: unknown): string {
  try {
    if (err instanceof Error) return `${err.name}: ${err.message}`;
    return typeof err === 'string' ? err : describe(err);
  } catch {
    return 'unreadable error';
  }
}

/** The registry; {@link actions} is the process-wide one. */
export class ActionRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(info: ActionInfo) => void>();

  /**
   * Registers (or, under the same name, replaces) an action. Returns the function that
   * removes it. Throws a `TypeError` for a bad name or definition.
   */
  register(name: string, definition: ActionDefinition): () => void {
    checkActionName('register() argument "name"', name);
    const opts = parseOptions('register()', DEFINITION_OPTIONS, definition, { required: true });
    const entry: Entry = { name, fn: opts.fn, opts: opts.opts ?? null, scoped: opts.scoped };
    this.entries.set(name, entry);
    const info = infoOf(entry);
    for (const listener of this.listeners) {
      try {
        listener(info);
      } catch {
        // a listener's failure is its own
      }
    }
    return () => {
      if (this.entries.get(name) === entry) this.entries.delete(name);
    };
  }

  /** Every registered action, in registration order. */
  list(): ActionInfo[] {
    return [...this.entries.values()].map(infoOf);
  }

  /** True when `name` is registered. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** @internal Calls `listener` with each action registered from now on; returns the unsubscriber. */
  onRegister(listener: (info: ActionInfo) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Runs an action and resolves with its result; never rejects. `params` reaches a
   * two-parameter action and every scoped action (`{}` when absent). An unknown name, a
   * throw, a rejection, a reply that is too large or not serialisable, more than
   * {@link MAX_STREAM_CHUNKS} chunks, and no answer within `timeoutMs` (an `unref()`ed
   * timer) are error results.
   */
  run(name: string, params?: unknown, options: RunOptions = {}): Promise<ActionResult> {
    const opts = parseOptions('run()', RUN_OPTIONS, options);
    const entry = typeof name === 'string' ? this.entries.get(name) : undefined;
    if (entry === undefined) return Promise.resolve({ ok: false, error: `no action named ${describe(name)}` });
    return new Promise<ActionResult>((resolve) => {
      let done = false;
      let chunks = 0;
      const stream = (kind: 'stream' | 'error' | 'end', data: unknown): void => {
        try {
          opts.onStream?.(kind, data);
        } catch {
          // the caller's listener is its own concern
        }
      };
      const finish = (result: ActionResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        if (entry.scoped && !done) stream('error', `action "${name}" timed out after ${opts.timeoutMs} ms`);
        finish({ ok: false, error: `action "${name}" did not answer within ${opts.timeoutMs} ms` });
      }, opts.timeoutMs);
      timer.unref();
      const reply: ActionReply = (data) => {
        if (done) return;
        finish(bounded(data));
      };
      const out: ActionStream = {
        send: (data) => {
          if (done) return;
          if (++chunks > MAX_STREAM_CHUNKS) {
            const error = `action "${name}" streamed more than ${MAX_STREAM_CHUNKS} chunks`;
            stream('error', error);
            finish({ ok: false, error });
            return;
          }
          const chunk = bounded(data);
          if (chunk.ok) stream('stream', chunk.value);
          else {
            stream('error', chunk.error);
            finish(chunk);
          }
        },
        error: (data) => {
          if (done) return;
          const chunk = bounded(data);
          const text = chunk.ok ? chunk.value : chunk.error;
          stream('error', text);
          finish({ ok: false, error: typeof text === 'string' ? text : JSON.stringify(text) });
        },
        end: (data) => {
          if (done) return;
          const chunk = bounded(data);
          stream('end', chunk.ok ? chunk.value : chunk.error);
          finish(chunk);
        },
      };
      const fail = (err: unknown): void => {
        if (done) return;
        const error = `action "${name}" failed: ${reason(err)}`;
        if (entry.scoped) stream('error', error);
        finish({ ok: false, error });
      };
      let returned: unknown;
      try {
        const fn = entry.fn as (...args: unknown[]) => unknown;
        const given = params ?? {};
        returned = entry.scoped ? fn(given, out) : fn.length >= 2 ? fn(given, reply) : fn(reply);
      } catch (err) {
        fail(err);
        return;
      }
      settle(returned, (value) => {
        if (value !== undefined && !done) (entry.scoped ? out.end : reply)(value);
      }, fail);
    });
  }
}

/** Follows a returned thenable, if any; a hostile one is a failure, never a throw. */
function settle(value: unknown, onValue: (v: unknown) => void, onError: (e: unknown) => void): void {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return;
  try {
    const then = (value as { then?: unknown }).then;
    if (typeof then === 'function') then.call(value, onValue, onError);
  } catch (err) {
    onError(err);
  }
}

function infoOf(entry: Entry): ActionInfo {
  return { name: entry.name, scoped: entry.scoped, arity: entry.fn.length, opts: entry.opts };
}

/** The process-wide action registry (shared by every installed copy of this major). */
export const actions: ActionRegistry = shared('actions', () => new ActionRegistry());
