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

  describe('label values that are not strings', () => {
    it.each([
      { what: 'a number', value: 200, text: '200' },
      { what: 'a negative float', value: -1.5, text: '-1.5' },
      { what: 'a boolean', value: true, text: 'true' },
      { what: 'a bigint', value: 12345678901234567890n, text: '12345678901234567890' },
    ])('records $what under its string form, in the same series as that string', ({ value, text }) => {
      p = createProbe();
      const c = p.counter({ name: 'responses', labels: ['status'] });
      const fromValue = c.labels({ status: value });
      fromValue.inc();
      c.labels({ status: text }).inc();
      expect(fromValue).toBe(c.labels({ status: text }));
      expect(fromValue.labelValues).toEqual({ status: text });
      expect(seriesOf(p.snapshot(), 'responses')).toEqual([[{ status: text }, 2]]);
      expect(selfCount(p, 'probekit_invalid_labels', 'responses')).toBeUndefined();
    });

    it('makes { status: 200 } and { status: "200" } one series in a two-label family, whichever comes first', () => {
      p = createProbe();
      const c = p.counter({ name: 'by_route', labels: ['route', 'status'] });
      c.labels({ route: '/', status: '200' }).inc();
      c.labels({ route: '/', status: 200 }).inc(2);
      c.labels({ route: 404, status: 404 }).inc();
      c.labels({ route: '404', status: '404' }).inc();
      expect(seriesOf(p.snapshot(), 'by_route')).toEqual([
        [{ route: '/', status: '200' }, 3],
        [{ route: '404', status: '404' }, 2],
      ]);
    });
  });

  describe('invalid label sets never throw: they take the fallback, are counted, and warn once', () => {
    const counterWith = (labels: readonly string[]) => {
      p = createProbe();
      return p.counter({ name: 'http_requests', labels });
    };
    /** Collects PROBEKIT_INVALID_LABELS warnings while a test runs. */
    function labelWarnings(): string[] {
      const seen: string[] = [];
      const listener = (w: Error & { code?: string }): void => {
        if (w.code === 'PROBEKIT_INVALID_LABELS') seen.push(w.message);
      };
      process.on('warning', listener);
      listeners.push(listener);
      return seen;
    }
    const any = (v: unknown) => v as never;
    const expected = "expected exactly method, status, each a string, number, boolean or bigint; a missing or unusable value becomes '' and unknown names are ignored";
    const tail = '(counted in probekit_invalid_labels_total; further problems with this metric are counted, not warned).';

    it.each([
      { what: 'a missing label', given: { method: 'GET' }, labels: { method: 'GET', status: '' }, problem: 'label "status" is missing' },
      { what: 'a missing first label', given: { status: '200' }, labels: { method: '', status: '200' }, problem: 'label "method" is missing' },
      { what: 'an undefined value', given: { method: 'GET', status: undefined }, labels: { method: 'GET', status: '' }, problem: 'label "status" is missing' },
      { what: 'a null value', given: { method: null, status: '200' }, labels: { method: '', status: '200' }, problem: 'label "method" is null' },
      { what: 'an object value', given: { method: 'GET', status: { code: 200 } }, labels: { method: 'GET', status: '' }, problem: 'label "status" is { code: 200 } (object)' },
      { what: 'a symbol value', given: { method: Symbol('GET'), status: '200' }, labels: { method: '', status: '200' }, problem: 'label "method" is Symbol(GET) (symbol)' },
      { what: 'a function value', given: { method: 'GET', status: () => 200 }, labels: { method: 'GET', status: '' }, problem: 'label "status" is [Function: status] (function)' },
      { what: 'an unknown label', given: { method: 'GET', status: '200', route: '/' }, labels: { method: 'GET', status: '200' }, problem: 'unknown label "route"' },
      { what: 'a misspelt label', given: { method: 'GET', stauts: '200' }, labels: { method: 'GET', status: '' }, problem: 'label "status" is missing' },
    ])('records $what under the fallback, counts it and warns once naming the problem', async ({ given, labels, problem }) => {
      const warnings = labelWarnings();
      const c = counterWith(['method', 'status']);
      c.labels(any(given)).inc();
      c.labels(any(given)).inc();
      expect(seriesOf(p!.snapshot(), 'http_requests')).toEqual([[labels, 2]]);
      expect(selfCount(p!, 'probekit_invalid_labels', 'http_requests')).toBe(2);
      await tick();
      expect(warnings).toEqual([`probekit: counter "http_requests".labels(): ${problem}; ${expected} ${tail}`]);
    });

    it('checks for an unknown label even when the declared ones hit the cache', () => {
      const c = counterWith(['method']);
      const get = c.labels({ method: 'GET' });
      expect(c.labels(any({ method: 'GET', extra: 'x' }))).toBe(get);
      expect(selfCount(p!, 'probekit_invalid_labels', 'http_requests')).toBe(1);
    });

    it('records a label set that is not an object with every label set to the fallback', () => {
      const c = counterWith(['method', 'status']);
      c.labels(any(null)).inc();
      c.labels(any('GET')).inc();
      c.labels(any(undefined)).inc();
      expect(seriesOf(p!.snapshot(), 'http_requests')).toEqual([[{ method: '', status: '' }, 3]]);
      expect(selfCount(p!, 'probekit_invalid_labels', 'http_requests')).toBe(3);
    });

    it('records a label set whose getter or Proxy trap throws with every label set to the fallback', () => {
      const c = counterWith(['method']);
      const throwingGetter = Object.defineProperty({}, 'method', {
        enumerable: true,
        get: () => {
          throw new Error('boom');
        },
      });
      const throwingProxy = new Proxy(
        {},
        {
          ownKeys: () => {
            throw new Error('trap');
          },
        },
      );
      const revoked = Proxy.revocable({}, {});
      revoked.revoke();
      for (const bad of [throwingGetter, throwingProxy, revoked.proxy]) c.labels(any(bad)).inc();
      expect(seriesOf(p!.snapshot(), 'http_requests')).toEqual([[{ method: '' }, 3]]);
      expect(selfCount(p!, 'probekit_invalid_labels', 'http_requests')).toBe(3);
    });

    it('reads each label value once, so a getter cannot slip a Symbol into a series after the check', () => {
      const c = counterWith(['method', 'status']);
      let reads = 0;
      const sneaky = {
        method: 'GET',
        get status(): string {
          reads++;
          return (reads === 1 ? '200' : Symbol('late')) as string;
        },
      };
      c.labels(sneaky).inc();
      expect(reads).toBe(1);
      c.labels(sneaky).inc(); // the getter now returns a Symbol: the fallback takes it
      expect(reads).toBe(2);
      const snapshot = p!.snapshot();
      expect(seriesOf(snapshot, 'http_requests')).toEqual([
        [{ method: 'GET', status: '200' }, 1],
        [{ method: 'GET', status: '' }, 1],
      ]);
      expect(() => JSON.stringify(snapshot)).not.toThrow();
    });

    it('records labels() on a probe declared without labels into its unlabelled series, counted and warned once per probe', async () => {
      const warnings = labelWarnings();
      p = createProbe();
      const c = p.counter({ name: 'plain' });
      const m = p.meter({ name: 'plain_meter' });
      const h = p.histogram({ name: 'plain_histogram' });
      c.labels(any({ a: 'x' })).inc();
      c.labels(any({})).inc();
      m.labels(any({})).mark();
      h.labels(any({})).observe(1);
      expect(c.val()).toBe(2);
      expect(m.total()).toBe(1);
      expect(h.val().count).toBe(1);
      expect(selfCount(p, 'probekit_invalid_labels', 'plain')).toBe(2);
      expect(selfCount(p, 'probekit_invalid_labels', 'plain_meter')).toBe(1);
      expect(selfCount(p, 'probekit_invalid_labels', 'plain_histogram')).toBe(1);
      await tick();
      const why = 'it declares no labels; declare them with the "labels" option; the call records into the unlabelled series';
      expect(warnings).toEqual([
        `probekit: counter "plain".labels(): ${why} ${tail}`,
        `probekit: meter "plain_meter".labels(): ${why} ${tail}`,
        `probekit: histogram "plain_histogram".labels(): ${why} ${tail}`,
      ]);
    });

    it('applies the cardinality cap to the fallback series like any other', () => {
      p = createProbe({ maxSeriesPerMetric: 1 });
      const c = p.counter({ name: 'capped', labels: ['k'] });
      c.labels({ k: 'a' }).inc();
      c.labels(any({})).inc();
      expect(seriesOf(p.snapshot(), 'capped')).toEqual([
        [{ k: 'a' }, 1],
        [{ k: OVERFLOW_LABEL_VALUE }, 1],
      ]);
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
