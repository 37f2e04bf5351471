/**
 * prom-client registries in the same exposition: an application's own `Registry`, read as
 * JSON and written by the same formatter, so both formats come out right whatever content
 * type the registry was made with. (prom-client's default metrics are no longer loaded:
 * the `defaultMetrics` option is served by probekit's runtime metrics, see exposition.ts.)
 */
import type client from 'prom-client';
import { escapeLabelValue, type FamilyType, formatValue, header } from './format.js';
import { claim, type WriteOptions } from './live.js';

/** A prom-client registry (`new client.Registry()` or `client.register`). */
export type PromRegistry = client.Registry;

/** True for a prom-client registry (duck-typed: several copies of prom-client may be loaded). */
export function isPromRegistry(value: unknown): value is PromRegistry {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as PromRegistry).getMetricsAsJSON === 'function' &&
    typeof (value as PromRegistry).getMetricsAsArray === 'function'
  );
}

/** Every sample name a prom-client registry will write, as {@link writePromRegistry} names them. */
export function promSampleNames(registry: PromRegistry): string[] {
  const out: string[] = [];
  for (const m of registry.getMetricsAsArray()) {
    const { name, type } = m as unknown as { name: string; type: string };
    if (type === 'counter') out.push(`${name.replace(/_total$/, '')}_total`);
    else if (type === 'histogram') out.push(`${name}_bucket`, `${name}_count`, `${name}_sum`);
    else if (type === 'summary') out.push(name, `${name}_count`, `${name}_sum`);
    else out.push(name);
  }
  return out;
}

function labels(values: Readonly<Record<string, string | number>>, skip?: string, extra?: string): string {
  let out = '';
  for (const key of Object.keys(values)) {
    if (key === skip) continue;
    out += `${out === '' ? '' : ','}${key}="${escapeLabelValue(String(values[key]))}"`;
  }
  if (extra !== undefined) out += `${out === '' ? '' : ','}${extra}`;
  return out === '' ? '' : `{${out}}`;
}

/** Writes the families of a prom-client registry to `options.sink`. */
export async function writePromRegistry(registry: PromRegistry, options: WriteOptions): Promise<void> {
  const metrics = await registry.getMetricsAsJSON();
  for (const metric of metrics) {
    const type = metric.type as unknown as string;
    const counter = type === 'counter';
    const base = counter ? metric.name.replace(/_total$/, '') : metric.name;
    const claimName = counter ? `${base}_total` : base;
    if (!claim(claimName, options)) continue;
    const familyType: FamilyType = counter || type === 'gauge' || type === 'histogram' || type === 'summary' ? (type as FamilyType) : 'unknown';
    let out = header(base, familyType, metric.help || base, undefined, options.format);
    for (const v of metric.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>) {
      if (type === 'histogram' && v.metricName?.endsWith('_bucket')) {
        const le = v.labels.le;
        const leText = typeof le === 'number' ? formatValue(le) : le === '+Inf' ? '+Inf' : String(le);
        out += `${v.metricName}${labels(v.labels, 'le', `le="${leText}"`)} ${formatValue(v.value)}\n`;
      } else {
        const name = counter ? `${base}_total` : (v.metricName ?? base);
        out += `${name}${labels(v.labels)} ${formatValue(v.value)}\n`;
      }
    }
    options.sink.text(out);
  }
}
