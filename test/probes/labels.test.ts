import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProbe, OVERFLOW_LABEL_VALUE, type Probe, type Snapshot } from '../../src/index.js';

v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

let p: Probe | undefined;
afterEach(() => {
  p?.close();
  p = undefined;
});

/** The series of the family registered as `name`, as [labels, value] pairs where value is what the kind reports. */
function seriesOf(s: Snapshot, name: string): unknown[] {
  const family = s.metrics.find((f) => f.name === name);
  if (family === undefined) throw new Error(`no family ${name} in the snapshot`);
  switch (family.kind) {
    case 'counter':
      return family.series.map((x) => [x.labels, x.value]);
    case 'meter':
      return family.series.map((x) => [x.labels, x.total]);
    case 'histogram':
      return family.series.map((x) => [x.labels, x.value.count]);
    case 'metric':
      return family.series.map((x) => [x.labels, x.type]);
  }
}

/** The value of one self-metric series; undefined when the series does not exist. */
function selfCount(probe: Probe, exportName: string, metric: string): number | undefined {
  const family = probe.snapshot().metrics.find((f) => f.exportName === exportName);
  if (family === undefined || family.kind !== 'counter') throw new Error(`no counter family ${exportName} in the snapshot`);
  return family.series.find((x) => x.labels.metric === metric)?.value;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Collects process warnings with the cardinality cap code while a test runs. */
function capWarnings(): Error[] {
  const seen: Error[] = [];
  const listener = (w: Error & { code?: string }): void => {
    if (w.code === 'PROBEKIT_CARDINALITY_CAP') seen.push(w);
  };
  process.on('warning', listener);
  listeners.push(listener);
  return seen;
}
const listeners: ((w: Error) => void)[] = [];
afterEach(async () => {
  // emitWarning delivers on a later tick: let this test's warnings arrive before the next test listens.
  await tick();
  for (const l of listeners.splice(0)) process.off('warning', l);
});

describe('labels()', () => {
  describe('child caching', () => {
    it('returns the same child object for equal label values', () => {
      p = createProbe();
      const c = p.counter({ name: 'http_requests', labels: ['method', 'status'] });
      const a = c.labels({ method: 'GET', status: '200' });
      const b = c.labels({ method: 'GET', status: '200' });
      expect(b).toBe(a);
    });

    it('returns the same child whatever order the label keys are given in', () => {
      p = createProbe();
      const c = p.counter({ name: 'http_requests', labels: ['method', 'status'] });
      const a = c.labels({ method: 'GET', status: '200' });
      expect(c.labels({ status: '200', method: 'GET' })).toBe(a);
    });

    it('returns different child objects for different label values', () => {
      p = createProbe();
      const c = p.counter({ name: 'http_requests', labels: ['method', 'status'] });
      const get200 = c.labels({ method: 'GET', status: '200' });
      const get500 = c.labels({ method: 'GET', status: '500' });
      const post200 = c.labels({ method: 'POST', status: '200' });
      expect(get500).not.toBe(get200);
      expect(post200).not.toBe(get200);
      expect(post200).not.toBe(get500);
      expect(get200).not.toBe(c);
    });

    it('gives each child its own label values and its own count', () => {
      p = createProbe();
      const c = p.counter({ name: 'jobs', labels: ['queue'] });
      const mail = c.labels({ queue: 'mail' });
      const sms = c.labels({ queue: 'sms' });
      mail.inc(3);
      sms.inc();
      expect(mail.labelValues).toEqual({ queue: 'mail' });
      expect(mail.val()).toBe(3);
      expect(sms.val()).toBe(1);
      expect(c.val()).toBe(0);
    });

    it('does not keep a reference to the caller’s label object', () => {
      p = createProbe();
      const c = p.counter({ name: 'jobs', labels: ['queue'] });
      const values = { queue: 'mail' };
      const mail = c.labels(values);
      values.queue = 'sms';
      expect(mail.labelValues).toEqual({ queue: 'mail' });
      expect(c.labels({ queue: 'mail' })).toBe(mail);
    });

    it('reflects increments on a held child in the snapshot series', () => {
      p = createProbe();
      const c = p.counter({ name: 'http_requests', labels: ['method'], monotonic: true });
      const get = c.labels({ method: 'GET' });
      get.inc();
      get.inc(2);
      c.labels({ method: 'POST' }).inc();
      get.inc();
      expect(seriesOf(p.snapshot(), 'http_requests')).toEqual([
        [{ method: 'GET' }, 4],
        [{ method: 'POST' }, 1],
      ]);
    });

    it('omits the unused unlabelled root series of a labelled counter from the snapshot', () => {
      p = createProbe();
      const c = p.counter({ name: 'jobs', labels: ['queue'] });
      c.labels({ queue: 'mail' }).inc();
      expect(seriesOf(p.snapshot(), 'jobs')).toEqual([[{ queue: 'mail' }, 1]]);
    });

    it('caches meter children and reflects their marks in the snapshot', () => {
      p = createProbe({ clock: () => 0 });
      const m = p.meter({ name: 'rpm', labels: ['route'] });
      const home = m.labels({ route: '/' });
      expect(m.labels({ route: '/' })).toBe(home);
      expect(m.labels({ route: '/about' })).not.toBe(home);
      home.mark(2);
      m.labels({ route: '/' }).mark();
      expect(seriesOf(p.snapshot(), 'rpm')).toEqual([
        [{ route: '/' }, 3],
        [{ route: '/about' }, 0],
      ]);
    });

    it('caches histogram children and reflects their observations in the snapshot', () => {
      p = createProbe({ clock: () => 0 });
      const h = p.histogram({ name: 'latency', unit: 'ms', labels: ['route'] });
      const home = h.labels({ route: '/' });
      expect(h.labels({ route: '/' })).toBe(home);
      expect(h.labels({ route: '/about' })).not.toBe(home);
      home.observe(12);
      h.labels({ route: '/' }).observe(30);
      expect(seriesOf(p.snapshot(), 'latency')).toEqual([
        [{ route: '/' }, 2],
        [{ route: '/about' }, 0],
      ]);
    });
  });

  describe('invalid label sets', () => {
    const counterWith = (labels: readonly string[]) => {
      p = createProbe();
      return p.counter({ name: 'http_requests', labels });
    };

    it('throws a TypeError naming a missing label', () => {
      const c = counterWith(['method', 'status']);
      expect(() => c.labels({ method: 'GET' })).toThrow(TypeError);
      expect(() => c.labels({ method: 'GET' })).toThrow(
        'probekit: counter "http_requests".labels() is missing label "status"; expected exactly: method, status',
      );
    });

    it('throws a TypeError naming a missing first label', () => {
      const c = counterWith(['method', 'status']);
      expect(() => c.labels({ status: '200' })).toThrow(
        'probekit: counter "http_requests".labels() is missing label "method"; expected exactly: method, status',
      );
    });

    it('throws a TypeError naming an extra label', () => {
      const c = counterWith(['method', 'status']);
      expect(() => c.labels({ method: 'GET', status: '200', path: '/' })).toThrow(TypeError);
      expect(() => c.labels({ method: 'GET', status: '200', path: '/' })).toThrow(
        'probekit: counter "http_requests".labels() got unknown label "path"; expected exactly: method, status',
      );
    });

    it('throws for an extra label even when the declared ones hit the cache', () => {
      const c = counterWith(['method', 'status']);
      c.labels({ method: 'GET', status: '200' });
      expect(() => c.labels({ method: 'GET', status: '200', path: '/' })).toThrow(
        'probekit: counter "http_requests".labels() got unknown label "path"; expected exactly: method, status',
      );
    });

    it('throws for a misspelt label in place of a declared one on a new label set', () => {
      const c = counterWith(['method', 'status']);
      expect(() => c.labels({ method: 'GET', code: '200' } as never)).toThrow(
        'probekit: counter "http_requests".labels() is missing label "status"; expected exactly: method, status',
      );
    });

    it('throws for a misspelt label in place of a declared one on a cached label set', () => {
      const c = counterWith(['method', 'status']);
      c.labels({ method: 'GET', status: '200' });
      expect(() => c.labels({ method: 'GET', code: '200' } as never)).toThrow(
        'probekit: counter "http_requests".labels() is missing label "status"; expected exactly: method, status',
      );
    });

    it('throws a TypeError for a number label value on a single-label counter', () => {
      const c = counterWith(['status']);
      expect(() => c.labels({ status: 200 } as never)).toThrow(TypeError);
      expect(() => c.labels({ status: 200 } as never)).toThrow(
        'probekit: counter "http_requests".labels() label "status" must be a string, got 200 (number)',
      );
    });

    it('throws a TypeError for an undefined label value on a single-label counter', () => {
      const c = counterWith(['status']);
      expect(() => c.labels({ status: undefined } as never)).toThrow(
        'probekit: counter "http_requests".labels() label "status" must be a string, got undefined',
      );
    });

    it('throws for a number in the first label', () => {
      const c = counterWith(['status', 'method']);
      expect(() => c.labels({ status: 200, method: 'GET' } as never)).toThrow(
        'probekit: counter "http_requests".labels() label "status" must be a string, got 200 (number)',
      );
    });

    it('throws for a number in a later label once the earlier labels hit the cache', () => {
      const c = counterWith(['method', 'status']);
      c.labels({ method: 'GET', status: '200' });
      expect(() => c.labels({ method: 'GET', status: 500 } as never)).toThrow(
        'probekit: counter "http_requests".labels() label "status" must be a string, got 500 (number)',
      );
    });

    it('throws for a number in a later label on a new label set', () => {
      const c = counterWith(['method', 'status']);
      expect(() => c.labels({ method: 'GET', status: 200 } as never)).toThrow(
        'probekit: counter "http_requests".labels() label "status" must be a string, got 200 (number)',
      );
    });

    it('throws for an undefined later label on a new label set', () => {
      const c = counterWith(['method', 'status']);
      expect(() => c.labels({ method: 'GET', status: undefined } as never)).toThrow(
        'probekit: counter "http_requests".labels() label "status" must be a string, got undefined',
      );
    });

    it('creates no series for a rejected label set', () => {
      const c = counterWith(['method', 'status']);
      const bad = [{ method: 'GET', status: 200 }, { method: 'PUT', code: '200' }, { method: 'POST', status: undefined }];
      for (const values of bad) {
        try {
          c.labels(values as never);
        } catch {
          // the tests above assert the throw itself; this one checks what is left behind
        }
      }
      expect(seriesOf((p as Probe).snapshot(), 'http_requests')).toEqual([]);
    });

    it('throws a TypeError when given null instead of an object', () => {
      const c = counterWith(['method']);
      expect(() => c.labels(null as never)).toThrow(
        'probekit: counter "http_requests".labels() must be given an object with the labels method, got null',
      );
    });

    it('throws a TypeError when labels() is called on a counter declared without labels', () => {
      p = createProbe();
      const c = p.counter({ name: 'plain' });
      expect(() => c.labels({ a: 'x' } as never)).toThrow(TypeError);
      expect(() => c.labels({ a: 'x' } as never)).toThrow(
        'probekit: counter "plain".labels(): this counter declares no labels; declare them with the "labels" option',
      );
      expect(() => c.labels({})).toThrow(/^probekit: counter "plain"\.labels\(\): this counter declares no labels/);
    });

    it('throws a TypeError when labels() is called on a meter or histogram declared without labels', () => {
      p = createProbe();
      const m = p.meter({ name: 'plain_meter' });
      const h = p.histogram({ name: 'plain_histogram' });
      expect(() => m.labels({})).toThrow(
        'probekit: meter "plain_meter".labels(): this meter declares no labels; declare them with the "labels" option',
      );
      expect(() => h.labels({})).toThrow(
        'probekit: histogram "plain_histogram".labels(): this histogram declares no labels; declare them with the "labels" option',
      );
    });
  });

  describe('label values', () => {
    it.each([
      { what: 'double quotes', value: 'say "hi"' },
      { what: 'a backslash', value: 'C:\\temp\\x' },
      { what: 'a newline', value: 'line 1\nline 2' },
      { what: 'unicode', value: 'Größe ✓ 日本 🚀' },
      { what: 'an empty string', value: '' },
    ])('accepts a value with $what as-is', ({ value }) => {
      p = createProbe();
      const c = p.counter({ name: 'odd', labels: ['v'] });
      const child = c.labels({ v: value });
      child.inc();
      expect(child.labelValues.v).toBe(value);
      expect(c.labels({ v: value })).toBe(child);
      expect(seriesOf(p.snapshot(), 'odd')).toEqual([[{ v: value }, 1]]);
    });
  });

  describe('cardinality cap', () => {
    it('folds the label set beyond the cap into the overflow series whose labels are all __overflow__', () => {
      p = createProbe({ maxSeriesPerMetric: 3 });
      capWarnings();
      const c = p.counter({ name: 'by_user', labels: ['user', 'region'] });
      const own = ['a', 'b', 'c'].map((user) => c.labels({ user, region: 'eu' }));
      const fourth = c.labels({ user: 'd', region: 'eu' });
      expect(OVERFLOW_LABEL_VALUE).toBe('__overflow__');
      expect(fourth.labelValues).toEqual({ user: '__overflow__', region: '__overflow__' });
      for (const child of own) expect(fourth).not.toBe(child);
    });

    it('returns the same overflow series for every new label set beyond the cap', () => {
      p = createProbe({ maxSeriesPerMetric: 3 });
      capWarnings();
      const c = p.counter({ name: 'by_user', labels: ['user'] });
      for (const user of ['a', 'b', 'c']) c.labels({ user });
      const overflow = c.labels({ user: 'd' });
      expect(c.labels({ user: 'e' })).toBe(overflow);
      expect(c.labels({ user: 'd' })).toBe(overflow);
    });

    it('still returns their own child to the label sets tracked before the cap', () => {
      p = createProbe({ maxSeriesPerMetric: 3 });
      capWarnings();
      const c = p.counter({ name: 'by_user', labels: ['user'] });
      const a = c.labels({ user: 'a' });
      const b = c.labels({ user: 'b' });
      const cc = c.labels({ user: 'c' });
      c.labels({ user: 'd' });
      c.labels({ user: 'e' });
      expect(c.labels({ user: 'a' })).toBe(a);
      expect(c.labels({ user: 'b' })).toBe(b);
      expect(c.labels({ user: 'c' })).toBe(cc);
    });

    it('lists the tracked series first and the overflow series last in the snapshot', () => {
      p = createProbe({ maxSeriesPerMetric: 3 });
      capWarnings();
      const c = p.counter({ name: 'by_user', labels: ['user'] });
      c.labels({ user: 'a' }).inc();
      c.labels({ user: 'b' }).inc(2);
      c.labels({ user: 'x' }).inc(5); // 3rd tracked set
      c.labels({ user: 'y' }).inc(10); // folded
      c.labels({ user: 'z' }).inc(20); // folded
      c.labels({ user: 'a' }).inc();
      expect(seriesOf(p.snapshot(), 'by_user')).toEqual([
        [{ user: 'a' }, 2],
        [{ user: 'b' }, 2],
        [{ user: 'x' }, 5],
        [{ user: '__overflow__' }, 30],
      ]);
    });

    it('emits exactly one PROBEKIT_CARDINALITY_CAP warning however many calls fold', async () => {
      p = createProbe({ maxSeriesPerMetric: 3 });
      const warnings = capWarnings();
      const c = p.counter({ name: 'by_user', labels: ['user'] });
      for (let i = 0; i < 3; i++) c.labels({ user: `u${i}` });
      await tick();
      expect(warnings).toHaveLength(0);
      for (let i = 3; i < 500; i++) c.labels({ user: `u${i}` }).inc();
      await tick();
      expect(warnings).toHaveLength(1);
      const warning = warnings[0] as Error;
      expect(warning.name).toBe('Warning');
      expect(warning.message).toBe(
        'probekit: counter "by_user" reached maxSeriesPerMetric (3) distinct label sets; further new label sets are folded into the series whose labels are all "__overflow__" (counted in probekit_folded_label_sets_total). Use fewer distinct label values or raise maxSeriesPerMetric.',
      );
    });

    it('counts every folded call in probekit_folded_label_sets, repeats included', () => {
      p = createProbe({ maxSeriesPerMetric: 3 });
      capWarnings();
      const c = p.counter({ name: 'By user', labels: ['user'] });
      for (const user of ['a', 'b', 'c']) c.labels({ user });
      expect(selfCount(p, 'probekit_folded_label_sets', 'by_user')).toBeUndefined();
      c.labels({ user: 'd' });
      expect(selfCount(p, 'probekit_folded_label_sets', 'by_user')).toBe(1);
      c.labels({ user: 'd' });
      c.labels({ user: 'e' });
      c.labels({ user: 'a' }); // tracked: not folded
      expect(selfCount(p, 'probekit_folded_label_sets', 'by_user')).toBe(3);
    });

    it('caps each metric separately', () => {
      p = createProbe({ maxSeriesPerMetric: 2 });
      capWarnings();
      const one = p.counter({ name: 'one', labels: ['k'] });
      const two = p.counter({ name: 'two', labels: ['k'] });
      one.labels({ k: 'a' });
      one.labels({ k: 'b' });
      expect(one.labels({ k: 'c' }).labelValues).toEqual({ k: '__overflow__' });
      expect(two.labels({ k: 'c' }).labelValues).toEqual({ k: 'c' });
    });

    it('keeps counting folds when more metrics overflow than the self-metric itself may track', () => {
      p = createProbe({ maxSeriesPerMetric: 1 });
      capWarnings();
      const one = p.counter({ name: 'one', labels: ['k'] });
      const two = p.counter({ name: 'two', labels: ['k'] });
      one.labels({ k: 'a' });
      two.labels({ k: 'a' });
      expect(one.labels({ k: 'b' }).labelValues).toEqual({ k: '__overflow__' });
      expect(() => two.labels({ k: 'b' })).not.toThrow();
      expect(two.labels({ k: 'c' }).labelValues).toEqual({ k: '__overflow__' });
    });

    it('folds meter label sets beyond the cap and warns once', async () => {
      p = createProbe({ maxSeriesPerMetric: 3, clock: () => 0 });
      const warnings = capWarnings();
      const m = p.meter({ name: 'rpm', labels: ['route'] });
      const own = ['/a', '/b', '/c'].map((route) => m.labels({ route }));
      const overflow = m.labels({ route: '/d' });
      expect(overflow.labelValues).toEqual({ route: '__overflow__' });
      expect(m.labels({ route: '/e' })).toBe(overflow);
      expect(m.labels({ route: '/a' })).toBe(own[0]);
      overflow.mark(4);
      expect(seriesOf(p.snapshot(), 'rpm')).toEqual([
        [{ route: '/a' }, 0],
        [{ route: '/b' }, 0],
        [{ route: '/c' }, 0],
        [{ route: '__overflow__' }, 4],
      ]);
      expect(selfCount(p, 'probekit_folded_label_sets', 'rpm')).toBe(2);
      await tick();
      expect(warnings.map((w) => w.message)).toEqual([
        'probekit: meter "rpm" reached maxSeriesPerMetric (3) distinct label sets; further new label sets are folded into the series whose labels are all "__overflow__" (counted in probekit_folded_label_sets_total). Use fewer distinct label values or raise maxSeriesPerMetric.',
      ]);
    });

    it('folds histogram label sets beyond the cap and warns once', async () => {
      p = createProbe({ maxSeriesPerMetric: 3, clock: () => 0 });
      const warnings = capWarnings();
      const h = p.histogram({ name: 'latency', unit: 'ms', labels: ['route'] });
      const own = ['/a', '/b', '/c'].map((route) => h.labels({ route }));
      const overflow = h.labels({ route: '/d' });
      expect(overflow.labelValues).toEqual({ route: '__overflow__' });
      expect(h.labels({ route: '/e' })).toBe(overflow);
      expect(h.labels({ route: '/c' })).toBe(own[2]);
      overflow.observe(1);
      overflow.observe(2);
      expect(seriesOf(p.snapshot(), 'latency')).toEqual([
        [{ route: '/a' }, 0],
        [{ route: '/b' }, 0],
        [{ route: '/c' }, 0],
        [{ route: '__overflow__' }, 2],
      ]);
      expect(selfCount(p, 'probekit_folded_label_sets', 'latency')).toBe(2);
      await tick();
      expect(warnings.map((w) => w.message)).toEqual([
        'probekit: histogram "latency" reached maxSeriesPerMetric (3) distinct label sets; further new label sets are folded into the series whose labels are all "__overflow__" (counted in probekit_folded_label_sets_total). Use fewer distinct label values or raise maxSeriesPerMetric.',
      ]);
    });

    describe('memory', () => {
      let before = 0;
      beforeEach(() => {
        gc();
        gc();
        before = process.memoryUsage().heapUsed;
      });

      // One million distinct values: a leak that kept as little as one Map entry
      // (~40 bytes) plus its key string (~24 bytes) per value would retain ~64 MB, and
      // even 4 bytes per value would cross the bound. The 1001 legitimate children (a
      // Counter, a frozen one-key label object, its id string and a Map entry each)
      // measured ~0.3 MB on Node 20, so a 4 MB bound leaves >10x room for GC noise.
      it('keeps 1000 children plus the overflow series and bounded heap after a million distinct label values', async () => {
        p = createProbe();
        const warnings = capWarnings();
        const c = p.counter({ name: 'by_request_id', labels: ['id'] });
        for (let i = 0; i < 1_000_000; i++) c.labels({ id: `req-${i}` }).inc();
        gc();
        gc();
        const growth = process.memoryUsage().heapUsed - before;
        const series = p.snapshot().metrics.find((f) => f.name === 'by_request_id')?.series ?? [];
        expect(series).toHaveLength(1001);
        expect(series[1000]).toEqual({ labels: { id: '__overflow__' }, value: 999_000 });
        expect(selfCount(p, 'probekit_folded_label_sets', 'by_request_id')).toBe(999_000);
        expect(growth).toBeLessThan(4 * 1024 * 1024);
        await tick();
        expect(warnings).toHaveLength(1);
      });
    });
  });
});
