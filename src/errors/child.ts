/**
 * Errors across processes: `forwardErrors()` in a forked child sends its notified and
 * uncaught errors to the parent over IPC; `watchChild()` in the parent takes them, and
 * turns a non-zero exit or a signal into a record with the last lines of the child's
 * stderr. A `spawn`ed child without IPC still gets the exit records.
 */
import type { ChildProcess } from 'node:child_process';
import { is, option, parseOptions, typeError } from '../util/validate.js';
import { addPending } from '../lifecycle/shutdown.js';
import { captureActive, captureProcessErrors } from './process.js';
import { type ErrorCause, type ErrorRecord, toRecord } from './record.js';
import { errors, type ErrorStore, storeOption } from './store.js';

/** The IPC message tag; anything else on the channel is the application's. */
const TAG = 'probekit:error-record';

const WATCH_OPTIONS = {
  store: storeOption,
  stderrLines: option(is.integer(0), 20),
  stderrBytes: option(is.integer(0), 8192),
  passStderr: option(is.boolean, true),
};

/** Options of {@link watchChild}. */
export interface WatchChildOptions {
  /** Store that receives the child's records. @default the process-wide `errors` */
  readonly store?: ErrorStore;
  /** How many trailing stderr lines an exit record carries. @default 20 */
  readonly stderrLines?: number;
  /** Most stderr bytes kept (the tail). @default 8192 */
  readonly stderrBytes?: number;
  /**
   * Copy a piped stderr of the child to this process's stderr as it arrives, so a crash
   * stack still reaches the terminal (piping it is what lets the exit record carry its
   * tail). With stderr not piped there is nothing to copy. @default true
   */
  readonly passStderr?: boolean;
}

/** What {@link watchChild} returns. */
export interface ChildWatch {
  /** Stops watching (removes the listeners). */
  close(): void;
}

function str(value: unknown, fallback: string, max: number): string {
  return typeof value === 'string' ? value.slice(0, max) : fallback;
}

function causes(value: unknown): ErrorCause[] {
  if (!Array.isArray(value)) return [];
  return value.slice(0, 16).map((c: unknown) => {
    const o = (c ?? {}) as Record<string, unknown>;
    return { name: str(o.name, 'Error', 128), message: str(o.message, '', 2048), stack: typeof o.stack === 'string' ? o.stack.slice(0, 8192) : null };
  });
}

/** Rebuilds a record from an IPC message field by field: the channel is not trusted. */
function fromMessage(raw: unknown, pid: number): ErrorRecord | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.fingerprint !== 'string') return undefined;
  const context = r.context !== null && typeof r.context === 'object' && !Array.isArray(r.context) ? (r.context as Record<string, unknown>) : {};
  return {
    name: str(r.name, 'Error', 128),
    message: str(r.message, '', 2048),
    stack: typeof r.stack === 'string' ? r.stack.slice(0, 8192) : null,
    causes: causes(r.causes),
    errors: causes(r.errors),
    code: typeof r.code === 'string' || typeof r.code === 'number' ? r.code : null,
    time: typeof r.time === 'number' ? r.time : Date.now(),
    fingerprint: r.fingerprint.slice(0, 64),
    context,
    pid,
    source: str(r.source, 'notify', 64),
  };
}

/**
 * Watches a child process from the parent: records the child forwards (see
 * {@link forwardErrors}) arrive tagged with its pid, and a non-zero exit code or a
 * signal becomes a `ChildProcessExit` record whose context holds the code, the signal
 * and the last lines of stderr (when stderr is piped; it is also copied to this process's
 * stderr unless `passStderr: false`). The application's own `child.on('message')`
 * handlers never receive probekit's records.
 *
 * @example
 * import { fork } from 'node:child_process';
 * import { watchChild } from 'probekit';
 * const worker = fork('./worker.js', { stdio: ['inherit', 'inherit', 'pipe', 'ipc'] });
 * watchChild(worker);
 */
export function watchChild(child: ChildProcess, options: WatchChildOptions = {}): ChildWatch {
  if (child === null || typeof child !== 'object' || typeof child.on !== 'function') {
    throw typeError('watchChild() argument "child"', 'a ChildProcess from fork() or spawn()', child);
  }
  const opts = parseOptions('watchChild()', WATCH_OPTIONS, options);
  const { passStderr } = opts;
  const store = opts.store ?? errors;
  const maxLines = opts.stderrLines;
  const maxBytes = opts.stderrBytes;
  // The tail of stderr as bytes, decoded once at exit: a character split across two
  // chunks survives, and the bound is in bytes however much the child writes.
  let chunks: Buffer[] = [];
  let held = 0;

  const onData = (chunk: Buffer | string): void => {
    if (passStderr) {
      try {
        process.stderr.write(chunk);
      } catch {
        // this process's stderr is closed: keep the tail all the same
      }
    }
    if (maxBytes === 0) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(buf);
    held += buf.length;
    if (held > maxBytes * 2) {
      const tail = Buffer.concat(chunks).subarray(-maxBytes);
      chunks = [Buffer.from(tail)];
      held = tail.length;
    }
  };
  // probekit's records travel on the child's IPC channel; they are taken here, before
  // 'message' is emitted, so the application's own message handlers never see them.
  const originalEmit = child.emit;
  const emit = function (this: ChildProcess, event: string | symbol, ...args: unknown[]): boolean {
    const message = args[0];
    if (event === 'message' && message !== null && typeof message === 'object' && (message as { type?: unknown }).type === TAG) {
      const record = fromMessage((message as { record?: unknown }).record, child.pid ?? -1);
      if (record !== undefined) store.take(record);
      return true;
    }
    return (originalEmit as (this: ChildProcess, event: string | symbol, ...rest: unknown[]) => boolean).call(this, event, ...args);
  };
  child.emit = emit as ChildProcess['emit'];
  // Node emits 'message' only while some listener exists: this one keeps records flowing
  // to `emit` above when the application has none.
  const keepDelivering = (): void => {};
  const onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
    if (code === 0 && signal === null) return;
    const bytes = maxBytes === 0 ? Buffer.alloc(0) : Buffer.concat(chunks).subarray(-maxBytes);
    // A cut through a multi-byte character at the start decodes as U+FFFD: drop it.
    const text = bytes.toString('utf8').replace(/^\uFFFD+/, '');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const stderr = maxLines === 0 ? [] : lines.slice(-maxLines);
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    const err = new Error(`child process ${child.pid ?? '?'} ${how}`);
    err.name = 'ChildProcessExit';
    err.stack = `${err.name}: ${err.message}`; // the parent's stack says nothing about the child
    const record = toRecord(err, {
      source: 'child-exit',
      pid: child.pid ?? -1,
      context: { pid: child.pid ?? null, code, signal, stderr: stderr.join('\n') },
    });
    store.take(record);
  };

  child.stderr?.on('data', onData);
  child.on('message', keepDelivering);
  child.on('close', onClose);
  return {
    close() {
      child.stderr?.off('data', onData);
      child.off('close', onClose);
      child.off('message', keepDelivering);
      if (child.emit === (emit as ChildProcess['emit'])) child.emit = originalEmit;
    },
  };
}

/** What {@link forwardErrors} returns. */
export interface ErrorForwarding {
  /** Stops forwarding. */
  close(): void;
}

/**
 * In a forked child: sends every record of the process-wide store (notified errors and,
 * through process capture, which it turns on if it is off, uncaught ones) to the parent
 * over IPC. A crash waits for the sends within the capture's flush deadline. Without an
 * IPC channel it does nothing.
 */
export function forwardErrors(options: { store?: ErrorStore } = {}): ErrorForwarding {
  const opts = parseOptions('forwardErrors()', { store: storeOption }, options);
  const send = process.send?.bind(process);
  if (send === undefined) return { close() {} };
  const store = opts.store ?? errors;
  const pending = new Set<Promise<void>>();
  const unsubscribe = store.onError((record) => {
    if (!process.connected) return;
    const sent = new Promise<void>((resolve) => {
      try {
        send({ type: TAG, record }, undefined, {}, () => resolve());
      } catch {
        resolve();
      }
    });
    pending.add(sent);
    void sent.then(() => pending.delete(sent));
  });
  const removeHook = addPending(() => Promise.all(pending));
  const capture = captureActive() ? undefined : captureProcessErrors({ store });
  return {
    close() {
      unsubscribe();
      removeHook();
      capture?.close();
    },
  };
}
