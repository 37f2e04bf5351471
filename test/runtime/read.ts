/** Reading runtime metrics back from a registry's snapshot, for the runtime tests. */
import type { FamilySnapshot, Probe, Snapshot } from '../../src/index.js';

/** The family exported as `exportName`; throws when it is not registered. */
export function family(p: Probe, exportName: string): FamilySnapshot {
  const f = p.snapshot().metrics.find((m) => m.exportName === exportName);
  if (f === undefined) throw new Error(`no family ${exportName}`);
  return f;
}

/** The numeric value of the series of `exportName` with exactly `labels`, read from `p` now or from a snapshot taken before; throws when there is none. */
export function value(p: Probe | Snapshot, exportName: string, labels: Record<string, string> = {}): number {
  const f = 'metrics' in p ? p.metrics.find((m) => m.exportName === exportName) : family(p, exportName);
  if (f === undefined) throw new Error(`no family ${exportName}`);
  const key = JSON.stringify(labels);
  for (const s of f.series as ReadonlyArray<{ labels: Record<string, string>; value?: unknown }>) {
    if (JSON.stringify(s.labels) !== key) continue;
    if (typeof s.value === 'number') return s.value;
    if (s.value !== null && typeof s.value === 'object' && typeof (s.value as { count?: unknown }).count === 'number') return (s.value as { count: number }).count;
  }
  throw new Error(`no series ${exportName}${key}`);
}

/** The series of `exportName` as `{ labels JSON: value }`. */
export function series(p: Probe, exportName: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of family(p, exportName).series as ReadonlyArray<{ labels: Record<string, string>; value: unknown }>) out[JSON.stringify(s.labels)] = s.value as number;
  return out;
}

/** Exported names of every family a registry holds, its self-metrics left out. */
export function familyNames(p: Probe): string[] {
  return p.snapshot().metrics.map((m) => m.exportName).filter((n) => !n.startsWith('probekit_'));
}
