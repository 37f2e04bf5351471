/**
 * Process-level errors: `uncaughtException` and `unhandledRejection`.
 *
 * One set of listeners serves both error domains and `captureProcessErrors()`, and is
 * installed once a domain exists or while capture is on; a process with neither keeps
 * Node's own handling untouched. When installed, the listeners keep Node's semantics:
 * - an error that belongs to an error domain with an `'error'` listener goes there and
 *   the process keeps running;
 * - if the application has its own listeners, probekit only observes (it notifies,
 *   through `uncaughtExceptionMonitor` where Node has one) and does not exit; its own
 *   'uncaughtException' listener is then taken away, so a library that exits only when it
 *   listens alone (PM2's agent, pmx) still does;
 * - otherwise an uncaught exception is printed as Node prints it and the process exits
 *   with code 1 (after the shutdown phases flush the exporters, when capture is on); a rejection follows
 *   `--unhandled-rejections` (`throw` by default, as in Node).
 */
import { writeSync } from 'node:fs';
import { inspect } from 'node:util';
import { is, option, parseOptions, typeError } from '../util/validate.js';
import { hasOpenWork, shutdownForCrash } from '../lifecycle/shutdown.js';
import { storage } from './frame.js';
import { HANDLED, route } from './route.js';
import { errors, type ErrorStore, storeOption } from './store.js';

/** What to do with a promise rejection nobody handles; Node's `--unhandled-rejections` modes. */
export type RejectionMode = 'throw' | 'strict' | 'warn' | 'warn-with-error-code' | 'none';

/** Options of {@link captureProcessErrors}. */
export interface CaptureOptions {
  /**
   * Unhandled rejections: `throw` (crash like an uncaught exception, Node's default),
   * `strict`, `warn`, `warn-with-error-code` or `none`.
   * @default the process's `--unhandled-rejections` flag, else 'throw'
   */
  readonly unhandledRejections?: RejectionMode;
  /** How long the shutdown phases (servers, exporters' final flush, pending records) may take before the process exits, in ms. @default 2000 */
  readonly flushTimeoutMs?: number;
  /** Print one line to stderr when probekit captures an error the application also handles. @default false */
  readonly log?: boolean;
  /** Store that receives the records. @default the process-wide `errors` */
  readonly store?: ErrorStore;
}

/** What {@link captureProcessErrors} returns. */
export interface ProcessCapture {
  /** Stops capturing (the listeners go once no domain needs them either). */
  close(): void;
}

interface CaptureState {
  readonly mode: RejectionMode;
  readonly flushTimeoutMs: number;
  readonly log: boolean;
  readonly store: ErrorStore;
}

const MODES: readonly RejectionMode[] = ['throw', 'strict', 'warn', 'warn-with-error-code', 'none'];

const CAPTURE_OPTIONS = {
  unhandledRejections: option((where, v): RejectionMode => {
    if (!(MODES as readonly unknown[]).includes(v)) throw typeError(where, `one of ${MODES.join(', ')}`, v);
    return v as RejectionMode;
  }),
  flushTimeoutMs: option(is.integer(0), 2000),
  log: option(is.boolean, false),
  store: storeOption,
};

let capture: CaptureState | undefined;
let domainsExist = false;
let installed = false;
let exiting = false;

/** Node's own `--unhandled-rejections` mode, from the command line or NODE_OPTIONS (both spellings). */
function nodeRejectionMode(): RejectionMode {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  let mode: RejectionMode = 'throw';
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i] as string;
    let value: string | undefined;
    if (flag.startsWith('--unhandled-rejections=')) value = flag.slice('--unhandled-rejections='.length);
    else if (flag === '--unhandled-rejections') value = flags[i + 1];
    if (value !== undefined && (MODES as readonly string[]).includes(value)) mode = value as RejectionMode;
  }
  return mode;
}

/** The error Node raises for a rejection with a non-Error reason. */
function rejectionError(reason: unknown): unknown {
  if (reason instanceof Error) return reason;
  const err = new Error(
    'This error originated either by throwing inside of an async function without a catch block, ' +
      `or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason "${inspect(reason)}".`,
  );
  err.name = 'UnhandledPromiseRejection';
  (err as Error & { code?: string }).code = 'ERR_UNHANDLED_REJECTION';
  return err;
}

let rejectionId = 0;
/** True while onRejection raises a rejection as an uncaught exception itself. */
let raisingRejection = false;

/** The two warnings Node prints for an unhandled rejection in its warn modes, worded as Node words them. */
function warnAsNode(reason: unknown): void {
  try {
    const stack = reason instanceof Error ? reason.stack : undefined;
    process.emitWarning(typeof stack === 'string' ? stack : inspect(reason), 'UnhandledPromiseRejectionWarning');
  } catch {
    // a reason that cannot be printed still gets the second warning
  }
  process.emitWarning(
    'Unhandled promise rejection. This error originated either by throwing inside of an async function without a catch block, ' +
      'or by rejecting a promise which was not handled with .catch(). To terminate the node process on unhandled promise rejection, ' +
      `use the CLI flag \`--unhandled-rejections=strict\` (see https://nodejs.org/api/cli.html#cli_unhandled_rejections_mode). (rejection id: ${++rejectionId})`,
    'UnhandledPromiseRejectionWarning',
  );
}

function printFatal(err: unknown): void {
  try {
    writeSync(2, `${inspect(err)}\n\nNode.js ${process.version}\n`);
  } catch {
    // stderr closed: nothing more to do
  }
}

/**
 * Prints, flushes (when capture is on) and exits: Node's outcome for a crash, code 1, or
 * code 7 when the error is one a domain's 'error' listener threw (Node's "internal
 * exception handler run-time failure").
 */
function crash(err: unknown, code = 1): void {
  if (exiting) return;
  exiting = true;
  printFatal(err);
  const state = capture;
  if (state === undefined || !hasOpenWork()) {
    process.exit(code);
  }
  // The shutdown phases (servers, exporters' final flush, pending records) under the deadline.
  void shutdownForCrash(state.flushTimeoutMs).finally(() => process.exit(code));
}

function appListeners(event: 'uncaughtException' | 'unhandledRejection'): number {
  const own = event === 'uncaughtException' ? (process.listeners(event) as unknown[]).includes(onUncaught) : installed;
  return process.listenerCount(event) - (own ? 1 : 0);
}

/**
 * probekit's 'uncaughtException' listener is there only while the application has none:
 * some libraries (PM2's agent, pmx, @pm2/io) exit only when theirs is the one listener, so
 * another one, even one that defers to them, would keep a crashed process alive. While
 * the application listens, Node's own handling decides, and probekit observes through
 * 'uncaughtExceptionMonitor' (domains still get their errors first through process.emit).
 */
function onNewListener(event: string | symbol, listener: unknown): void {
  if (event === 'uncaughtException' && listener !== onUncaught) process.off('uncaughtException', onUncaught);
}

function onRemoveListener(event: string | symbol, listener: unknown): void {
  if (event === 'uncaughtException' && listener !== onUncaught && installed && process.listenerCount('uncaughtException') === 0) {
    process.on('uncaughtException', onUncaught);
  }
}

function onMonitor(err: unknown, origin: string): void {
  // Notify here, before any listener runs: an application listener may exit at once.
  // Rejections probekit raises itself were notified by onRejection already; in Node's
  // strict mode Node raises them, before any 'unhandledRejection' listener runs.
  if (capture === undefined || exiting || (origin === 'unhandledRejection' && raisingRejection)) return;
  if (willRoute()) return;
  capture.store.notify(err, undefined, origin);
  if (capture.log && origin === 'uncaughtException' && appListeners('uncaughtException') > 0) {
    writeSync(2, `probekit: captured ${origin} (the application handles it)\n`);
  }
}

/** True when the current async execution has a domain that will take an error. */
function willRoute(): boolean {
  for (let f = storage.getStore(); f !== undefined; f = f.outer) {
    if (f.domain !== undefined && (f.domain.disposed || f.domain.listenerCount('error') > 0)) return true;
  }
  return false;
}

function onUncaught(error: unknown): void {
  // With domains, process.emit below has routed it already (before any application listener).
  const err = routedByEmit ? error : route(storage.getStore(), error);
  if (err === HANDLED) return;
  if (appListeners('uncaughtException') > 0) return; // a listener added while this one ran decides
  crash(err);
}

function onRejection(rejected: unknown): void {
  // Node emits this in the rejected promise's async context: its domain is active here.
  const reason = route(storage.getStore(), rejected);
  if (reason === HANDLED) return;
  const state = capture;
  if (state !== undefined && !exiting) state.store.notify(reason, undefined, 'unhandledRejection');
  const mode = state?.mode ?? nodeRejectionMode();
  // 'strict' raises the rejection as an uncaught exception whatever listeners exist.
  if (mode !== 'strict' && appListeners('unhandledRejection') > 0) {
    if (state?.log === true) writeSync(2, 'probekit: captured unhandledRejection (the application handles it)\n');
    return;
  }
  switch (mode) {
    case 'none':
      return;
    case 'warn':
    case 'warn-with-error-code': {
      // Node's own 'warn' mode warns whatever listeners exist; its other modes warn only
      // when no 'unhandledRejection' listener exists, and probekit's is one: so probekit
      // warns as Node would have, unless Node already did.
      if (nodeRejectionMode() !== 'warn') warnAsNode(reason);
      if (mode === 'warn-with-error-code') process.exitCode = 1;
      return;
    }
    default: {
      const err = rejectionError(reason);
      const emit = process.emit as (event: string, ...args: unknown[]) => boolean;
      // As Node does in throw mode: monitors first, then the application's
      // uncaughtException listeners if it has any, else the crash.
      raisingRejection = true;
      try {
        emit.call(process, 'uncaughtExceptionMonitor', err, 'unhandledRejection');
      } finally {
        raisingRejection = false;
      }
      if (appListeners('uncaughtException') > 0) {
        emit.call(process, 'uncaughtException', err, 'unhandledRejection');
        return;
      }
      crash(err);
    }
  }
}

function sync(): void {
  const wanted = capture !== undefined || domainsExist;
  if (wanted === installed) return;
  if (wanted) {
    process.on('uncaughtExceptionMonitor', onMonitor);
    if (process.listenerCount('uncaughtException') === 0) process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onRejection);
    process.on('newListener', onNewListener);
    process.on('removeListener', onRemoveListener);
  } else {
    process.off('newListener', onNewListener);
    process.off('removeListener', onRemoveListener);
    process.off('uncaughtExceptionMonitor', onMonitor);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
  }
  installed = wanted;
}

/** @internal True while `captureProcessErrors()` is on. */
export function captureActive(): boolean {
  return capture !== undefined;
}

/**
 * @internal A domain was created: errors may now belong to it. The listeners stay for
 * the life of the process, even after dispose(): a disposed domain's callbacks may still
 * throw, and the domain must go on ignoring them.
 */
export function domainCreated(): void {
  domainsExist = true;
  sync();
  patchEmit();
}

/** True while the patched process.emit delivers an 'uncaughtException' it routed already. */
let routedByEmit = false;
let emitPatched = false;

/**
 * Once a domain exists, an uncaught exception goes to the domains before any listener of
 * 'uncaughtException' runs, as Node's module arranged: an error a domain handled never
 * reaches the application's own listeners, and one a domain's listener threw ends the
 * process with code 7. Everything else is emitted as before.
 */
function patchEmit(): void {
  if (emitPatched) return;
  emitPatched = true;
  const original = process.emit as (this: NodeJS.Process, event: string | symbol, ...args: unknown[]) => boolean;
  const patched = function (this: NodeJS.Process, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'uncaughtException' || routedByEmit) return original.call(this, event, ...args);
    const error = args[0];
    const left = route(storage.getStore(), error);
    if (left === HANDLED) return true;
    if (left !== error) {
      // A domain's 'error' listener threw, and no outer domain took that error.
      crash(left, 7);
      return true;
    }
    routedByEmit = true;
    try {
      return original.call(this, event, ...args);
    } finally {
      routedByEmit = false;
    }
  };
  (process as { emit: unknown }).emit = patched;
}

/**
 * Captures uncaught exceptions and unhandled rejections: each is notified (with its
 * request context), the shutdown phases get `flushTimeoutMs` to send what exporters hold,
 * and then Node's semantics are kept: exit code 1 for an uncaught exception, the
 * `unhandledRejections` mode for rejections. It never hijacks: when the application has
 * its own listeners probekit only observes, and errors that belong to an error domain
 * go to the domain. Calling it again replaces the options.
 *
 * @example
 * import { captureProcessErrors, onError } from 'probekit';
 * captureProcessErrors();
 * onError((record) => console.error(record.name, record.message));
 */
export function captureProcessErrors(options: CaptureOptions = {}): ProcessCapture {
  const opts = parseOptions('captureProcessErrors()', CAPTURE_OPTIONS, options);
  const state: CaptureState = {
    mode: opts.unhandledRejections ?? nodeRejectionMode(),
    flushTimeoutMs: opts.flushTimeoutMs,
    log: opts.log,
    store: opts.store ?? errors,
  };
  capture = state;
  sync();
  return {
    close() {
      if (capture === state) {
        capture = undefined;
        sync();
      }
    },
  };
}
