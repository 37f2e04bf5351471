/**
 * Request context on AsyncLocalStorage: the replacement for cls-hooked and
 * continuation-local-storage. A store set with `context.run()` follows the async
 * execution it starts: awaits, timers, immediates, promise continuations, custom
 * thenables; `bindEmitter()` covers listeners that an emitter calls from elsewhere.
 */
import { AsyncResource } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import { Frame, storage, thrownFrom } from './frame.js';
import { typeError } from '../util/validate.js';

/** A request context store: any plain object (`{ requestId, userId }`). */
export type ContextStore = Record<string, unknown>;

/** Each listener-adding method, and the plain method a once-variant is built on. */
const LISTENER_METHODS = [
  ['on', 'on'],
  ['addListener', 'addListener'],
  ['prependListener', 'prependListener'],
  ['once', 'on'],
  ['prependOnceListener', 'prependListener'],
] as const;
const bound = new WeakSet<EventEmitter>();

/**
 * The request context API.
 *
 * @example
 * import { context, notify } from 'probekit';
 * server.on('request', (req, res) => context.run({ requestId: req.headers['x-request-id'] }, () => handle(req, res)));
 * // anywhere below, across awaits and timers:
 * context.get('requestId');
 * notify(err); // the record carries { requestId }
 */
/** The request context API; see {@link context}. */
export interface RequestContext {
  /** Runs `fn` with `store` as the active context (the object itself, not a copy); returns what `fn` returns. */
  run<R>(store: ContextStore, fn: () => R): R;
  /** The active store, or `undefined` outside any `context.run()`. */
  get(): ContextStore | undefined;
  /** One key of the active store, or `undefined`. */
  get(key: string): unknown;
  /** Sets a key on the active store; returns false (and does nothing) outside any context. */
  set(key: string, value: unknown): boolean;
  /** Returns `fn` bound to the context (and error domain) active now. */
  bind<F extends (...args: never[]) => unknown>(fn: F): F;
  /** Binds listeners added to `emitter` from now on to the context active when each is added. */
  bindEmitter<E extends EventEmitter>(emitter: E): E;
}

export const context: RequestContext = {
  /**
   * Runs `fn` with `store` as the active context (the object itself, not a copy) and
   * returns what `fn` returns. Any active error domain stays active.
   */
  run<R>(store: ContextStore, fn: () => R): R {
    if (store === null || typeof store !== 'object') throw typeError('context.run() argument "store"', 'an object', store);
    if (typeof fn !== 'function') throw typeError('context.run() argument "fn"', 'a function', fn);
    const current = storage.getStore();
    try {
      return storage.run(new Frame(current?.domain, current?.outer, store), fn);
    } catch (err) {
      // Remember the innermost context a synchronous throw left, for notify() and capture.
      if (err !== null && typeof err === 'object' && !thrownFrom.has(err)) thrownFrom.set(err, store);
      throw err;
    }
  },

  get(key?: string): never {
    const store = storage.getStore()?.store;
    return (key === undefined ? store : store?.[key]) as never;
  },

  /** Sets a key on the active store; returns false (and does nothing) outside any context. */
  set(key: string, value: unknown): boolean {
    const store = storage.getStore()?.store;
    if (store === undefined) return false;
    store[key] = value;
    return true;
  },

  /** Returns `fn` bound to the context (and error domain) active now, wherever it is called from. */
  bind<F extends (...args: never[]) => unknown>(fn: F): F {
    if (typeof fn !== 'function') throw typeError('context.bind() argument "fn"', 'a function', fn);
    return AsyncResource.bind(fn as unknown as (...args: unknown[]) => unknown) as unknown as F;
  },

  /**
   * Makes every listener added to `emitter` from now on run in the context active at the
   * time it was added, even when the emitter calls it from another async execution
   * (socket and stream events such as a request's `'end'`). `removeListener(original)`
   * keeps working. Returns the emitter.
   */
  bindEmitter<E extends EventEmitter>(emitter: E): E {
    if (emitter === null || typeof emitter !== 'object' || typeof emitter.on !== 'function') {
      throw typeError('context.bindEmitter() argument "emitter"', 'an EventEmitter', emitter);
    }
    if (bound.has(emitter)) return emitter;
    bound.add(emitter);
    type Add = (event: string | symbol, listener: (...args: unknown[]) => void) => E;
    // Take every original first: a once-variant must add through the unpatched method.
    const originals = new Map<string, Add>(LISTENER_METHODS.map(([, base]) => [base, emitter[base] as Add]));
    for (const [method, base] of LISTENER_METHODS) {
      const add = originals.get(base) as Add;
      const once = method !== base;
      Object.defineProperty(emitter, method, {
        configurable: true,
        writable: true,
        value(this: E, event: string | symbol, listener: (...args: unknown[]) => void) {
          if (typeof listener !== 'function') return add.call(this, event, listener);
          const run = AsyncResource.bind(listener) as (...args: unknown[]) => unknown;
          // Node's removeListener() matches `wrapper.listener === original`; a once-variant
          // is built here (not on Node's once) so that its wrapper is the one that matches.
          const wrapped = once
            ? function (this: E, ...args: unknown[]) {
                this.removeListener(event, wrapped);
                return run.apply(this, args);
              }
            : function (this: E, ...args: unknown[]) {
                return run.apply(this, args);
              };
          (wrapped as typeof wrapped & { listener?: unknown }).listener = listener;
          return add.call(this, event, wrapped);
        },
      });
    }
    return emitter;
  },
};
