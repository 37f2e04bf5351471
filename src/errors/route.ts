/**
 * Delivery of an error to the error domains of a frame: shared by the domains
 * themselves and by the process-level handlers.
 */
import type { EventEmitter } from 'node:events';
import type { ErrorDomain } from './domain.js';
import { Frame, storage } from './frame.js';

/** Properties a routed error carries, as the old module documented them. */
export interface DomainError {
  /** The domain that handled it. */
  domain?: ErrorDomain;
  /** True when it was thrown; false when it came from an `'error'` event or `intercept()`. */
  domainThrown?: boolean;
  /** The function passed to `bind()` or `intercept()`, when it came through one. */
  domainBound?: (...args: never[]) => unknown;
  /** The emitter it came from, when it came from an added emitter's `'error'` event. */
  domainEmitter?: EventEmitter;
}

/** How an error reached a domain. */
export interface Origin {
  readonly thrown: boolean;
  readonly bound?: (...args: never[]) => unknown;
  readonly emitter?: EventEmitter;
}

const THROWN: Origin = { thrown: true };

/**
 * Tries to deliver `err` to the innermost domain of `frame` that has an `'error'`
 * listener, then to the domains it was entered from. Returns true when one took it.
 */
export function route(frame: Frame | undefined, err: unknown, origin: Origin = THROWN): boolean {
  for (let f = frame; f !== undefined; f = f.outer) {
    const domain = f.domain;
    if (domain === undefined) continue;
    if (domain.disposed) return true; // a disposed domain ignores what its callbacks still do
    if (domain.listenerCount('error') === 0) continue;
    if (err !== null && typeof err === 'object') {
      const e = err as DomainError;
      try {
        e.domain = domain;
        e.domainThrown = origin.thrown;
        if (origin.bound !== undefined) e.domainBound = origin.bound;
        if (origin.emitter !== undefined) e.domainEmitter = origin.emitter;
      } catch {
        // frozen or exotic error objects are delivered without the properties
      }
    }
    try {
      // The handler runs in its domain's outer context, so an error it throws goes outward.
      storage.run(f.outer ?? EMPTY, () => domain.emit('error', err));
      return true;
    } catch (handlerError) {
      return route(f.outer, handlerError);
    }
  }
  return false;
}



/** A frame with nothing active. */
export const EMPTY = new Frame(undefined, undefined, undefined);
