/**
 * probekit: in-app instrumentation for Node.js. This file is the public surface and
 * nothing else.
 */
export { createProbe, probe, Probe } from './probes/probe.js';
export { Counter } from './probes/counter.js';
export { Meter } from './probes/meter.js';
export { Histogram, HistogramTimer } from './probes/histogram.js';
export { Metric } from './probes/metric.js';
export { OVERFLOW_LABEL_VALUE } from './probes/family.js';

export { createErrorStore, errors, ErrorStore, notify, onError } from './errors/store.js';
export { captureProcessErrors } from './errors/process.js';
export { ErrorDomain, errorDomain } from './errors/domain.js';
export { context } from './errors/context.js';
export { forwardErrors, watchChild } from './errors/child.js';

export { prometheus } from './exporters/prometheus/index.js';
export { statsd } from './exporters/statsd.js';
export { OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE } from './exporters/prometheus/format.js';
import './exporters/cluster-worker.js';

export type {
  BaseOptions,
  CounterOptions,
  HistogramOptions,
  MeterOptions,
  MetricOptions,
  ProbeOptions,
} from './probes/probe.js';
export type { Clock } from './probes/time.js';
export type { Kind, LabelValues } from './probes/family.js';
export type { HistogramValue } from './probes/histogram.js';
export type { MetricInput, MetricValue } from './probes/metric.js';
export type { ErrorCause, ErrorRecord } from './errors/record.js';
export type { ErrorGroup, ErrorListener, ErrorsSnapshot, ErrorStoreOptions } from './errors/store.js';
export type { CaptureOptions, ProcessCapture, RejectionMode } from './errors/process.js';
export type { DomainError, DomainMember } from './errors/domain.js';
export type { ContextStore, RequestContext } from './errors/context.js';
export type { ChildWatch, ErrorForwarding, WatchChildOptions } from './errors/child.js';
export type { TextOptions } from './exporters/prometheus/index.js';
export type { StatsdExporter, StatsdOptions, TagFormat } from './exporters/statsd.js';
export type { ExpositionOptions, Source } from './exporters/prometheus/exposition.js';
export type { MetricsHandler, MetricsServer, ServeOptions } from './exporters/prometheus/http.js';
export type { ClusterOptions, GaugeMerge } from './exporters/prometheus/cluster.js';
export type { DefaultMetricsOptions, PromRegistry } from './exporters/prometheus/promclient.js';
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
} from './probes/snapshot.js';
