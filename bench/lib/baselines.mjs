// In-process baselines every ratio is taken against.
import { sink } from './harness.mjs';

/** The hand-written 11-bucket histogram: count, sum, linear scan, one increment. */
export class HandHistogram {
  constructor(bounds) {
    this.bounds = Float64Array.from(bounds);
    this.counts = new Float64Array(bounds.length + 1);
    this.count = 0;
    this.sum = 0;
  }
  observe(v) {
    this.count++;
    this.sum += v;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
  }
}

export const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const LABEL_SETS = [
  { method: 'GET', status: '200' },
  { method: 'POST', status: '201' },
  { method: 'GET', status: '404' },
  { method: 'PUT', status: '500' },
];
/** The same label sets with the status as a number, as `res.statusCode` gives it. */
export const NUMERIC_LABEL_SETS = LABEL_SETS.map((l) => ({ method: l.method, status: Number(l.status) }));
export const LABEL_KEYS = LABEL_SETS.map((l) => `${l.method}|${l.status}`);

export function baselineCases(values) {
  const o = { n: 0 };
  const f = { v: 0.5 };
  const map = new Map();
  const hand = new HandHistogram(BUCKETS);
  const mask = values.length - 1;
  return {
    plain: (group) => ({
      group,
      impl: 'baseline `o.n++`',
      baseline: true,
      run(n) {
        for (let i = 0; i < n; i++) o.n++;
        sink.n += o.n;
      },
    }),
    set: (group) => ({
      group,
      impl: 'baseline `o.n = i`',
      baseline: true,
      run(n) {
        for (let i = 0; i < n; i++) o.n = i;
        sink.n += o.n;
      },
    }),
    setFloat: (group) => ({
      group,
      impl: 'baseline `o.v = x` (a field holding doubles)',
      baseline: true,
      run(n) {
        for (let i = 0; i < n; i++) f.v = values[i & mask];
        sink.v += f.v;
      },
    }),
    map: (group) => ({
      group,
      impl: 'baseline Map get+set on a label key',
      baseline: true,
      run(n) {
        for (let i = 0; i < n; i++) {
          const k = LABEL_KEYS[i & 3];
          map.set(k, (map.get(k) ?? 0) + 1);
        }
      },
    }),
    histogram: (group) => ({
      group,
      impl: 'baseline hand-written 11-bucket histogram',
      baseline: true,
      run(n) {
        for (let i = 0; i < n; i++) hand.observe(values[i & mask]);
        sink.v += hand.sum;
      },
    }),
  };
}
