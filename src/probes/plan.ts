/**
 * The one place the exported shape of a probe is decided: family and sample names, type,
 * unit, scale and HELP text. The registry's clash check, the Prometheus writer, the
 * cluster merge, the snapshot and StatsD all take them from {@link familyPlan}.
 */
import { msPerUnit } from '../util/units.js';
import type { Kind } from './types.js';

/** What a plan is made from: a family's metadata, or the same fields read from a snapshot. */
export interface PlanInput {
  readonly kind: Kind;
  /** The human name (`'Calls per minute'`). */
  readonly name: string;
  /** The exported name (`calls_per_minute`), prefix included. */
  readonly exportName: string;
  readonly help: string | undefined;
  readonly unit: string | undefined;
  /** Counters: only goes up. */
  readonly monotonic?: boolean;
  /** Meters: the rate unit, in seconds. */
  readonly samples?: number;
  /** Meters: the window, in seconds. */
  readonly timeframe?: number;
}

/** A secondary family a probe writes (a meter's event total, a histogram's window summary). */
export interface SubFamily {
  /** Family name (`# TYPE` line in OpenMetrics). */
  readonly family: string;
  /** Name of its value sample, also the name an exposition claims for it. */
  readonly sample: string;
  readonly help: string;
}

/** How a probe appears in every exporter. */
export interface FamilyPlan {
  readonly kind: Kind;
  /** Family name: the exported name, plus `_seconds` for a histogram with a time unit. */
  readonly family: string;
  /** Prometheus type of the main family (a metric's string values are an `info` family beside it). */
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** `# UNIT` of the main family: `seconds` for a time histogram, else none. */
  readonly unit: string | undefined;
  /** Factor from recorded values to exported ones: to seconds for a time histogram, else 1. */
  readonly scale: number;
  /** Factor from recorded values to milliseconds, for StatsD timers (1 when not a time unit). */
  readonly toMs: number;
  /** HELP text of the main family. */
  readonly help: string;
  /** Name of the main value sample: `x_total` for a monotonic counter, else the family name. */
  readonly sample: string;
  /** The info family a metric's string values go to (`x`, samples `x_info`). */
  readonly info: SubFamily | undefined;
  /** A meter's all-time event count (`x_events`, sample `x_events_total`). */
  readonly events: SubFamily | undefined;
  /** A histogram's window percentiles (`x_window` summary). */
  readonly window: SubFamily | undefined;
  /** Names an exposition claims for this probe, one per family written, to catch a family written twice. */
  readonly claims: readonly string[];
  /** Every sample name the probe may write in either format: what two probes may never share. */
  readonly exposed: readonly string[];
}

/** HELP text: the human name, the help, a unit the name does not carry, and a note. */
function helpText(input: PlanInput, unit: string | undefined, note?: string): string {
  const { name, exportName, help } = input;
  let out = help === undefined ? name : name === exportName ? help : `${name}: ${help}`;
  if (unit !== undefined) out += ` (${unit})`;
  if (note !== undefined) out += ` ${note}`;
  return out;
}

/** The exported shape of a probe; see {@link FamilyPlan}. */
export function familyPlan(input: PlanInput): FamilyPlan {
  const base = input.exportName;
  const unit = input.unit;
  switch (input.kind) {
    case 'metric': {
      const help = helpText(input, unit);
      return {
        kind: 'metric',
        family: base,
        type: 'gauge',
        unit: undefined,
        scale: 1,
        toMs: 1,
        help,
        sample: base,
        info: { family: base, sample: `${base}_info`, help },
        events: undefined,
        window: undefined,
        claims: [base, `${base}_info`],
        exposed: [base, `${base}_info`],
      };
    }
    case 'counter': {
      const monotonic = input.monotonic === true;
      const sample = monotonic ? `${base}_total` : base;
      return {
        kind: 'counter',
        family: base,
        type: monotonic ? 'counter' : 'gauge',
        unit: undefined,
        scale: 1,
        toMs: 1,
        help: helpText(input, unit),
        sample,
        info: undefined,
        events: undefined,
        window: undefined,
        claims: [sample],
        exposed: monotonic ? [base, `${base}_total`, `${base}_created`] : [base],
      };
    }
    case 'meter': {
      const samples = input.samples ?? 1;
      const per = samples === 1 ? 'second' : `${samples} s`;
      return {
        kind: 'meter',
        family: base,
        type: 'gauge',
        unit: undefined,
        scale: 1,
        toMs: 1,
        help: helpText(input, unit, `— events per ${per} over the last ${input.timeframe ?? 60} s`),
        sample: base,
        info: undefined,
        events: { family: `${base}_events`, sample: `${base}_events_total`, help: helpText(input, undefined, '— events since start') },
        window: undefined,
        claims: [base, `${base}_events_total`],
        exposed: [base, `${base}_events`, `${base}_events_total`, `${base}_events_created`],
      };
    }
    case 'histogram': {
      const ms = msPerUnit(unit);
      const seconds = ms !== undefined;
      const family = seconds && !base.endsWith('_seconds') ? `${base}_seconds` : base;
      return {
        kind: 'histogram',
        family,
        type: 'histogram',
        unit: seconds ? 'seconds' : undefined,
        scale: seconds ? ms / 1000 : 1,
        toMs: ms ?? 1,
        help: helpText(input, seconds ? undefined : unit),
        sample: family,
        info: undefined,
        events: undefined,
        window: {
          family: `${family}_window`,
          sample: `${family}_window`,
          help: helpText(input, seconds ? 'seconds' : unit, '— percentiles over the sliding window'),
        },
        claims: [family, `${family}_window`],
        exposed: [family, `${family}_bucket`, `${family}_count`, `${family}_sum`, `${family}_created`, `${family}_window`, `${family}_window_count`, `${family}_window_sum`],
      };
    }
  }
}

/**
 * Bucket bounds as exported: scaled (to seconds) without binary noise, so `5` ms is
 * written `0.005`, not `0.005000000000000001`.
 */
export function exportedBound(bound: number, scale: number): number {
  return scale === 1 ? bound : Number((bound * scale).toPrecision(15));
}
