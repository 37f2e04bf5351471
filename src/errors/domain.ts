/**
 * Error domains: the API of Node's deprecated `domain` module, built only on
 * AsyncLocalStorage. Errors thrown by code a domain runs (synchronously, in timers,
 * immediates, `process.nextTick`, promise continuations and async functions it starts)
 * and `'error'` events nobody listens to reach the domain's `'error'` listeners, and
 * the process keeps running.
 */
import { EventEmitter } from 'node:events';
import { Frame, storage } from './frame.js';
import { domainCreated } from './process.js';
import { EMPTY, HANDLED, isDelivering, route, type Origin } from './route.js';

export type { DomainError } from './route.js';
import { typeError } from '../util/validate.js';

/** What a domain holds in `members`: emitters, timers and functions added with `add()`. */
export type DomainMember = EventEmitter | NodeJS.Timeout | ((...args: never[]) => unknown);

/**
 * Calls `fn` inside `storage.run(frame)`: a synchronous throw goes to the domains active
 * when it was thrown (after an `exit()` or `enter()` in `fn`, not necessarily `frame`'s).
 */
function runCaught<A extends unknown[], R>(frame: Frame, fn: (...args: A) => R, args: A): R | undefined {
  try {
    return args.length === 0 ? (fn as () => R)() : fn(...args);
  } catch (err) {
    const left = route(storage.getStore() ?? frame, err);
    if (left === HANDLED) return undefined;
    throw left;
  }
}

/** The old module's `enter()`/`exit()` stack: each entry remembers the frame it replaced. */
const stack: Array<{ readonly domain: ErrorDomain; readonly before: Frame | undefined }> = [];

function isTimer(value: unknown): value is NodeJS.Timeout {
  return value !== null && typeof value === 'object' && typeof (value as { _onTimeout?: unknown })._onTimeout === 'function';
}

const kOriginalEmit = Symbol('probekit.domain.originalEmit');
const kOriginalOnTimeout = Symbol('probekit.domain.originalOnTimeout');

type Patched = EventEmitter & { [kOriginalEmit]?: EventEmitter['emit'] };
type PatchedTimer = NodeJS.Timeout & { _onTimeout: (...args: unknown[]) => unknown; [kOriginalOnTimeout]?: (...args: unknown[]) => unknown };


/**
 * An error domain; create one with `errorDomain.create()`.
 *
 * @example
 * import { errorDomain } from 'probekit';
 * const d = errorDomain.create();
 * d.on('error', (err) => console.error('request failed', err.message));
 * d.run(() => {
 *   setTimeout(() => { throw new Error('boom'); }, 10); // reaches d, the process keeps running
 * });
 */
export class ErrorDomain extends EventEmitter {
  /** Emitters and timers added with `add()`. */
  readonly members: DomainMember[] = [];
  /** True after `dispose()`. */
  disposed = false;
  /** The frame of the latest run(), reused while run() is called from the same context. */
  private lastFrame: Frame | undefined = undefined;

  /** @internal Use `errorDomain.create()`. */
  constructor() {
    super();
    domainCreated();
    bindEmittersAtConstruction();
    installProcessDomain();
  }

  /**
   * An `'error'` emitted on the domain from outside probekit's routing (Node delivers an
   * unhandled rejection to `process.domain` this way) is routed like any other: the
   * domain's listeners, with `domain` and `domainThrown` set, or the domains it was entered
   * from. Every other event is emitted as usual.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'error' || isDelivering()) return super.emit(event, ...args);
    const current = storage.getStore();
    const frame = current?.domain === this ? current : (this.lastFrame ?? new Frame(this, current, current?.store));
    const left = route(frame, args[0]);
    if (left === HANDLED) return true;
    throw left;
  }

  /**
   * Runs `fn(...args)` in the domain and returns its result. A synchronous throw is
   * routed to the domain (when it, or a domain it runs in, has an `'error'` listener)
   * and `run()` returns `undefined`; otherwise it propagates as usual.
   */
  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R | undefined {
    if (typeof fn !== 'function') throw typeError('domain.run() argument "fn"', 'a function', fn);
    if (this.disposed) return undefined;
    const current = storage.getStore();
    // Frames are immutable: a run() from the same context as the last one reuses its frame.
    let frame = this.lastFrame;
    if (frame === undefined || frame.outer !== current) frame = this.lastFrame = new Frame(this, current, current?.store);
    // Node's run() is enter(), fn(), exit(): an exit() and another domain's enter() inside
    // fn take effect for what fn throws (exit() leaves a run() frame too, see there).
    return storage.run(frame, runCaught, frame, fn, args);
  }

  /**
   * Adds an emitter or timer created elsewhere: its `'error'` events with no listener
   * and errors thrown by its listeners (or the timer's callback) go to this domain.
   */
  add(member: DomainMember): void {
    if (isTimer(member)) {
      const timer = member as PatchedTimer;
      if (timer[kOriginalOnTimeout] === undefined) {
        const original = timer._onTimeout;
        timer[kOriginalOnTimeout] = original;
        const domain = this;
        timer._onTimeout = function (this: unknown, ...args: unknown[]) {
          return domain.run(() => original.apply(this, args));
        };
      }
    } else if (member instanceof EventEmitter) {
      const emitter = member as Patched;
      if (emitter[kOriginalEmit] === undefined) {
        const original = emitter.emit;
        emitter[kOriginalEmit] = original;
        const domain = this;
        emitter.emit = function (this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
          if (event === 'error' && this.listenerCount('error') === 0) {
            const err = args[0];
            const left = route(new Frame(domain, storage.getStore(), storage.getStore()?.store), err, { thrown: false, emitter: this });
            if (left === HANDLED) return false;
            if (left !== err) throw left;
            return original.call(this, event, ...args);
          }
          return domain.run(() => original.call(this, event, ...args)) ?? false;
        };
      }
    } else if (typeof member !== 'function') {
      throw typeError('domain.add() argument', 'an EventEmitter, a timer from setTimeout()/setInterval() or a function', member);
    }
    // As Node's module: the member names its domain (not enumerable). A function is only
    // recorded, as Node did: what it throws goes where the code running it goes.
    if (!isTimer(member)) Object.defineProperty(member, 'domain', { value: this, writable: true, configurable: true, enumerable: false });
    if (!this.members.includes(member)) this.members.push(member);
  }

  /** Undoes `add()`. */
  remove(member: DomainMember): void {
    const i = this.members.indexOf(member);
    if (i === -1) return;
    this.members.splice(i, 1);
    if (isTimer(member)) {
      const timer = member as PatchedTimer;
      const original = timer[kOriginalOnTimeout];
      if (original !== undefined) {
        timer._onTimeout = original;
        delete timer[kOriginalOnTimeout];
      }
    } else if (member instanceof EventEmitter) {
      (member as { domain?: unknown }).domain = null;
      const emitter = member as Patched;
      const original = emitter[kOriginalEmit];
      if (original !== undefined) {
        // Restoring the prototype method: delete the own property when it was the prototype's.
        if (original === Object.getPrototypeOf(emitter).emit) delete (emitter as { emit?: unknown }).emit;
        else emitter.emit = original;
        delete emitter[kOriginalEmit];
      }
    }
  }

  /** Returns a function that runs `fn` in this domain; an error it throws is routed to it. */
  bind<F extends (...args: never[]) => unknown>(fn: F): F {
    if (typeof fn !== 'function') throw typeError('domain.bind() argument "fn"', 'a function', fn);
    const domain = this;
    // Node sets domainBound only for intercept(), as it documents.
    const origin: Origin = { thrown: true };
    const wrapper = function (this: unknown, ...args: Parameters<F>) {
      if (domain.disposed) return undefined;
      const frame = new Frame(domain, storage.getStore(), storage.getStore()?.store);
      return storage.run(frame, () => {
        try {
          return fn.apply(this, args);
        } catch (err) {
          const left = route(frame, err, origin);
          if (left === HANDLED) return undefined;
          throw left;
        }
      });
    };
    return wrapper as unknown as F;
  }

  /**
   * Like `bind()` for Node-style callbacks: when the first argument is an Error it is
   * routed (with `domainThrown: false`) and `fn` is not called; otherwise `fn` receives
   * the remaining arguments.
   */
  intercept<A extends unknown[], R>(fn: (...args: A) => R): (err: unknown, ...args: A) => R | undefined {
    if (typeof fn !== 'function') throw typeError('domain.intercept() argument "fn"', 'a function', fn);
    const domain = this;
    const run = this.bind(fn as (...args: never[]) => unknown) as unknown as (...args: A) => R;
    const origin: Origin = { thrown: false, bound: fn as (...args: never[]) => unknown };
    return function (this: unknown, err: unknown, ...args: A): R | undefined {
      if (domain.disposed) return undefined;
      if (err instanceof Error) {
        const left = route(new Frame(domain, storage.getStore(), storage.getStore()?.store), err, origin);
        if (left !== HANDLED) throw left;
        return undefined;
      }
      return run.apply(this, args);
    };
  }

  /**
   * Makes this domain active for the rest of the current synchronous execution and the
   * async work it starts, and pushes it on the domain stack (the old module's `enter()`).
   */
  enter(): void {
    if (this.disposed) return;
    const current = storage.getStore();
    stack.push({ domain: this, before: current });
    storage.enterWith(new Frame(this, current, current?.store));
  }

  /**
   * Leaves this domain and every domain entered after it (the old stack semantics). Inside
   * this domain's own `run()` it leaves the run, as Node's `exit()` did; a domain neither
   * entered nor running is left alone.
   */
  exit(): void {
    let i = stack.length - 1;
    while (i >= 0 && (stack[i] as { domain: ErrorDomain }).domain !== this) i--;
    if (i === -1) {
      // Not entered with enter(): inside this domain's run(), leave to what run() came from.
      const active = storage.getStore();
      if (active?.domain === this) storage.enterWith(active.outer ?? EMPTY);
      return;
    }
    const before = (stack[i] as { before: Frame | undefined }).before;
    stack.length = i;
    // Back to what was active before this enter(): a surrounding run() and its context included.
    storage.enterWith(before ?? EMPTY);
  }

  /**
   * Clears the timers and removes the emitters added to it, leaves it, and ignores
   * anything its callbacks do later.
   */
  dispose(): void {
    if (this.disposed) return;
    for (const member of [...this.members]) {
      this.remove(member);
      if (isTimer(member)) clearTimeout(member);
    }
    this.exit();
    this.lastFrame = undefined;
    this.disposed = true;
    this.emit('dispose');
  }
}

/** The frame each emitter created inside a domain was created in. */
const boundFrames = new WeakMap<EventEmitter, Frame>();
let emittersBound = false;

/**
 * As Node's module did once loaded, and only once the first domain exists (a process that
 * never creates one pays nothing): an EventEmitter created while a domain is active
 * belongs to it, so an `'error'` it emits with no listener later, from anywhere (a timer
 * scheduled outside, a socket), reaches that domain. Construction records the active
 * frame (one AsyncLocalStorage read per `new EventEmitter()`); `emit` checks one string
 * for every other event.
 */
function bindEmittersAtConstruction(): void {
  if (emittersBound) return;
  emittersBound = true;
  const init = (EventEmitter as unknown as { init: (this: EventEmitter, opts?: unknown) => void }).init;
  (EventEmitter as unknown as { init: unknown }).init = function (this: EventEmitter, opts?: unknown): void {
    init.call(this, opts);
    const frame = storage.getStore();
    if (frame !== undefined && frame.domain !== undefined && !(this instanceof ErrorDomain)) {
      boundFrames.set(this, frame);
      Object.defineProperty(this, 'domain', { value: frame.domain, writable: true, configurable: true, enumerable: false });
    }
  };
  const emit = EventEmitter.prototype.emit;
  EventEmitter.prototype.emit = function (this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'error') {
      const frame = boundFrames.get(this);
      if (frame !== undefined && this.listenerCount('error') === 0 && (this as Patched)[kOriginalEmit] === undefined) {
        const err = args[0];
        const left = route(frame, err, { thrown: false, emitter: this });
        if (left === HANDLED) return false;
        if (left !== err) throw left;
      }
    }
    return emit.call(this, event, ...args);
  };
}

let processDomainInstalled = false;

/**
 * Makes `process.domain` the active domain (`null` outside any), as libraries written for
 * Node's module read it. Only while `process.domain` is Node's untouched default: once
 * `node:domain` is loaded it owns the property (it redefines it). Assigning to it replaces
 * the accessor with the plain value, as the property was before.
 */
function installProcessDomain(): void {
  if (processDomainInstalled) return;
  processDomainInstalled = true;
  const before = Object.getOwnPropertyDescriptor(process, 'domain');
  if (before === undefined || !('value' in before) || before.value !== null || before.configurable !== true) return;
  Object.defineProperty(process, 'domain', {
    configurable: true,
    enumerable: true,
    get: () => storage.getStore()?.domain ?? null,
    set: (value: unknown) => {
      Object.defineProperty(process, 'domain', { value, writable: true, configurable: true, enumerable: true });
    },
  });
}

/** The old `domain` module's entry point. */
export const errorDomain = {
  /** A new domain. */
  create(): ErrorDomain {
    return new ErrorDomain();
  },
  /** The domain of the current async execution, like the old `process.domain`. */
  get active(): ErrorDomain | undefined {
    return storage.getStore()?.domain;
  },
};
