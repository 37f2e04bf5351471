/**
 * The Prometheus exporter: `prometheus.text()`, `.handler()`, `.serve()` and
 * `.clusterHandler()`.
 */
import { checkObject, typeError } from '../../util/validate.js';
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
  const { openMetrics, ...rest } = checkObject('prometheus.text() options', options) as TextOptions;
  if (openMetrics !== undefined && typeof openMetrics !== 'boolean') throw typeError('prometheus.text() option "openMetrics"', 'a boolean', openMetrics);
  const exposition = new Exposition('prometheus.text()', rest, ['openMetrics']);
  try {
    return await exposition.text({ openMetrics: openMetrics === true });
  } catch (err) {
    exposition.fail(err); // reported like every exporter failure, and the caller's promise rejects
    throw err;
  }
}

/** The Prometheus exporter. */
export const prometheus = { text, handler, serve, clusterHandler };
