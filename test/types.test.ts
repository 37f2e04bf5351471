import { describe, expectTypeOf, it } from 'vitest';
import {
  createProbe,
  type Counter,
  type Histogram,
  type HistogramValue,
  type Meter,
  type Metric,
  type MetricValue,
  type Probe,
  type Snapshot,
} from '../src/index.js';

// These assertions are checked by `tsc --noEmit` (part of `npm test` in CI); at run
// time they only run the calls.
describe('Public types', () => {
  const p: Probe = createProbe({ clock: () => 0 });

  it('give each probe kind its class', () => {
    expectTypeOf(p.metric({ name: 'm' })).toEqualTypeOf<Metric>();
    expectTypeOf(p.counter({ name: 'c' })).toEqualTypeOf<Counter<never>>();
    expectTypeOf(p.meter({ name: 'r' })).toEqualTypeOf<Meter<never>>();
    expectTypeOf(p.histogram({ name: 'h' })).toEqualTypeOf<Histogram<never>>();
  });

  it('infer label names from the labels option and require exactly those in labels()', () => {
    const c = p.counter({ name: 'by_route', labels: ['method', 'route'] });
    expectTypeOf(c).toEqualTypeOf<Counter<'method' | 'route'>>();
    expectTypeOf(c.labels).parameter(0).toEqualTypeOf<Readonly<Record<'method' | 'route', string>>>();
    // @ts-expect-error a missing label does not compile
    expectTypeOf(c.labels).toBeCallableWith({ method: 'GET' });
  });

  it('type recording calls as taking a number and returning nothing', () => {
    expectTypeOf(p.counter({ name: 'c2' }).inc).toEqualTypeOf<(n?: number) => void>();
    expectTypeOf(p.meter({ name: 'm2' }).mark).toEqualTypeOf<(n?: number) => void>();
    expectTypeOf(p.histogram({ name: 'h2' }).observe).toEqualTypeOf<(v: number) => void>();
  });

  it('type reads', () => {
    expectTypeOf(p.counter({ name: 'c3' }).val()).toEqualTypeOf<number>();
    expectTypeOf(p.meter({ name: 'm3' }).val()).toEqualTypeOf<number>();
    expectTypeOf(p.metric({ name: 'g3' }).val()).toEqualTypeOf<MetricValue | undefined>();
    expectTypeOf(p.histogram({ name: 'h3' }).val()).toEqualTypeOf<HistogramValue>();
    expectTypeOf<HistogramValue['p99']>().toEqualTypeOf<number | null>();
    expectTypeOf(p.snapshot()).toEqualTypeOf<Snapshot>();
  });
});
