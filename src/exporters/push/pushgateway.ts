/**
 * The Prometheus Pushgateway's URL rules: `/metrics/job/<job>{/<label>/<value>}`. A value
 * holding `/` goes in the URL-safe base64 form (`<label>@base64/<value>`), an empty value
 * as `<label>@base64/=`: the gateway's own rules (URI-encoding a `/`, as prom-client does,
 * is what the gateway rejects).
 */
import { isLabelName } from '../../probes/names.js';
import { typeError } from '../../util/validate.js';

/** One path segment pair `name/value` in the gateway's encoding. */
function segment(name: string, value: string): string {
  if (value === '') return `${name}@base64/=`;
  if (value.includes('/')) return `${name}@base64/${Buffer.from(value, 'utf8').toString('base64url')}`;
  return `${name}/${encodeURIComponent(value)}`;
}

/** The grouping key's path below the gateway's base URL: `/metrics/job/<job>/<label>/<value>…`. */
export function groupPath(job: string, grouping: Readonly<Record<string, string>>): string {
  let path = `/metrics/${segment('job', job)}`;
  for (const [name, value] of Object.entries(grouping)) path += `/${segment(name, value)}`;
  return path;
}

/** Checks a grouping: label names as Prometheus allows them (not `job`), string values. */
export function checkGrouping(where: string, value: unknown): Readonly<Record<string, string>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError(where, 'an object of label names to string values', value);
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!isLabelName(name) || name === 'job') throw typeError(`${where.replace(/"$/, '')}.${name}"`, 'a label name matching [a-zA-Z_][a-zA-Z0-9_]*, not "job" and not starting with "__"', name);
    if (typeof v !== 'string') throw typeError(`${where.replace(/"$/, '')}.${name}"`, 'a string', v);
    out[name] = v;
  }
  return Object.freeze(out);
}
