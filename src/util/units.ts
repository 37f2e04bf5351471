/**
 * Units probekit understands. A histogram with a time unit records in that unit and is
 * exported in seconds (Prometheus' base unit) and as milliseconds to StatsD timers.
 */

/** Milliseconds per unit for the time units a histogram understands. */
const TIME_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  nanoseconds: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  microseconds: 1e-3,
  ms: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  seconds: 1000,
  min: 60_000,
  minutes: 60_000,
};

/** Milliseconds per `unit` if it is a time unit, else `undefined`. */
export function msPerUnit(unit: string | undefined): number | undefined {
  return unit === undefined || !Object.hasOwn(TIME_UNITS, unit) ? undefined : TIME_UNITS[unit];
}
