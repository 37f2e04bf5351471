/**
 * One lifecycle for the process: every open exporter and every server probekit started
 * registers here, and three ways of ending use the same ordered phases under one
 * deadline:
 * - `shutdown()`, called by the application (or by {@link handleShutdown} on SIGTERM and
 *   SIGINT): mark not ready → optional delay → close probekit's own servers → flush and
 *   close every open exporter;
 * - a process that ends normally: on `beforeExit`, once, every open exporter flushes, so
 *   the last interval is delivered (the flush keeps nothing alive after it);
 * - a crash that process capture ends: the same phases, then the exit code Node would give.
 *
 * `process.exit()` cannot wait for asynchronous work: a process that calls it loses what
 * its exporters hold unless it awaits `shutdown()` first.
 */
import { describe, is, option, parseOptions, typeError } from '../util/validate.js';
import { shared } from '../util/shared.js';

/** What every exporter offers the lifecycle. Both calls always resolve, whatever fails. */
export interface Exporter {
  /** Sends what the exporter holds now. */
  flush(): Promise<void>;
  /** A final flush, then releases sockets and timers. Idempotent. */
  close(): Promise<void>;
}

/** Something probekit started that only needs closing (a server). */
export interface Closable {
  close(): Promise<void>;
}

/** Options of {@link shutdown}. */
export interface ShutdownOptions {
  /** The deadline for every phase together, in ms; `shutdown()` resolves by then whatever is left. @default 5000 */
  readonly timeoutMs?: number;
  /**
   * Wait this long after marking the process not ready, before closing anything, in ms:
   * time for a load balancer polling the health check to stop sending traffic. @default 0
   */
  readonly delayMs?: number;
}

/** What {@link shutdown} resolves with. */
export interface ShutdownReport {
  /** True when the deadline passed before every phase finished. */
  readonly timedOut: boolean;
  /** Servers and exporters whose close failed (reported to their own onError too). */
  readonly failures: number;
}

/** Options of {@link handleShutdown}. */
export interface HandleShutdownOptions extends ShutdownOptions {
  /** Signals that start the shutdown. @default ['SIGTERM', 'SIGINT'] */
  readonly signals?: readonly NodeJS.Signals[];
}

interface LifecycleState {
  readonly exporters: Set<Exporter>;
  readonly servers: Set<Closable>;
  /** Pending work to await before a crash exit (error records still on their way). */
  readonly pending: Set<() => unknown>;
  ready: boolean;
  shutdown: Promise<ShutdownReport> | undefined;
  beforeExit: boolean;
  flushedAtExit: boolean;
}

const state = shared<LifecycleState>('lifecycle', () => ({
  exporters: new Set(),
  servers: new Set(),
  pending: new Set(),
  ready: true,
  shutdown: undefined,
  beforeExit: false,
  flushedAtExit: false,
}));

/**
 * True until a shutdown began: what a readiness check reports (a load balancer stops
 * sending traffic to a process that is not ready).
 *
 * @example
 * import { isReady } from 'probekit';
 * app.get('/ready', (req, res) => res.status(isReady() ? 200 : 503).end());
 */
export function isReady(): boolean {
  return state.ready;
}

/**
 * Registers an open exporter: flushed on `beforeExit`, flushed and closed by `shutdown()`
 * and before a crash exit. Returns the function that unregisters it (its `close()` calls it).
 */
export function openExporter(exporter: Exporter): () => void {
  state.exporters.add(exporter);
  if (!state.beforeExit) {
    state.beforeExit = true;
    // Registered once for the process; with no exporter open it does nothing.
    process.on('beforeExit', onBeforeExit);
  }
  return () => {
    state.exporters.delete(exporter);
  };
}

/** Registers a server probekit started, closed by `shutdown()`. Returns the function that unregisters it. */
export function openServer(server: Closable): () => void {
  state.servers.add(server);
  return () => {
    state.servers.delete(server);
  };
}

/**
 * Registers `hook` to run in the last phase of {@link shutdown} and of a crash exit that
 * process capture ends, after the exporters, within the same deadline: flush your own
 * logger or queue there. A hook that throws or rejects is counted as a failure of the
 * shutdown, never thrown. Returns the function that unregisters it.
 *
 * @example
 * import { onShutdown } from 'probekit';
 * onShutdown(() => logger.flush());
 */
export function onShutdown(hook: () => unknown): () => void {
  if (typeof hook !== 'function') throw typeError('onShutdown() argument', 'a function', hook);
  return addPending(hook);
}

/** Registers work a crash exit should wait for (within its deadline). Returns the function that unregisters it. */
export function addPending(hook: () => unknown): () => void {
  state.pending.add(hook);
  return () => {
    state.pending.delete(hook);
  };
}

/** True when a shutdown or crash exit has anything to wait for. */
export function hasOpenWork(): boolean {
  return state.exporters.size > 0 || state.servers.size > 0 || state.pending.size > 0;
}

function onBeforeExit(): void {
  // Once: the flush itself schedules work, after which beforeExit fires again.
  if (state.flushedAtExit || state.exporters.size === 0 || state.shutdown !== undefined) return;
  state.flushedAtExit = true;
  for (const exporter of state.exporters) void settle(() => exporter.flush());
}

/** Runs `fn`, resolving true when it succeeded; never rejects, whatever `fn` does. */
async function settle(fn: () => unknown): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch {
    return false;
  }
}

const SHUTDOWN_OPTIONS = {
  timeoutMs: option(is.integer(0), 5000),
  delayMs: option(is.integer(0), 0),
};

/**
 * Ends probekit's work in order, under one deadline, and always resolves: marks the
 * process not ready, waits `delayMs`, closes probekit's servers, then flushes and closes
 * every open exporter. A second call returns the first call's promise.
 *
 * @example
 * import { shutdown } from 'probekit';
 * process.on('SIGTERM', async () => {
 *   await server.close();
 *   await shutdown({ timeoutMs: 3000 });
 *   process.exit(0);
 * });
 */
export function shutdown(options: ShutdownOptions = {}): Promise<ShutdownReport> {
  const opts = parseOptions('shutdown()', SHUTDOWN_OPTIONS, options);
  state.shutdown ??= run(opts.timeoutMs, opts.delayMs);
  return state.shutdown;
}

/**
 * Waits for `work`, or `ms`, whichever comes first; resolves true when the time ran out
 * (after calling `onTimeout`). The timer is ref'd on purpose, so the process stays up
 * until one of the two, and cleared after. Never rejects when `work` never rejects.
 */
export async function withDeadline(work: Promise<unknown>, ms: number, onTimeout?: () => void): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<true>((resolve) => {
    timer = setTimeout(() => {
      try {
        onTimeout?.();
      } finally {
        resolve(true);
      }
    }, ms);
  });
  const timedOut = await Promise.race([work.then(() => false), deadline]);
  clearTimeout(timer);
  return timedOut;
}

async function run(timeoutMs: number, delayMs: number): Promise<ShutdownReport> {
  state.ready = false;
  let failures = 0;
  let delay: NodeJS.Timeout | undefined;
  // Each failure counts as it settles: a report that timed out still counts the ones before.
  const attempt = async (fn: () => unknown): Promise<void> => {
    if (!(await settle(fn))) failures += 1;
  };
  const phases = (async () => {
    if (delayMs > 0) await new Promise((resolve) => (delay = setTimeout(resolve, delayMs)));
    await Promise.all([...state.servers].map((s) => attempt(() => s.close())));
    await Promise.all([...state.exporters].map((e) => attempt(() => e.close())));
    await Promise.all([...state.pending].map((hook) => attempt(hook)));
  })();
  const timedOut = await withDeadline(phases, timeoutMs);
  clearTimeout(delay); // a delay longer than the deadline must not hold the process after it
  return { timedOut, failures };
}

/**
 * Runs the crash-exit phases (servers, exporters, pending records) within `timeoutMs`;
 * resolves when they end or the deadline passes. Used by process capture.
 */
export async function shutdownForCrash(timeoutMs: number): Promise<void> {
  await shutdown({ timeoutMs, delayMs: 0 });
}

/** Marks the signal handlers of {@link handleShutdown}, in this copy of probekit and any other. */
const SIGNAL_HANDLER = Symbol.for('probekit.lifecycle.signalHandler');

/** True when something other than probekit's own handlers listens to `signal`. */
function hasOtherListeners(signal: NodeJS.Signals): boolean {
  return process.listeners(signal).some((listener) => !(SIGNAL_HANDLER in listener));
}

const HANDLE_OPTIONS = {
  ...SHUTDOWN_OPTIONS,
  signals: option((where, v): readonly NodeJS.Signals[] => {
    if (!Array.isArray(v) || v.length === 0) throw typeError(where, 'a non-empty array of signal names', v);
    for (const s of v) if (typeof s !== 'string' || !/^SIG[A-Z0-9]+$/.test(s)) throw typeError(`${where.replace(/"$/, '')}[]"`, 'a signal name such as "SIGTERM"', s);
    return v as readonly NodeJS.Signals[];
  }, ['SIGTERM', 'SIGINT'] as readonly NodeJS.Signals[]),
};

/**
 * Opt-in: on SIGTERM or SIGINT, runs {@link shutdown} and then ends the process exactly
 * as the signal would have: when probekit is the only listener, by the signal itself (the
 * exit status a supervisor expects); when the application listens too, its own handlers
 * decide and probekit does not exit. A second signal during the shutdown ends the
 * process at once. Returns the function that removes the handlers.
 *
 * @example
 * import { handleShutdown, statsd } from 'probekit';
 * statsd({ host: 'statsd.local' });
 * handleShutdown({ timeoutMs: 3000 });
 */
export function handleShutdown(options: HandleShutdownOptions = {}): () => void {
  const opts = parseOptions('handleShutdown()', HANDLE_OPTIONS, options);
  const handlers = new Map<NodeJS.Signals, () => void>();
  const remove = (): void => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    handlers.clear();
  };
  for (const signal of opts.signals) {
    let started = false;
    const handler = (): void => {
      // Decided when the signal arrives: a process.once() handler is gone by the time the
      // shutdown ends, and it still decides. Handlers of probekit (another call, another
      // copy) do not count: the signal's default is what they stand in for.
      const alone = !hasOtherListeners(signal);
      if (started) {
        // A second signal: stop waiting.
        if (alone) {
          remove();
          process.kill(process.pid, signal);
        }
        return;
      }
      started = true;
      void shutdown({ timeoutMs: opts.timeoutMs, delayMs: opts.delayMs }).then(() => {
        // The application's own handlers decide when it listens; otherwise the signal's default.
        if (!alone || !handlers.has(signal)) return;
        remove();
        process.kill(process.pid, signal);
      });
    };
    Object.defineProperty(handler, SIGNAL_HANDLER, { value: true });
    try {
      // First in line, so it sees the application's process.once() handlers before they go.
      process.prependListener(signal, handler);
    } catch (err) {
      remove();
      throw typeError('handleShutdown() option "signals"', `signals this platform can listen to (${describe(signal)} failed: ${String(err)})`, opts.signals);
    }
    handlers.set(signal, handler);
  }
  return remove;
}
