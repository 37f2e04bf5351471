import { describe, expect, it } from 'vitest';
import { MergeState, mergeSnapshots, writeMerged } from '../../src/exporters/prometheus/cluster.js';
import { formatValue } from '../../src/exporters/prometheus/format.js';
import { Sink } from '../../src/exporters/prometheus/sink.js';

type Answers = Parameters<typeof mergeSnapshots>[1];
type Answer = Answers[number];

const BOUNDS = [1, 2, 5];
const STRIDE = BOUNDS.length + 3;

/** A version-3 answer as a worker sends it: a monotonic counter `jobs{k}` and a histogram `lat{k}`. */
function answer(worker: string, keys: readonly string[], counts: readonly number[], histograms: readonly number[]): Answer {
  const base = { help: null, unit: null, labelNames: ['k'] };
  return {
    worker,
    compact: [
      { ...base, name: 'jobs', kind: 'counter', exportName: 'jobs', monotonic: true, keys, values: counts },
      { ...base, name: 'lat', kind: 'histogram', exportName: 'lat', bounds: BOUNDS, keys, values: histograms },
    ],
  } as Answer;
}

/** The sample lines of one merge, sorted. */
function lines(state: MergeState): string[] {
  const sink = new Sink();
  writeMerged(state, { openMetrics: false }, sink);
  return sink
    .result()
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .sort();
}

/** The same lines recomputed from scratch: every answer's values summed per series, in the answers' order. */
function recomputed(answers: readonly { keys: readonly string[]; counts: readonly number[]; histograms: readonly number[] }[]): string[] {
  const counters = new Map<string, number>();
  const hist = new Map<string, number[]>();
  for (const a of answers) {
    a.keys.forEach((key, i) => {
      counters.set(key, (counters.get(key) ?? 0) + (a.counts[i] as number));
      const mine = a.histograms.slice(i * STRIDE, (i + 1) * STRIDE);
      const sum = hist.get(key);
      hist.set(key, sum === undefined ? mine : sum.map((v, j) => v + (mine[j] as number)));
    });
  }
  const out: string[] = [];
  for (const [key, v] of counters) out.push(`jobs_total${key} ${formatValue(v)}`);
  for (const [key, v] of hist) {
    const inner = key.slice(0, -1);
    BOUNDS.forEach((b, i) => out.push(`lat_bucket${inner},le="${b}"} ${formatValue(v[i] as number)}`));
    out.push(`lat_bucket${inner},le="+Inf"} ${formatValue(v[BOUNDS.length + 1] as number)}`);
    out.push(`lat_count${key} ${formatValue(v[BOUNDS.length + 1] as number)}`, `lat_sum${key} ${formatValue(v[BOUNDS.length + 2] as number)}`);
  }
  return out.sort();
}

describe('the cluster merge kept between scrapes', () => {
  it('writes, over 300 scrapes, exactly what a merge from scratch of the workers that answered writes: workers silent at random, keys kept or changed, fractional sums', () => {
    let x = 7;
    const random = (): number => (x = (x * 48271) % 2147483647) / 2147483647;
    const state = new MergeState();
    const workers = ['0', '1', '2'];
    // Each worker's keys: the same array object while unchanged, as the primary holds them.
    const keys = workers.map(() => ['{k="a"}', '{k="b"}', '{k="c"}'] as readonly string[]);
    const totals = workers.map(() => new Map<string, number>());
    for (let scrape = 0; scrape < 300; scrape++) {
      const given: { keys: readonly string[]; counts: number[]; histograms: number[] }[] = [];
      const answers: Answer[] = [];
      workers.forEach((worker, w) => {
        if (random() < 0.2) return; // silent this scrape
        if (random() < 0.1) {
          // New series (a fresh array), some old ones gone.
          const pool = ['{k="a"}', '{k="b"}', '{k="c"}', '{k="d"}', '{k="e"}', `{k="w${w}"}`];
          keys[w] = pool.filter(() => random() < 0.6);
        }
        const k = keys[w] as readonly string[];
        const counts = k.map((key) => {
          const t = (totals[w]?.get(key) ?? 0) + Math.floor(random() * 5);
          totals[w]?.set(key, t);
          return t;
        });
        const histograms = k.flatMap(() => {
          const c = [1, 2, 3, 4].map(() => Math.floor(random() * 10));
          const cum = c.map((_, i) => c.slice(0, i + 1).reduce((a, b) => a + b, 0));
          return [...cum, cum[3] as number, random() * 100];
        });
        given.push({ keys: k, counts, histograms });
        answers.push(answer(worker, k, counts, histograms));
      });
      mergeSnapshots(state, answers, 'worker', {});
      expect(lines(state)).toEqual(recomputed(given));
    }
  });

  it('keeps what it holds bounded while every scrape brings 20 series never seen before: at most twice the live ones and 1024 more per family', () => {
    const state = new MergeState();
    for (let scrape = 0; scrape < 200; scrape++) {
      const keys = Array.from({ length: 20 }, (_, i) => `{k="s${scrape}_${i}"}`);
      const counts = keys.map(() => 1);
      const histograms = keys.flatMap(() => [1, 1, 1, 1, 1, 0.5]);
      mergeSnapshots(state, [answer('0', keys, counts, histograms)], 'worker', {});
      expect(lines(state)).toEqual(recomputed([{ keys, counts, histograms }]));
      for (const family of state.families.values()) expect(family.lines.size).toBeLessThanOrEqual(2 * 20 + 1024);
    }
    expect(state.families.size).toBe(2);
    expect(state.routes.size).toBe(1);
  });

  it('adds the values of every worker into one family while workers disagree on its HELP (a rolling deploy), scrape after scrape', () => {
    const state = new MergeState();
    const keys = ['{k="a"}', '{k="b"}'];
    const worker = (id: string, help: string, values: number[]): Answer =>
      ({ worker: id, compact: [{ name: 'c', kind: 'counter', exportName: 'c', help, unit: null, labelNames: ['k'], monotonic: true, keys, values }] }) as Answer;
    for (let scrape = 0; scrape < 3; scrape++) {
      mergeSnapshots(state, [worker('0', 'old help', [100, 200]), worker('1', 'new help', [1, 2])], 'worker', {});
      expect(lines(state)).toEqual(['c_total{k="a"} 101', 'c_total{k="b"} 202']);
    }
  });

  it('lets go of a family no worker reported for 16 scrapes, and of the routes of a worker that stopped answering', () => {
    const state = new MergeState();
    const keys = ['{k="a"}'];
    mergeSnapshots(state, [answer('0', keys, [1], [1, 1, 1, 1, 1, 2]), answer('1', keys, [2], [0, 0, 1, 1, 1, 3])], 'worker', {});
    expect(state.routes.size).toBe(2);
    expect(lines(state)).toContain('jobs_total{k="a"} 3');
    for (let i = 0; i < 17; i++) mergeSnapshots(state, [], 'worker', {});
    expect(lines(state)).toEqual([]);
    expect(state.families.size).toBe(0);
    expect(state.routes.size).toBe(0);
  });
});
