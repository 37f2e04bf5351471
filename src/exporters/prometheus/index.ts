/**
 * The Prometheus exporter: `prometheus.text()`, `.handler()`, `.serve()` and
 * `.clusterHandler()`.
 */
import { Exposition, type ExpositionOptions } from './exposition.js';
import { handler, serve } from './http.js';
import { clusterHandler } from './cluster.js';

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
  const { openMetrics, ...rest } = options ?? {};
  if (openMetrics !== undefined && typeof openMetrics !== 'boolean') {
    throw new TypeError(`probekit: prometheus.text() option "openMetrics" must be a boolean, got ${typeof openMetrics}`);
  }
  return new Exposition('prometheus.text()', rest).text({ openMetrics: openMetrics === true });
}

/** The Prometheus exporter. */
export const prometheus = { text, handler, serve, clusterHandler };
