/**
 * `probekit/pmx`: pmx 1.6's API, and @pm2/io's names beside it, on probekit. Probes land
 * in probekit's default registry (so `/metrics`, StatsD and push carry them), errors in
 * its store, actions in its action registry; under PM2 the facade speaks PM2's IPC
 * protocol as pmx did, so `pm2 jlist`, `pm2 show` and `pm2 trigger` keep working.
 *
 * @example
 * const pmx = require('probekit/pmx').init({ http: true, errors: true });
 * const probe = pmx.probe();
 * const calls = probe.meter({ name: 'Calls per minute', samples: 60, timeframe: 3600 });
 * calls.mark();
 */
export {
  action,
  catchAll,
  counter,
  destroy,
  emit,
  expressErrorHandler,
  histogram,
  init,
  meter,
  metric,
  notify,
  notifyError,
  probe,
  scopedAction,
} from './compat/pmx/api.js';
export type { Pmx, PmxActionFunction, PmxActionOptions, PmxErrorHandler, PmxReply } from './compat/pmx/api.js';
export type { PmxActionStream, PmxProbe } from './compat/pmx/facade.js';
export type { PmxInitOptions } from './compat/pmx/init.js';
export type {
  AggType,
  Measurement,
  PmxCounterOptions,
  PmxHistogram,
  PmxHistogramOptions,
  PmxMeterOptions,
  PmxMetric,
  PmxMetricOptions,
} from './compat/pmx/probes.js';
export type { Counter, Meter } from './probes/types.js';
export type { ErrorRecord } from './errors/record.js';
