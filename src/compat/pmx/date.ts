/**
 * The pmx facade's one rule about strings: a metric set to a full ISO 8601 date-time
 * (what `new Date().toISOString()` gives, the chapter's `Last call`) is a point in time,
 * so Prometheus gets it as a timestamp (Unix seconds, as probekit exports a Date) rather
 * than a new `_info` label value per call. PM2 still receives the string.
 */

/** Date, `T`, time with seconds, optional fraction, and a zone (`Z` or `±hh:mm`): RFC 3339's date-time. */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * The instant a full ISO 8601 date-time string names, or `undefined` for any other
 * value: a date alone, a time without seconds or zone, or fields out of range (month 13,
 * 30 February, hour 24). Never throws.
 */
export function isoDateTime(value: unknown): Date | undefined {
  if (typeof value !== 'string' || value.length > 40) return undefined;
  const m = ISO_DATE_TIME.exec(value);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  // The day must exist in that month (Date.UTC would roll 30 February over into March).
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time);
}
