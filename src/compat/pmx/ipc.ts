/**
 * The channel to PM2: the IPC messages pmx 1.6 and @pm2/io exchange with the PM2 daemon
 * (`{ type, data }` objects over `process.send`), with the guarantees probekit owes the
 * host process:
 * - it exists only under PM2 (`process.send` and PM2's `pm_id` in the environment);
 * - a send never throws and never emits `'error'` on `process` (every send has a
 *   callback); a closed channel, EPIPE or ERR_IPC_CHANNEL_CLOSED is counted in
 *   `probekit_exporter_errors_total{exporter="pm2"}`;
 * - at most {@link MAX_IN_FLIGHT} messages wait in Node's IPC queue: beyond that a message
 *   is dropped and counted in `probekit_exporter_dropped_total{exporter="pm2"}`, so a
 *   daemon that stops reading cannot grow the process's memory;
 * - listening for PM2's messages keeps the channel's reference count as the application
 *   left it, so the process ends when its own work does, as it would without probekit.
 */
import type { Counter } from '../../probes/counter.js';
import type { Registry } from '../../probes/probe.js';

/** Most messages handed to Node's IPC queue and not yet written. */
export const MAX_IN_FLIGHT = 64;

/** What the facade needs from a channel to PM2 (a real process, or a test's fake). */
export interface Pm2Link {
  /** Sends `{ type, data }`. Never throws; false when the message was dropped. */
  send(type: string, data: unknown): boolean;
  /** Calls `listener` with every message PM2 sends; returns the function that stops it. */
  onMessage(listener: (message: unknown) => void): () => void;
  /** Resolves once every message handed over so far was written (or failed). */
  drain(): Promise<void>;
  /** Stops listening. Sends still work until the channel closes. */
  close(): void;
}

/** The slice of `process` the link uses, so a test can hand it another. */
export interface IpcProcess {
  send?: ((message: unknown, handle: undefined, options: object, callback: (error: Error | null) => void) => boolean) | undefined;
  readonly connected?: boolean;
  readonly channel?: { refCounted?(): void; unrefCounted?(): void; unref?(): void } | null | undefined;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  listenerCount(event: 'message'): number;
}

/** True when this process was started by PM2 and can talk to it. */
export function underPm2(proc: { send?: unknown } = process, env: NodeJS.ProcessEnv = process.env): boolean {
  return typeof proc.send === 'function' && env.pm_id !== undefined;
}

/**
 * The link over this process's IPC channel; `registry` counts its failures and drops.
 * Only call it when {@link underPm2} holds.
 */
export function processLink(registry: Registry, proc: IpcProcess = process as unknown as IpcProcess): Pm2Link {
  const errors: Counter<'exporter'> = registry
    .selfCounter('probekit_exporter_errors', 'Exporter failures (scrape, send, serialisation), by exporter', ['exporter'])
    .labels({ exporter: 'pm2' });
  const dropped: Counter<'exporter'> = registry
    .selfCounter('probekit_exporter_dropped', 'Lines or values an exporter dropped to stay within its memory bounds, by exporter', ['exporter'])
    .labels({ exporter: 'pm2' });
  let inFlight = 0;
  let waiting: Array<() => void> = [];
  const settle = (): void => {
    if (--inFlight > 0) return;
    const done = waiting;
    waiting = [];
    for (const resolve of done) resolve();
  };
  const listeners = new Set<(message: unknown) => void>();
  const dispatch = (message: unknown): void => {
    for (const listener of listeners) {
      try {
        listener(message);
      } catch {
        // a listener's failure must not reach Node's IPC machinery
      }
    }
  };
  let listening = false;

  return {
    send(type, data) {
      const send = proc.send;
      if (typeof send !== 'function' || proc.connected === false) {
        errors.inc();
        return false;
      }
      if (inFlight >= MAX_IN_FLIGHT) {
        dropped.inc();
        return false;
      }
      inFlight++;
      try {
        // With a callback, Node reports a closed channel or EPIPE there, never as an
        // 'error' event on process (which would crash an application without a listener).
        send.call(proc, { type, data }, undefined, {}, (error) => {
          if (error !== null && error !== undefined) errors.inc();
          settle();
        });
        return true;
      } catch {
        errors.inc();
        settle();
        return false;
      }
    },
    onMessage(listener) {
      listeners.add(listener);
      if (!listening) {
        listening = true;
        const before = proc.listenerCount('message');
        proc.on('message', dispatch);
        // Adding a 'message' listener refs the channel; take that reference back, so the
        // channel stays referenced exactly while the application's own listeners want it.
        const channel = proc.channel;
        if (typeof channel?.unrefCounted === 'function') channel.unrefCounted();
        else if (before === 0) channel?.unref?.();
      }
      return () => {
        listeners.delete(listener);
      };
    },
    drain() {
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    close() {
      listeners.clear();
      if (!listening) return;
      listening = false;
      // Removing the listener takes one reference away: give back the one taken above first.
      const channel = proc.channel;
      if (typeof channel?.refCounted === 'function') channel.refCounted();
      proc.off('message', dispatch);
    },
  };
}
