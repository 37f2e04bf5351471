/**
 * Event-loop delay and utilisation per window. `perf_hooks.monitorEventLoopDelay` samples
 * the delay on its own timer; at each window end its min, max, mean, standard deviation and
 * percentiles are copied into plain gauges and it is reset. Reading the gauges measures
 * nothing and reports the last completed window, so a scrape never measures itself (what
 * prom-client's event-loop lag did, #561: it timed a setImmediate queued by the scrape).
 *
 * A reset also forgets the interval under way (Node records a sample as the time since the
 * previous one, and a reset forgets the previous one), so a block just after a window end
 * would go unseen. One one-shot timer per window, due one sampling interval after the
 * reset, times that interval instead, and its lateness counts towards the next window's max.
 */
import type { IntervalHistogram } from 'node:perf_hooks';
import { nodePerfHooks } from '../util/lazy.js';
import type { Metric } from '../probes/types.js';
import type { Group, GroupContext } from './common.js';

/** The figures of one window's delay histogram, in the order they are reported. */
const FIGURES = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const;
type Figure = (typeof FIGURES)[number];

const HELP: Readonly<Record<Figure, string>> = {
  min: 'Smallest event-loop delay sampled in the last completed window',
  max: 'Largest event-loop delay sampled in the last completed window',
  mean: 'Mean event-loop delay in the last completed window',
  stddev: 'Standard deviation of the event-loop delay in the last completed window',
  p50: 'Median event-loop delay in the last completed window',
  p90: '90th percentile of the event-loop delay in the last completed window',
  p99: '99th percentile of the event-loop delay in the last completed window',
};

function figure(h: IntervalHistogram, f: Figure): number {
  switch (f) {
    case 'min':
    case 'max':
    case 'mean':
    case 'stddev':
      return h[f];
    case 'p50':
      return h.percentile(50);
    case 'p90':
      return h.percentile(90);
    case 'p99':
      return h.percentile(99);
  }
}

/** Registers the event-loop metrics and starts sampling the delay every `resolutionMs`. */
export function eventLoopGroup(ctx: GroupContext, resolutionMs: number): Group {
  const { registry: p, naming, prefix } = ctx;
  const otel = naming === 'otel';
  const base = otel ? 'nodejs_eventloop_delay' : 'nodejs_eventloop_lag';
  const gauges = FIGURES.map((f) => p.metric({ name: `${prefix}${base}_${f}_seconds`, help: `${HELP[f]} (sampled every ${resolutionMs} ms; a sample includes that interval)` }));
  // prom-client's single lag figure: the window's mean, the expected value of its one sample.
  const lag: Metric | undefined = otel ? undefined : p.metric({ name: `${prefix}nodejs_eventloop_lag_seconds`, help: 'Mean event-loop delay in the last completed window' });
  const utilization = p.metric({ name: `${prefix}nodejs_eventloop_utilization_ratio`, help: 'Share of the last completed window the event loop was busy (performance.eventLoopUtilization())' });

  const perf = nodePerfHooks();
  const histogram = perf.monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  let elu = perf.performance.eventLoopUtilization();
  let stopped = false;
  /** The interval a reset made the histogram forget, in ns, once its one-shot timer ran. */
  let boundary = 0;
  let boundaryTimer: NodeJS.Timeout | undefined;
  const timeBoundary = (): void => {
    const t0 = performance.now();
    boundaryTimer = setTimeout(() => {
      boundaryTimer = undefined;
      boundary = (performance.now() - t0) * 1e6;
    }, resolutionMs);
    boundaryTimer.unref();
  };

  return {
    endWindow() {
      if (stopped) return;
      try {
        // An empty window (two ends in one turn of the loop) keeps the previous figures.
        if (histogram.count > 0) {
          FIGURES.forEach((f, i) => (gauges[i] as Metric).set((f === 'max' ? Math.max(histogram.max, boundary) : figure(histogram, f)) / 1e9));
          lag?.set(histogram.mean / 1e9);
        }
        histogram.reset();
        boundary = 0;
        if (boundaryTimer === undefined) timeBoundary();
        const now = perf.performance.eventLoopUtilization();
        const window = perf.performance.eventLoopUtilization(now, elu);
        elu = now;
        if (Number.isFinite(window.utilization)) utilization.set(window.utilization);
      } catch {
        // a failing read skips this window
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      histogram.disable();
      if (boundaryTimer !== undefined) clearTimeout(boundaryTimer);
      boundaryTimer = undefined;
    },
  };
}
