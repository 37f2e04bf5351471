/**
 * The one AsyncLocalStorage probekit uses. A frame carries both the request context and
 * the error domain, so `context.run()` and `domain.run()` nest freely and the process
 * pays for one ALS, not two (every enabled ALS adds work to every async resource).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ErrorDomain } from './domain.js';
import { shared } from '../util/shared.js';

/** What is active for the current async execution. */
export class Frame {
  constructor(
    /** Innermost domain, if any. */
    readonly domain: ErrorDomain | undefined,
    /** Frame to consult when `domain` cannot handle an error: the one active when it was entered. */
    readonly outer: Frame | undefined,
    /** The request context store, if any. */
    readonly store: Record<string, unknown> | undefined,
  ) {}
}

/** The storage behind both request context and error domains. */
export const storage: AsyncLocalStorage<Frame> = shared('storage', () => new AsyncLocalStorage<Frame>());

/**
 * The context an error was thrown out of, for errors thrown synchronously through
 * `context.run()`: by the time they are caught (or become uncaught) the store has
 * unwound, so `notify()` finds it here instead.
 */
export const thrownFrom = new WeakMap<object, Record<string, unknown>>();
