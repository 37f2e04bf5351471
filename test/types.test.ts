import { describe, expectTypeOf, it } from 'vitest';
import * as pmx from '../src/pmx.js';
import {
  createProbe,
  type Counter,
  type Histogram,
  type HistogramValue,
  type Meter,
  type Metric,
  type MetricValue,
  type MonotonicCounter,
  type Probe,
  type Snapshot,
} from '../src/index.js';

// These assertions are checked by `tsc --noEmit` (part of `npm test` in CI); at run
// time they only run the calls.
describe('Public types', () => {
  const p: Probe = createProbe({ clock: () => 0 });

  it('give each probe kind its interface', () => {
    expectTypeOf(p.metric({ name: 'm' })).toEqualTypeOf<Metric>();
    expectTypeOf(p.counter({ name: 'c' })).toEqualTypeOf<Counter<never>>();
    expectTypeOf(p.meter({ name: 'r' })).toEqualTypeOf<Meter<never>>();
    expectTypeOf(p.histogram({ name: 'h' })).toEqualTypeOf<Histogram<never>>();
  });

  it('infer label names from the labels option and require exactly those in labels()', () => {
    const c = p.counter({ name: 'by_route', labels: ['method', 'route'] });
    expectTypeOf(c).toEqualTypeOf<Counter<'method' | 'route'>>();
    expectTypeOf(c.labels).parameter(0).toEqualTypeOf<{ readonly method: string | number | boolean | bigint; readonly route: string | number | boolean | bigint }>();
    expectTypeOf(c.labels).toBeCallableWith({ method: 'GET', route: 200 });
    // @ts-expect-error a missing label does not compile
    expectTypeOf(c.labels).toBeCallableWith({ method: 'GET' });
    // @ts-expect-error an undeclared label does not compile
    const undeclared = () => c.labels({ method: 'GET', route: '/', status: '200' });
    expectTypeOf(undeclared).toBeFunction();
    expectTypeOf(c.labels({ method: 'GET', route: '/' }).labelValues).toEqualTypeOf<Readonly<Record<'method' | 'route', string>>>();
  });

  it('give labels() on a probe declared without labels a parameter nothing can be passed to', () => {
    expectTypeOf(p.counter({ name: 'plain' }).labels).parameter(0).toEqualTypeOf<never>();
    expectTypeOf(p.histogram({ name: 'plain_h' }).labels).parameter(0).toEqualTypeOf<never>();
  });

  it('give a monotonic counter a type without dec()', () => {
    const served = p.counter({ name: 'served', monotonic: true, labels: ['route'] });
    expectTypeOf(served).toEqualTypeOf<MonotonicCounter<'route'>>();
    expectTypeOf(served.labels({ route: '/' })).toEqualTypeOf<MonotonicCounter<'route'>>();
    expectTypeOf(served).not.toHaveProperty('dec');
    expectTypeOf(p.counter({ name: 'active', monotonic: false })).toHaveProperty('dec');
  });

  it('key val() of a histogram by exactly the percentiles asked for', () => {
    const h = p.histogram({ name: 'latency', percentiles: [0.05, 0.5, 0.999, 1] });
    expectTypeOf(h.val()).toEqualTypeOf<HistogramValue<'p05' | 'p50' | 'p999' | 'p100'>>();
    expectTypeOf(h.val()).not.toHaveProperty('p99');
    expectTypeOf(p.histogram({ name: 'default_latency' }).val()).toEqualTypeOf<HistogramValue<'p50' | 'p75' | 'p90' | 'p95' | 'p99' | 'p999'>>();
    const qs: number[] = [0.5];
    expectTypeOf(p.histogram({ name: 'runtime_latency', percentiles: qs }).val()).toEqualTypeOf<HistogramValue<`p${number}`>>();
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
    expectTypeOf(p.histogram({ name: 'h3' }).val().p99).toEqualTypeOf<number | null>();
    expectTypeOf<HistogramValue['p42']>().toEqualTypeOf<number | null>();
    expectTypeOf(p.snapshot()).toEqualTypeOf<Snapshot>();
  });

  it("type the pmx facade's actions as the chapter writes them, with no annotation: (reply) and (params, reply)", () => {
    const register = (): void => {
      pmx.action('memory-leak', (reply) => reply({ result: 'Hello' }));
      pmx.action('with-params', (params, reply) => reply({ params }));
      pmx.action('with-opts', { comment: 'runs a thing' }, (reply) => reply(true));
      // @ts-expect-error a number is not an action
      pmx.action('x', 42);
    };
    expectTypeOf(register).toBeFunction();
  });
});
