/**
 * Delivery of an error to the error domains of a frame: shared by the domains
 * themselves and by the process-level handlers.
 */
import type { EventEmitter } from 'node:events';
import type { ErrorDomain } from './domain.js';
import { Frame, storage, thrownFrom } from './frame.js';

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

/** Above 0 while {@link route} calls a domain's 'error' listeners (see ErrorDomain.emit). */
let delivering = 0;

/** True while {@link route} is delivering an error to a domain's listeners. */
export function isDelivering(): boolean {
  return delivering > 0;
}

/** What {@link route} returns when a domain took the error. */
export const HANDLED: unique symbol = Symbol('probekit.handled');

/**
 * Tries to deliver `err` to the innermost domain of `frame` that has an `'error'`
 * listener, then to the domains it was entered from. Returns {@link HANDLED} when one
 * took it, else the error still to raise: `err`, or the error a domain's listener threw
 * when no outer domain could take that one (as the old module crashed on it).
 */
export function route(frame: Frame | undefined, err: unknown, origin: Origin = THROWN): unknown {
  for (let f = frame; f !== undefined; f = f.outer) {
    const domain = f.domain;
    if (domain === undefined) continue;
    if (domain.disposed) return HANDLED; // a disposed domain ignores what its callbacks still do
    if (domain.listenerCount('error') === 0) continue;
    if (err !== null && typeof err === 'object') {
      const e = err as DomainError;
      try {
        // As Node's module does: `domain` is not enumerable (it must not reach JSON or logs).
        Object.defineProperty(e, 'domain', { value: domain, writable: true, configurable: true, enumerable: false });
        e.domainThrown = origin.thrown;
        if (origin.bound !== undefined) e.domainBound = origin.bound;
        if (origin.emitter !== undefined) e.domainEmitter = origin.emitter;
      } catch {
        // frozen or exotic error objects are delivered without the properties
      }
    }
    // The listener runs outside its domain, so an error it throws goes outward, but keeps
    // the request context of the code that failed.
    const outer = f.outer;
    const store = f.store ?? (err !== null && typeof err === 'object' ? thrownFrom.get(err) : undefined);
    const handlerFrame = new Frame(outer?.domain, outer?.outer, store);
    try {
      delivering++;
      try {
        storage.run(handlerFrame, () => domain.emit('error', err));
      } finally {
        delivering--;
      }
      return HANDLED;
    } catch (handlerError) {
      return route(outer, handlerError);
    }
  }
  return err;
}



/** A frame with nothing active. */
export const EMPTY = new Frame(undefined, undefined, undefined);
