/**
 * Human names (pmx style, `'Calls per minute'`) and the stable exported names
 * derived from them (`calls_per_minute`), valid in Prometheus and StatsD.
 */

const EXPORT_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** True when `name` matches Prometheus' metric name grammar `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
export function isExportName(name: string): boolean {
  return EXPORT_NAME.test(name);
}

/** True when `name` is a usable label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not reserved (`__` prefix). */
export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__');
}

/**
 * Derives the exported name from a human name: camelCase is split, everything is
 * lower-cased, each run of characters outside `[a-z0-9_:]` becomes one `_`, leading
 * and trailing `_` are trimmed, and a leading digit gets a `_` in front.
 * `'Calls per minute'` → `calls_per_minute`, `'httpRequests'` → `http_requests`.
 */
export function toExportName(name: string): string {
  const snake = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_:]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (snake === '') return '';
  return /^[0-9]/.test(snake) ? `_${snake}` : snake;
}

/** Joins a registry prefix and an exported name: `app` + `calls` → `app_calls`. */
export function withPrefix(prefix: string, name: string): string {
  if (prefix === '') return name;
  return prefix.endsWith('_') || prefix.endsWith(':') ? prefix + name : `${prefix}_${name}`;
}
