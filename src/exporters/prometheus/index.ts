/**
 * The Prometheus exporter: `prometheus.text()`, `.handler()`, `.serve()`,
 * `.clusterHandler()`, and per-worker targets: `.serveWorker()` and `.serveDiscovery()`.
 */
import { is, option } from '../../util/validate.js';
import { Exposition, type ExpositionOptions } from './exposition.js';
import { handler, serve } from './http.js';
import { clusterHandler } from './cluster.js';
import { serveDiscovery, serveWorker } from './fleet.js';

/** Options of `prometheus.text()`. */
export interface TextOptions extends ExpositionOptions {
  /** Write OpenMetrics 1.0 instead of the Prometheus text format 0.0.4. @default false */
  readonly openMetrics?: boolean;
}

/**
 * The exposition as a string.
 *
 * @example
 * const body = await prometheus.text({ openMetrics: true });
 */
async function text(options: TextOptions = {}): Promise<string> {
  const exposition = new Exposition('prometheus.text()', options, { openMetrics: option(is.boolean, false) });
  try {
    return await exposition.text({ openMetrics: options.openMetrics === true });
  } catch (err) {
    exposition.fail(err); // reported like every exporter failure, and the caller's promise rejects
    throw err;
  }
}

/** The Prometheus exporter. */
export const prometheus = { text, handler, serve, clusterHandler, serveWorker, serveDiscovery };
