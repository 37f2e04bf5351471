/**
 * probekit: in-app instrumentation for Node.js. This file is the public surface and
 * nothing else.
 */
import * as registry from './probes/probe.js';
import type { Probe, ProbeOptions } from './probes/types.js';

/**
 * The process-wide default probe registry.
 *
 * @example
 * import { probe } from 'probekit';
 * const calls = probe.meter({ name: 'Calls per minute', samples: 60 });
 * calls.mark();
 */
export const probe: Probe = registry.probe;

/**
 * Creates an isolated probe registry (tests, libraries); see {@link ProbeOptions}.
 *
 * @example
 * import { createProbe } from 'probekit';
 * const p = createProbe({ prefix: 'billing' });
 * p.counter({ name: 'invoices', monotonic: true }).inc();
 */
export function createProbe(options?: ProbeOptions): Probe {
  return registry.createProbe(options);
}

import { OVERFLOW_LABEL_VALUE as overflowValue } from './probes/family.js';

/** Value every label takes in the series that collects label sets beyond the cardinality cap. */
export const OVERFLOW_LABEL_VALUE = overflowValue;

export { createErrorStore, errors, ErrorStore, notify, onError } from './errors/store.js';
export { captureProcessErrors } from './errors/process.js';
export { ErrorDomain, errorDomain } from './errors/domain.js';
export { context } from './errors/context.js';
export { forwardErrors, watchChild } from './errors/child.js';

export { prometheus } from './exporters/prometheus/index.js';
export { statsd } from './exporters/statsd/index.js';
export { OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE } from './exporters/prometheus/format.js';
export { handleShutdown, isReady, onShutdown, shutdown } from './lifecycle/shutdown.js';
export { httpPush } from './exporters/push/index.js';
export { instrumentAllServers, instrumentServer } from './middleware/http.js';
export { expressErrors, expressMetrics } from './middleware/express.js';
export { senecaPlugin, senecaProbe } from './middleware/seneca.js';
export { runtimeMetrics } from './runtime/index.js';
export { networkMetrics } from './runtime/network.js';
export { portMetrics } from './runtime/ports.js';
export { DEFAULT_PROMETHEUS_PORT, init } from './init/init.js';
export { ENV_VARS, optionsFromEnv } from './init/env.js';
export { ProbekitRangeError, ProbekitTypeError } from './util/validate.js';
export { admin } from './admin/server.js';
export { alert } from './admin/alerts.js';
export { health } from './admin/health.js';
import './exporters/cluster-worker.js';

export type {
  BaseOptions,
  Clock,
  Counter,
  CounterOptions,
  DefaultPercentiles,
  Histogram,
  HistogramOptions,
  HistogramStats,
  HistogramTimer,
  HistogramValue,
  Kind,
  LabelInput,
  LabelledValue,
  LabelsArgument,
  LabelValue,
  LabelValues,
  Meter,
  MeterOptions,
  Metric,
  MetricInput,
  MetricOptions,
  MetricSource,
  MetricValue,
  MonotonicCounter,
  PercentileKey,
  PercentileKeys,
  Probe,
  ProbeOptions,
} from './probes/types.js';
export type { ErrorCause, ErrorRecord } from './errors/record.js';
export type { Exporter, HandleShutdownOptions, ShutdownOptions, ShutdownReport } from './lifecycle/shutdown.js';
export type { ErrorCode, ProbekitErrorFields } from './util/validate.js';
export type { AdminActionOptions, AdminOptions, AdminServer } from './admin/server.js';
export type { Alert, AlertField, AlertMessage, AlertOptions } from './admin/alerts.js';
export type { HealthCheck, HealthCheckOptions, HealthCheckResult, HealthReport } from './admin/health.js';
export type { FieldType, InputSchema } from './admin/schema.js';
export type { ErrorGroup, ErrorListener, ErrorsSnapshot, ErrorStoreOptions } from './errors/store.js';
export type { CaptureOptions, ProcessCapture, RejectionMode } from './errors/process.js';
export type { DomainError, DomainMember } from './errors/domain.js';
export type { ContextStore, RequestContext } from './errors/context.js';
export type { ChildWatch, ErrorForwarding, WatchChildOptions } from './errors/child.js';
export type { TextOptions } from './exporters/prometheus/index.js';
export type { StatsdExporter, StatsdOptions, TagFormat } from './exporters/statsd/index.js';
export type { PushExporter, PushFormat, PushOptions, PushOutcome, PushPayload, PushService } from './exporters/push/index.js';
export type { InstrumentAllOptions, InstrumentServerOptions, ServerInstrumentation } from './middleware/http.js';
export type { ExpressMetricsOptions } from './middleware/express.js';
export type { SenecaActionContext, SenecaPlugin, SenecaProbeOptions } from './middleware/seneca.js';
export type { RuntimeMetrics, RuntimeMetricsOptions, RuntimeNaming } from './runtime/index.js';
export type { NetworkMetrics, NetworkMetricsOptions } from './runtime/network.js';
export type { PortMetrics, PortMetricsOptions } from './runtime/ports.js';
export type { InitOptions, Instrumentation } from './init/init.js';
export type { EnvVar } from './init/env.js';
export type { HttpMetricsOptions, HttpNaming, HttpRequestContext } from './middleware/core.js';
export type { ExpositionOptions, Source } from './exporters/prometheus/exposition.js';
export type { MetricsHandler, MetricsServer, ServeOptions } from './exporters/prometheus/http.js';
export type { ClusterOptions, GaugeMerge } from './exporters/prometheus/cluster.js';
export type { DiscoveryOptions, DiscoveryServer, ServeWorkerOptions, SlotSource, TargetGroup, WorkerMetricsServer } from './exporters/prometheus/fleet.js';
export type { PromRegistry } from './exporters/prometheus/promclient.js';
export type { DefaultMetricsOptions } from './exporters/prometheus/exposition.js';
export type {
  CounterSeriesSnapshot,
  CounterSnapshot,
  FamilySnapshot,
  HistogramSeriesSnapshot,
  HistogramSnapshot,
  MeterSeriesSnapshot,
  MeterSnapshot,
  MetricSeriesSnapshot,
  MetricSnapshot,
  Snapshot,
  SnapshotLabels,
} from './probes/types.js';
