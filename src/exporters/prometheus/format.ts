/**
 * The two exposition formats, Prometheus text 0.0.4 and OpenMetrics 1.0: escaping,
 * numbers, label sets and family headers. Everything here is pure string work.
 */

/** `Content-Type` of the Prometheus text format 0.0.4. */
export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** `Content-Type` of OpenMetrics 1.0. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Which format to write. */
export interface Format {
  readonly openMetrics: boolean;
}

/**
 * Escapes a label value: backslash, double quote and newline (both formats). Neither format
 * has an escape for a carriage return, and a raw one would split the line for many
 * readers: a CR (or CR LF) is written as the escaped newline `\n`.
 */
export function escapeLabelValue(value: string): string {
  // Most values need nothing: test before allocating.
  return /[\\"\n\r]/.test(value)
    ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r\n?|\n/g, '\\n')
    : value;
}

/** Escapes HELP text: backslash and newline (a CR, or CR LF, as a newline) in text 0.0.4; also the double quote in OpenMetrics. */
export function escapeHelp(text: string, openMetrics: boolean): string {
  let out = text.replace(/\\/g, '\\\\').replace(/\r\n?|\n/g, '\\n');
  if (openMetrics) out = out.replace(/"/g, '\\"');
  return out;
}

/** A sample value as both formats spell it: `+Inf`, `-Inf`, `NaN`, else the shortest round-trip decimal. */
export function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}

/**
 * A number in the canonical form OpenMetrics requires for `le` and `quantile` label
 * values (as the Go and Python clients write them): always a decimal point or an
 * exponent, `1.0`, `0.25`, `1e-05`, and an exponent from a million up, `1e+06`, `2.5e+07`.
 */
export function canonicalNumber(value: number): string {
  if (!Number.isFinite(value)) return formatValue(value);
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [digitsWithDot = '0', expText = '0'] = value.toExponential().split('e');
  const negative = digitsWithDot.startsWith('-');
  const digits = digitsWithDot.replace('-', '').replace('.', '');
  const exp = Number(expText);
  const sign = negative ? '-' : '';
  const scientific = (): string => {
    const mantissa = digits.length === 1 ? digits : `${digits[0]}.${digits.slice(1)}`;
    const e = Math.abs(exp);
    return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  };
  // Python's repr switches to an exponent below 1e-4 and from 1e16; Go, for positive
  // numbers, from 1e6 (1e21 for negative ones, which never occur as le in practice).
  if (exp < -4 || exp >= 16 || (!negative && exp >= 6)) return scientific();
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const fraction = digits.slice(exp + 1);
  return `${sign}${whole}.${fraction === '' ? '0' : fraction}`;
}

/**
 * `{a="x",b="y"}` for the given names and values, or `''` when there are none. `extra`
 * is appended as is (already escaped), e.g. `le="0.5"`.
 */
export function labelText(names: readonly string[], values: Readonly<Record<string, string>>, extra?: string): string {
  if (names.length === 0) return extra === undefined ? '' : `{${extra}}`;
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (i > 0) out += ',';
    out += `${name}="${escapeLabelValue(values[name] ?? '')}"`;
  }
  if (extra !== undefined) out += `,${extra}`;
  return `${out}}`;
}

/** Inserts `extra` into a label text made by {@link labelText}: `{a="x"}` + `le="1"` → `{a="x",le="1"}`. */
export function withLabel(text: string, extra: string): string {
  return text === '' ? `{${extra}}` : `${text.slice(0, -1)},${extra}}`;
}

/** Prometheus family types as each format names them. */
export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'info' | 'summary' | 'unknown';

/**
 * The `# HELP`/`# TYPE` (and OpenMetrics `# UNIT`) lines of a family. In text 0.0.4 a
 * counter family is named by its `_total` sample and an info family is a gauge.
 */
export function header(name: string, type: FamilyType, help: string, unit: string | undefined, format: Format): string {
  if (format.openMetrics) {
    let out = `# TYPE ${name} ${type}\n`;
    if (unit !== undefined) out += `# UNIT ${name} ${unit}\n`;
    return `${out}# HELP ${name} ${escapeHelp(help, true)}\n`;
  }
  const textName = type === 'counter' ? `${name}_total` : type === 'info' ? `${name}_info` : name;
  const textType = type === 'info' ? 'gauge' : type === 'unknown' ? 'untyped' : type === 'gaugehistogram' ? 'histogram' : type;
  return `# HELP ${textName} ${escapeHelp(help, false)}\n# TYPE ${textName} ${textType}\n`;
}

/**
 * Picks the format from an `Accept` header: OpenMetrics when
 * `application/openmetrics-text` is accepted at least as much as `text/plain`.
 */
export function negotiate(accept: string | undefined): Format {
  if (accept === undefined || !accept.includes('application/openmetrics-text')) return { openMetrics: false };
  let om = -1;
  let text = -1;
  let any = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((x) => x.trim());
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=').map((x) => x.trim());
      if (key === 'q' && value !== undefined) q = Number(value);
    }
    if (!(q > 0)) continue;
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain') text = Math.max(text, q);
    else if (type === '*/*') any = Math.max(any, q);
  }
  return { openMetrics: om > 0 && om >= Math.max(text, any) };
}
