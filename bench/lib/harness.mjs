// Interleaved micro-benchmark rounds: every case runs once per round, in a rotated
// order, with a fixed iteration count calibrated up front; we keep the median and the
// min–max of ns per operation across rounds. Each case owns its loop, so the measured
// call site is specialised for that case alone (no megamorphic `fn()` in the loop).

import os from 'node:os';

/** @typedef {{ group: string, impl: string, baseline?: boolean, run: (n: number) => void, note?: string }} Case */

const TARGET_MS = Number(process.env.BENCH_TARGET_MS ?? 15);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);

function time(run, n) {
  const t0 = process.hrtime.bigint();
  run(n);
  return Number(process.hrtime.bigint() - t0);
}

function calibrate(run) {
  let n = 1000;
  for (;;) {
    const ns = time(run, n);
    if (ns > TARGET_MS * 1e6 * 0.25 || n > 1e9) return Math.max(1000, Math.round((n * TARGET_MS * 1e6) / Math.max(ns, 1)));
    n *= 4;
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs the cases and returns one row per case: median, min and max ns/op and the
 * ratio of medians to the group's baseline.
 * @param {Case[]} cases
 */
export function runCases(cases, { rounds = ROUNDS } = {}) {
  // Warm-up: let every case reach optimised code before calibration.
  for (const c of cases) c.run(20_000);
  for (const c of cases) c.run(200_000);
  const sizes = cases.map((c) => calibrate(c.run));
  const samples = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + r) % cases.length;
      samples[i].push(time(cases[i].run, sizes[i]) / sizes[i]);
    }
  }
  const rows = cases.map((c, i) => ({
    group: c.group,
    impl: c.impl,
    baseline: Boolean(c.baseline),
    note: c.note ?? '',
    median: median(samples[i]),
    min: Math.min(...samples[i]),
    max: Math.max(...samples[i]),
  }));
  for (const row of rows) {
    const base = rows.find((r) => r.group === row.group && r.baseline);
    row.ratio = base ? row.median / base.median : NaN;
  }
  return rows;
}

export function machineLine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu.trim()}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}, load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${new Date().toISOString().slice(0, 10)}`;
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function table(rows) {
  const out = ['| case | implementation | median ns/op | min–max ns/op | × baseline |', '|---|---|---:|---:|---:|'];
  for (const r of rows) {
    const ratio = Number.isNaN(r.ratio) ? '' : r.baseline ? '1 (baseline)' : `${r.ratio.toFixed(2)}×`;
    out.push(`| ${r.group} | ${r.impl}${r.note ? ` (${r.note})` : ''} | ${fmt(r.median)} | ${fmt(r.min)}–${fmt(r.max)} | ${ratio} |`);
  }
  return out.join('\n');
}

/** A sink that the optimiser cannot see through. */
export const sink = { n: 0, v: 0 };

/** 4096 lognormal values (median ~25 ms, in seconds), fixed seed. */
export function lognormalSeconds(count = 4096, seed = 42) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const z = Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
    out[i] = Math.exp(Math.log(0.025) + 1.2 * z);
  }
  return out;
}
