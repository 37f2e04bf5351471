/**
 * CPU profiles and heap snapshots on demand. One at a time per process (across every
 * installed copy of this major): a second asks while one runs and is refused. A heap
 * snapshot is refused too when the process lacks the memory to take it: V8 needs about
 * the used heap again to build one, and the loop is blocked while it does.
 *
 * `node:inspector` and `node:v8` are loaded on first use, never by an import.
 */
import type { Readable } from 'node:stream';
import { nodeInspector, nodeOs, nodeV8 } from '../util/lazy.js';
import { shared } from '../util/shared.js';

/** Longest CPU profile, in seconds: longer requests are cut to it. */
export const MAX_PROFILE_SECONDS = 60;

/** What runs now, if anything: `cpu-profile` or `heap-snapshot`. */
const state = shared('profiling', () => ({ running: undefined as string | undefined }));

/**
 * Takes the profiling slot for `kind`; returns the function that frees it, or the kind
 * already running when the slot is taken.
 */
export function claim(kind: string): { readonly release: () => void } | { readonly busy: string } {
  if (state.running !== undefined) return { busy: state.running };
  state.running = kind;
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      state.running = undefined;
    },
  };
}

/** The memory a heap snapshot is weighed against, in bytes. */
export interface MemoryReading {
  /** V8's used heap. */
  readonly usedHeap: number;
  /** Free memory of the machine (`os.freemem()`). */
  readonly free: number;
  /** The process's memory limit (`process.constrainedMemory()`, a cgroup's); 0 or undefined without one. */
  readonly constrained: number | undefined;
  /** The process's resident set size. */
  readonly rss: number;
}

/** The memory as the process sees it now. */
export function readMemory(): MemoryReading {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return { usedHeap: nodeV8().getHeapStatistics().used_heap_size, free: nodeOs().freemem(), constrained, rss: process.memoryUsage.rss() };
}

/**
 * Whether a heap snapshot fits: twice the used heap must not exceed the memory left, the
 * machine's free memory or, under a limit, what the limit leaves above the resident set.
 */
export function snapshotRoom(m: MemoryReading): { readonly fits: boolean; readonly needed: number; readonly available: number } {
  const needed = 2 * m.usedHeap;
  const limited = m.constrained !== undefined && m.constrained > 0 ? Math.max(0, m.constrained - m.rss) : Infinity;
  const available = Math.min(m.free, limited);
  return { fits: needed <= available, needed, available };
}

/** A heap snapshot as a stream of `.heapsnapshot` JSON (taken synchronously when called: the loop is blocked meanwhile). */
export function heapSnapshot(): Readable {
  return nodeV8().getHeapSnapshot();
}

/**
 * Profiles the CPU for `seconds` (cut to {@link MAX_PROFILE_SECONDS}) through an
 * in-process inspector session and resolves with the `.cpuprofile` JSON text Chrome
 * DevTools loads. The wait is an `unref()`ed timer. Rejects when the inspector is not
 * available (a Node built without it).
 */
export async function cpuProfile(seconds: number): Promise<string> {
  const ms = Math.round(Math.min(Math.max(seconds, 0), MAX_PROFILE_SECONDS) * 1000);
  const session = new (nodeInspector().Session)();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (err, result) => (err === null ? resolve(result) : reject(err))));
  try {
    await post('Profiler.enable');
    await post('Profiler.start');
    await new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    return JSON.stringify(profile);
  } finally {
    session.disconnect();
  }
}
