import { createServer, get as httpGet, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type MetricsHandler, type Probe, probe, prometheus, type TextOptions } from '../../src/index.js';
import { bad, rejection, thrown, expectError } from '../support/helpers.js';

// ---------------------------------------------------------------------------------------
// Bookkeeping: every registry and server a test makes is released after it.
// ---------------------------------------------------------------------------------------

const probes: Probe[] = [];
const registries: client.Registry[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const p of probes.splice(0)) p.close();
  for (const r of registries.splice(0)) r.clear();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
});

/** An isolated probekit registry on a hand-moved clock, closed after the test. */
function makeProbe(clock?: () => number): Probe {
  const p = createProbe(clock === undefined ? {} : { clock });
  probes.push(p);
  return p;
}

/** A prom-client registry, cleared after the test. */
function makeRegistry(): client.Registry {
  const r = new client.Registry();
  registries.push(r);
  return r;
}

/** Joins lines into an exposition: every line ends with `\n`. */
const lines = (...ls: string[]): string => ls.map((l) => `${l}\n`).join('');

// HELP texts of the self-metrics every probekit registry carries.
const DROPPED_HELP =
  'Values that recording calls dropped (NaN, infinite, non-number, negative increments, overflow past Number.MAX_VALUE, dec() on a monotonic counter), by metric';
const INVALID_LABELS_HELP = "labels() calls given a missing, unusable or unknown label, recorded with the fallback value '', by metric";
const FOLDED_HELP = 'Calls whose new label set was folded into the overflow series by the cardinality cap (or that a value function reported beyond it), by metric';
const FAILED_HELP = 'Metric value functions that threw, rejected or returned an unusable value, by metric';
const EXPORTER_HELP = 'Exporter failures (scrape, send, serialisation), by exporter';
const OMITTED_HELP = 'Samples a format cannot carry, left out of a scrape (OpenMetrics: a _sum beside negative values, a negative quantile), by exporter';

/** The self-metric families of a registry in which nothing was dropped, folded or failed. */
const SELF_TEXT = lines(
  `# HELP probekit_dropped_values_total ${DROPPED_HELP}`,
  '# TYPE probekit_dropped_values_total counter',
  `# HELP probekit_folded_label_sets_total ${FOLDED_HELP}`,
  '# TYPE probekit_folded_label_sets_total counter',
  `# HELP probekit_failed_reads_total ${FAILED_HELP}`,
  '# TYPE probekit_failed_reads_total counter',
  `# HELP probekit_invalid_labels_total ${INVALID_LABELS_HELP}`,
  '# TYPE probekit_invalid_labels_total counter',
  `# HELP probekit_exporter_errors_total ${EXPORTER_HELP}`,
  '# TYPE probekit_exporter_errors_total counter',
  `# HELP probekit_exporter_omitted_total ${OMITTED_HELP}`,
  '# TYPE probekit_exporter_omitted_total counter',
);
const SELF_OM = lines(
  '# TYPE probekit_dropped_values counter',
  `# HELP probekit_dropped_values ${DROPPED_HELP}`,
  '# TYPE probekit_folded_label_sets counter',
  `# HELP probekit_folded_label_sets ${FOLDED_HELP}`,
  '# TYPE probekit_failed_reads counter',
  `# HELP probekit_failed_reads ${FAILED_HELP}`,
  '# TYPE probekit_invalid_labels counter',
  `# HELP probekit_invalid_labels ${INVALID_LABELS_HELP}`,
  '# TYPE probekit_exporter_errors counter',
  `# HELP probekit_exporter_errors ${EXPORTER_HELP}`,
  '# TYPE probekit_exporter_omitted counter',
  `# HELP probekit_exporter_omitted ${OMITTED_HELP}`,
);

// ---------------------------------------------------------------------------------------
// The golden registry: one of every probe kind and value type, read at a fixed time.
// ---------------------------------------------------------------------------------------

const T0 = 1_000_000;

function goldenRegistry(): Probe {
  let t = T0;
  const p = makeProbe(() => t);
  const requests = p.counter({
    name: 'http requests',
    monotonic: true,
    labels: ['method', 'path'],
    help: 'Requests served, by "method"\nand path \\ route',
  });
  requests.labels({ method: 'GET', path: '/say "hi"' }).inc(3);
  requests.labels({ method: 'POST', path: 'C:\\temp\\x' }).inc();
  requests.labels({ method: 'PUT', path: 'line1\nline2' }).inc(2);
  requests.labels({ method: 'GET', path: '/ünïcødé/日本語/🚀' }).inc();

  const active = p.counter({ name: 'Active requests' });
  active.inc(5);
  active.dec(2);

  // 30 calls at 1.5 s and 12 at 45.5 s; read at 90 s, the 60 s window (30 s, 90 s] holds
  // only the 12: 12 calls in 60 s is 12 per minute. The total keeps all 42.
  const calls = p.meter({ name: 'Calls per minute', samples: 60, help: 'Calls made' });
  t = T0 + 1_500;
  calls.mark(30);
  t = T0 + 45_500;
  calls.mark(12);
  t = T0 + 90_000;

  // Buckets 5, 25, 100, 500 ms → 0.005, 0.025, 0.1, 0.5 s. Sum 3+20+20+80+250+1200 = 1573 ms.
  const latency = p.histogram({ name: 'Request latency', unit: 'ms', buckets: [5, 25, 100, 500], help: 'Time to first byte' });
  for (const v of [3, 20, 20, 80, 250, 1200]) latency.observe(v);

  p.metric({ name: 'version', value: 'v1.2.3 "stable"' });
  p.metric({ name: 'Heap used', unit: 'MB', value: 12.5 });
  p.metric({ name: 'started at', value: new Date(1_700_000_000_500) });
  p.metric({ name: 'healthy', value: true });
  p.metric({ name: 'maintenance', value: false });
  p.metric({
    name: 'Broken gauge',
    value: () => {
      throw new Error('pool closed');
    },
  });
  p.metric({ name: 'pending' });
  return p;
}

const GOLDEN_TEXT = lines(
  String.raw`# HELP http_requests_total http requests: Requests served, by "method"\nand path \\ route`,
  '# TYPE http_requests_total counter',
  String.raw`http_requests_total{method="GET",path="/say \"hi\""} 3`,
  String.raw`http_requests_total{method="POST",path="C:\\temp\\x"} 1`,
  String.raw`http_requests_total{method="PUT",path="line1\nline2"} 2`,
  'http_requests_total{method="GET",path="/ünïcødé/日本語/🚀"} 1',
  '# HELP active_requests Active requests',
  '# TYPE active_requests gauge',
  'active_requests 3',
  '# HELP calls_per_minute Calls per minute: Calls made — events per 60 s over the last 60 s',
  '# TYPE calls_per_minute gauge',
  'calls_per_minute 12',
  '# HELP calls_per_minute_events_total Calls per minute: Calls made — events since start',
  '# TYPE calls_per_minute_events_total counter',
  'calls_per_minute_events_total 42',
  '# HELP request_latency_seconds Request latency: Time to first byte',
  '# TYPE request_latency_seconds histogram',
  'request_latency_seconds_bucket{le="0.005"} 1',
  'request_latency_seconds_bucket{le="0.025"} 3',
  'request_latency_seconds_bucket{le="0.1"} 4',
  'request_latency_seconds_bucket{le="0.5"} 5',
  'request_latency_seconds_bucket{le="+Inf"} 6',
  'request_latency_seconds_count 6',
  'request_latency_seconds_sum 1.573',
  '# HELP version_info version',
  '# TYPE version_info gauge',
  String.raw`version_info{value="v1.2.3 \"stable\""} 1`,
  '# HELP heap_used Heap used (MB)',
  '# TYPE heap_used gauge',
  'heap_used 12.5',
  '# HELP started_at started at',
  '# TYPE started_at gauge',
  'started_at 1700000000.5',
  '# HELP healthy healthy',
  '# TYPE healthy gauge',
  'healthy 1',
  '# HELP maintenance maintenance',
  '# TYPE maintenance gauge',
  'maintenance 0',
  `# HELP probekit_dropped_values_total ${DROPPED_HELP}`,
  '# TYPE probekit_dropped_values_total counter',
  `# HELP probekit_folded_label_sets_total ${FOLDED_HELP}`,
  '# TYPE probekit_folded_label_sets_total counter',
  `# HELP probekit_failed_reads_total ${FAILED_HELP}`,
  '# TYPE probekit_failed_reads_total counter',
  'probekit_failed_reads_total{metric="broken_gauge"} 1',
  `# HELP probekit_invalid_labels_total ${INVALID_LABELS_HELP}`,
  '# TYPE probekit_invalid_labels_total counter',
  `# HELP probekit_exporter_errors_total ${EXPORTER_HELP}`,
  '# TYPE probekit_exporter_errors_total counter',
  `# HELP probekit_exporter_omitted_total ${OMITTED_HELP}`,
  '# TYPE probekit_exporter_omitted_total counter',
);

const GOLDEN_OM = lines(
  '# TYPE http_requests counter',
  String.raw`# HELP http_requests http requests: Requests served, by \"method\"\nand path \\ route`,
  String.raw`http_requests_total{method="GET",path="/say \"hi\""} 3`,
  String.raw`http_requests_total{method="POST",path="C:\\temp\\x"} 1`,
  String.raw`http_requests_total{method="PUT",path="line1\nline2"} 2`,
  'http_requests_total{method="GET",path="/ünïcødé/日本語/🚀"} 1',
  '# TYPE active_requests gauge',
  '# HELP active_requests Active requests',
  'active_requests 3',
  '# TYPE calls_per_minute gauge',
  '# HELP calls_per_minute Calls per minute: Calls made — events per 60 s over the last 60 s',
  'calls_per_minute 12',
  '# TYPE calls_per_minute_events counter',
  '# HELP calls_per_minute_events Calls per minute: Calls made — events since start',
  'calls_per_minute_events_total 42',
  '# TYPE request_latency_seconds histogram',
  '# UNIT request_latency_seconds seconds',
  '# HELP request_latency_seconds Request latency: Time to first byte',
  'request_latency_seconds_bucket{le="0.005"} 1',
  'request_latency_seconds_bucket{le="0.025"} 3',
  'request_latency_seconds_bucket{le="0.1"} 4',
  'request_latency_seconds_bucket{le="0.5"} 5',
  'request_latency_seconds_bucket{le="+Inf"} 6',
  'request_latency_seconds_count 6',
  'request_latency_seconds_sum 1.573',
  '# TYPE version info',
  '# HELP version version',
  String.raw`version_info{value="v1.2.3 \"stable\""} 1`,
  '# TYPE heap_used gauge',
  '# HELP heap_used Heap used (MB)',
  'heap_used 12.5',
  '# TYPE started_at gauge',
  '# HELP started_at started at',
  'started_at 1700000000.5',
  '# TYPE healthy gauge',
  '# HELP healthy healthy',
  'healthy 1',
  '# TYPE maintenance gauge',
  '# HELP maintenance maintenance',
  'maintenance 0',
  '# TYPE probekit_dropped_values counter',
  `# HELP probekit_dropped_values ${DROPPED_HELP}`,
  '# TYPE probekit_folded_label_sets counter',
  `# HELP probekit_folded_label_sets ${FOLDED_HELP}`,
  '# TYPE probekit_failed_reads counter',
  `# HELP probekit_failed_reads ${FAILED_HELP}`,
  'probekit_failed_reads_total{metric="broken_gauge"} 1',
  '# TYPE probekit_invalid_labels counter',
  `# HELP probekit_invalid_labels ${INVALID_LABELS_HELP}`,
  '# TYPE probekit_exporter_errors counter',
  `# HELP probekit_exporter_errors ${EXPORTER_HELP}`,
  '# TYPE probekit_exporter_omitted counter',
  `# HELP probekit_exporter_omitted ${OMITTED_HELP}`,
  '# EOF',
);

// ---------------------------------------------------------------------------------------
// A small parser of both formats, strict about what it accepts, for structural checks.
// ---------------------------------------------------------------------------------------

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: string;
}

interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly samples: Sample[];
}

/** Parses one sample line; throws on an unknown escape or an unterminated label value. */
function parseSample(line: string): Sample {
  let i = 0;
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
  const name = line.slice(0, i);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq === -1 || line[eq + 1] !== '"') throw new Error(`bad label in: ${line}`);
      const key = line.slice(i, eq);
      let j = eq + 2;
      let value = '';
      while (line[j] !== '"') {
        if (j >= line.length) throw new Error(`unterminated label value in: ${line}`);
        if (line[j] === '\\') {
          const next = line[j + 1];
          if (next === 'n') value += '\n';
          else if (next === '\\' || next === '"') value += next;
          else throw new Error(`unknown escape \\${String(next)} in: ${line}`);
          j += 2;
        } else {
          value += line[j];
          j++;
        }
      }
      if (key in labels) throw new Error(`label ${key} twice in: ${line}`);
      labels[key] = value;
      i = j + 1;
      if (line[i] === ',') i++;
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error(`no value in: ${line}`);
  return { name, labels, value: line.slice(i + 1) };
}

/** Suffixes a sample may add to its family name, per format and type. */
function sampleSuffixes(type: string, openMetrics: boolean): readonly string[] {
  if (openMetrics) {
    switch (type) {
      case 'counter':
        return ['_total', '_created'];
      case 'info':
        return ['_info'];
      case 'histogram':
        return ['_bucket', '_count', '_sum', '_created'];
      case 'summary':
        return ['', '_count', '_sum', '_created'];
      default:
        return [''];
    }
  }
  if (type === 'histogram') return ['_bucket', '_count', '_sum'];
  if (type === 'summary') return ['', '_count', '_sum'];
  return [''];
}

/**
 * Parses an exposition into families, checking that every sample belongs to the family
 * declared above it, that no family is declared twice and no series appears twice, and
 * that an OpenMetrics exposition ends with exactly one `# EOF`.
 */
function parse(text: string, openMetrics: boolean): ParsedFamily[] {
  expect(text.endsWith('\n')).toBe(true);
  const all = text.slice(0, -1).split('\n');
  if (openMetrics) {
    expect(all.at(-1)).toBe('# EOF');
    all.pop();
  }
  const families: ParsedFamily[] = [];
  const series = new Set<string>();
  let current: ParsedFamily | undefined;
  for (const line of all) {
    expect(line).not.toBe('');
    expect(line).not.toBe('# EOF');
    if (line.startsWith('# TYPE ')) {
      const [name = '', type = '', ...rest] = line.slice(7).split(' ');
      expect(rest).toEqual([]);
      current = { name, type, samples: [] };
      families.push(current);
      continue;
    }
    if (line.startsWith('# HELP ') || line.startsWith('# UNIT ')) {
      const name = line.slice(7).split(' ')[0];
      // Text 0.0.4 writes HELP before TYPE; OpenMetrics writes TYPE first.
      if (openMetrics || line.startsWith('# UNIT ')) expect(name).toBe(current?.name);
      continue;
    }
    expect(line.startsWith('#')).toBe(false);
    if (current === undefined) throw new Error(`sample before any # TYPE: ${line}`);
    const sample = parseSample(line);
    const family = current;
    const suffix = sampleSuffixes(family.type, openMetrics).find((s) => sample.name === `${family.name}${s}`);
    if (suffix === undefined) throw new Error(`sample ${sample.name} does not belong to the ${family.type} family ${family.name}`);
    const id = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (series.has(id)) throw new Error(`series written twice: ${line}`);
    series.add(id);
    family.samples.push(sample);
  }
  const names = families.map((f) => f.name);
  expect(names.filter((n, k) => names.indexOf(n) !== k)).toEqual([]);
  return families;
}

/** Sample lines (neither comments nor `# EOF`). */
function sampleLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * Checks every histogram family: per series, `le` strictly increasing and ending at
 * +Inf, cumulative counts never decreasing, the +Inf bucket equal to `_count`, and a
 * `_sum`. Returns how many series were checked.
 */
function checkHistograms(families: readonly ParsedFamily[]): number {
  let checked = 0;
  for (const family of families.filter((f) => f.type === 'histogram')) {
    const groups = new Map<string, { les: number[]; counts: number[]; count?: number; sum?: number }>();
    for (const s of family.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      const g = groups.get(key) ?? { les: [], counts: [] };
      groups.set(key, g);
      if (s.name === `${family.name}_bucket`) {
        expect(le).toBeDefined();
        g.les.push(le === '+Inf' ? Infinity : Number(le));
        g.counts.push(Number(s.value));
      } else {
        expect(le).toBeUndefined();
        if (s.name === `${family.name}_count`) g.count = Number(s.value);
        else g.sum = Number(s.value);
      }
    }
    for (const [key, g] of groups) {
      const where = `${family.name}${key}`;
      expect(g.les.length, where).toBeGreaterThan(0);
      expect(g.les.every((b) => !Number.isNaN(b)), where).toBe(true);
      for (let k = 1; k < g.les.length; k++) {
        expect(g.les[k], where).toBeGreaterThan(g.les[k - 1] as number);
        expect(g.counts[k], where).toBeGreaterThanOrEqual(g.counts[k - 1] as number);
      }
      expect(g.les.at(-1), where).toBe(Infinity);
      expect(g.counts.at(-1), where).toBe(g.count);
      expect(g.sum, where).toBeTypeOf('number');
      checked++;
    }
  }
  return checked;
}

// ---------------------------------------------------------------------------------------
// HTTP helpers for the handler tests (node:http, a server per test on 127.0.0.1:0).
// ---------------------------------------------------------------------------------------

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Mounts `handler` in a node:http server on 127.0.0.1 and returns its port. */
async function mount(handler: MetricsHandler): Promise<number> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** GET / on the port, with a bounded wait. */
function scrape(port: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('scrape timed out')));
    req.on('error', reject);
  });
}

/** The value of `probekit_exporter_errors_total{exporter}` in a registry's snapshot; undefined without a series. */
function exporterErrors(p: Probe, exporter = 'prometheus'): number | undefined {
  const family = p.snapshot().metrics.find((f) => f.exportName === 'probekit_exporter_errors');
  if (family === undefined || family.kind !== 'counter') throw new Error('no probekit_exporter_errors family');
  return family.series.find((s) => s.labels.exporter === exporter)?.value;
}


const FORMATS = [
  {
    format: 'the text format 0.0.4',
    openMetrics: false,
    golden: GOLDEN_TEXT,
    self: SELF_TEXT,
    eof: '',
    // The line after which probekit_failed_reads_total samples are written.
    failedReadsHeader: '# TYPE probekit_failed_reads_total counter\n',
  },
  {
    format: 'OpenMetrics 1.0',
    openMetrics: true,
    golden: GOLDEN_OM,
    self: SELF_OM,
    eof: '# EOF\n',
    failedReadsHeader: `# HELP probekit_failed_reads ${FAILED_HELP}\n`,
  },
] as const;

// ---------------------------------------------------------------------------------------

describe.each(FORMATS)('prometheus.text() in $format', ({ openMetrics, golden, self, eof, failedReadsHeader }) => {
  const text = (options: TextOptions = {}): Promise<string> => prometheus.text({ ...options, openMetrics });

  it('writes every probe kind and value type exactly as the golden exposition', async () => {
    expect(await text({ registry: goldenRegistry() })).toBe(golden);
  });

  it('writes the same exposition on a second scrape, apart from the failed read counted again', async () => {
    const p = goldenRegistry();
    await text({ registry: p });
    expect(await text({ registry: p })).toBe(golden.replace('probekit_failed_reads_total{metric="broken_gauge"} 1', 'probekit_failed_reads_total{metric="broken_gauge"} 2'));
  });

  it(openMetrics ? 'ends with exactly one "# EOF" line' : 'has no "# EOF" line', async () => {
    const out = await text({ registry: goldenRegistry() });
    expect(out.split('\n').filter((l) => l === '# EOF')).toHaveLength(openMetrics ? 1 : 0);
    expect(out.endsWith(openMetrics ? '\n# EOF\n' : '\n')).toBe(true);
  });

  it('passes its own structural parse: samples under their family, no family or series twice, valid escapes', async () => {
    const families = parse(await text({ registry: goldenRegistry() }), openMetrics);
    expect(checkHistograms(families)).toBe(1);
  });

  it('writes nothing for a registry holding only an unset metric and a failing metric, except the failure count', async () => {
    const p = makeProbe(() => 0);
    p.metric({ name: 'unset' });
    p.metric({ name: 'nan', value: () => NaN });
    expect(await text({ registry: p })).toBe(`${self.replace(failedReadsHeader, `${failedReadsHeader}probekit_failed_reads_total{metric="nan"} 1\n`)}${eof}`);
  });

  it('escapes backslash and newline in HELP, and the double quote only in OpenMetrics', async () => {
    const p = makeProbe(() => 0);
    p.counter({ name: 'c', help: 'a \\ b\nc "d"' }).inc();
    const out = await text({ registry: p });
    expect(out.startsWith(openMetrics ? lines('# TYPE c gauge', String.raw`# HELP c a \\ b\nc \"d\"`, 'c 1') : lines(String.raw`# HELP c a \\ b\nc "d"`, '# TYPE c gauge', 'c 1'))).toBe(true);
  });

  it('carries the human name in HELP, before the help text when both are given', async () => {
    const p = makeProbe(() => 0);
    p.counter({ name: 'Calls per minute' }).inc();
    p.counter({ name: 'errors', help: 'Errors seen' }).inc();
    p.counter({ name: 'Queue length', help: 'Jobs waiting' }).inc();
    const helps = (await text({ registry: p })).split('\n').filter((l) => l.startsWith('# HELP ') && !l.includes('probekit_'));
    expect(helps).toEqual(['# HELP calls_per_minute Calls per minute', '# HELP errors Errors seen', '# HELP queue_length Queue length: Jobs waiting']);
  });

  it('escapes quotes, backslashes and newlines in label values and passes unicode through as UTF-8', async () => {
    const p = makeProbe(() => 0);
    const c = p.counter({ name: 'hits', monotonic: true, labels: ['v'] });
    const values = ['plain', 'say "hi"', 'C:\\dir\\', 'two\nlines', '\\"\n', 'ünï 日本 🚀', '', 'a}b{c=d,e', '\\n is not a newline'];
    for (const v of values) c.labels({ v }).inc();
    const out = await text({ registry: p });
    expect(sampleLines(out).filter((l) => l.startsWith('hits_total'))).toEqual([
      'hits_total{v="plain"} 1',
      String.raw`hits_total{v="say \"hi\""} 1`,
      String.raw`hits_total{v="C:\\dir\\"} 1`,
      String.raw`hits_total{v="two\nlines"} 1`,
      String.raw`hits_total{v="\\\"\n"} 1`,
      'hits_total{v="ünï 日本 🚀"} 1',
      'hits_total{v=""} 1',
      'hits_total{v="a}b{c=d,e"} 1',
      String.raw`hits_total{v="\\n is not a newline"} 1`,
    ]);
    // Parsing the lines back gives the original values.
    const family = parse(out, openMetrics).find((f) => f.name === (openMetrics ? 'hits' : 'hits_total'));
    expect(family?.samples.map((s) => s.labels.v)).toEqual(values);
  });

  it('keeps every histogram cumulative with le="+Inf" equal to _count, for labelled series and values on the bounds', async () => {
    let t = T0;
    const p = makeProbe(() => t);
    const h = p.histogram({ name: 'latency', unit: 'ms', buckets: [0.1, 1, 10, 25, 100, 250], labels: ['route'] });
    // Values exactly on a bound belong to that bound's bucket (le is inclusive).
    for (const v of [0.1, 0.1000001, 1, 10, 9.999999, 10.000001, 25, 100, 250, 250.0001, 0, 9000]) h.labels({ route: '/edges' }).observe(v);
    let seed = 7;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 400;
    for (let k = 0; k < 1000; k++) {
      t += 10;
      h.labels({ route: `/r${k % 3}` }).observe(random());
    }
    const out = await text({ registry: p });
    expect(checkHistograms(parse(out, openMetrics))).toBe(4);
    expect(sampleLines(out).filter((l) => l.includes('route="/edges"'))).toEqual([
      'latency_seconds_bucket{route="/edges",le="0.0001"} 2',
      'latency_seconds_bucket{route="/edges",le="0.001"} 4',
      'latency_seconds_bucket{route="/edges",le="0.01"} 6',
      'latency_seconds_bucket{route="/edges",le="0.025"} 8',
      'latency_seconds_bucket{route="/edges",le="0.1"} 9',
      'latency_seconds_bucket{route="/edges",le="0.25"} 10',
      'latency_seconds_bucket{route="/edges",le="+Inf"} 12',
      'latency_seconds_count{route="/edges"} 12',
      `latency_seconds_sum{route="/edges"} ${(0.1 + 0.1000001 + 1 + 10 + 9.999999 + 10.000001 + 25 + 100 + 250 + 250.0001 + 0 + 9000) * 0.001}`,
    ]);
  });

  it('leaves a histogram without a time unit in its own unit, with the unit in HELP and no # UNIT line', async () => {
    const p = makeProbe(() => 0);
    p.histogram({ name: 'payload', unit: 'bytes', buckets: [100, 1000] }).observe(512);
    const out = await text({ registry: p });
    const head = openMetrics ? lines('# TYPE payload histogram', '# HELP payload payload (bytes)') : lines('# HELP payload payload (bytes)', '# TYPE payload histogram');
    // OpenMetrics writes le canonically (100.0); the text format 0.0.4 as the number prints.
    const [le1, le2] = openMetrics ? ['100.0', '1000.0'] : ['100', '1000'];
    expect(out.startsWith(`${head}${lines(`payload_bucket{le="${le1}"} 0`, `payload_bucket{le="${le2}"} 1`, 'payload_bucket{le="+Inf"} 1', 'payload_count 1', 'payload_sum 512')}`)).toBe(true);
    expect(out).not.toContain('# UNIT');
  });

  it('adds the window percentiles as a <name>_window summary with windowQuantiles: true, and drops them when the window empties', async () => {
    let t = T0;
    const p = makeProbe(() => t);
    const h = p.histogram({ name: 'Request latency', unit: 'ms', buckets: [10, 100], percentiles: [0.5, 0.99], labels: ['route'] });
    // All equal values: every percentile is exactly the value (clamped to min and max).
    for (let k = 0; k < 3; k++) h.labels({ route: '/a' }).observe(20);
    h.labels({ route: '/b' }).observe(250);
    const windowHelp = 'Request latency (seconds) — percentiles over the sliding window';
    const head = openMetrics
      ? lines('# TYPE request_latency_seconds_window summary', `# HELP request_latency_seconds_window ${windowHelp}`)
      : lines(`# HELP request_latency_seconds_window ${windowHelp}`, '# TYPE request_latency_seconds_window summary');
    const windowFamily = (out: string): string => {
      const start = out.indexOf(head);
      expect(start).toBeGreaterThan(0);
      const end = out.indexOf('# ', start + head.length);
      return out.slice(start, end);
    };
    const full = await text({ registry: p, windowQuantiles: true });
    expect(windowFamily(full)).toBe(
      head +
        lines(
          'request_latency_seconds_window{route="/a",quantile="0.5"} 0.02',
          'request_latency_seconds_window{route="/a",quantile="0.99"} 0.02',
          'request_latency_seconds_window_sum{route="/a"} 0.06',
          'request_latency_seconds_window_count{route="/a"} 3',
          'request_latency_seconds_window{route="/b",quantile="0.5"} 0.25',
          'request_latency_seconds_window{route="/b",quantile="0.99"} 0.25',
          'request_latency_seconds_window_sum{route="/b"} 0.25',
          'request_latency_seconds_window_count{route="/b"} 1',
        ),
    );
    parse(full, openMetrics);
    // 70 s later the 60 s window is empty: no quantiles, the cumulative sum and count stay.
    t += 70_000;
    expect(windowFamily(await text({ registry: p, windowQuantiles: true }))).toBe(
      head +
        lines(
          'request_latency_seconds_window_sum{route="/a"} 0.06',
          'request_latency_seconds_window_count{route="/a"} 3',
          'request_latency_seconds_window_sum{route="/b"} 0.25',
          'request_latency_seconds_window_count{route="/b"} 1',
        ),
    );
    // Off by default.
    expect(await text({ registry: p })).not.toContain('_window');
  });

  it('writes a merged prom-client registry (counter, gauge, histogram, summary) after the probekit families', async () => {
    const p = makeProbe(() => 0);
    p.counter({ name: 'app jobs', monotonic: true }).inc(2);
    const reg = makeRegistry();
    new client.Counter({ name: 'legacy_jobs_total', help: 'Jobs "legacy"\nqueue \\ x', labelNames: ['queue'], registers: [reg] }).inc({ queue: 'a"b' }, 3);
    new client.Gauge({ name: 'legacy_temp', help: 'Temperature', registers: [reg] }).set(21.5);
    const h = new client.Histogram({ name: 'legacy_duration_seconds', help: 'Duration', buckets: [0.1, 1], labelNames: ['r'], registers: [reg] });
    h.observe({ r: 'x' }, 0.05);
    h.observe({ r: 'x' }, 0.5);
    h.observe({ r: 'x' }, 5);
    const s = new client.Summary({ name: 'legacy_size', help: 'Size', percentiles: [0.5, 0.9], registers: [reg] });
    s.observe(1);
    s.observe(3);
    const appJobs = openMetrics ? lines('# TYPE app_jobs counter', '# HELP app_jobs app jobs', 'app_jobs_total 2') : lines('# HELP app_jobs_total app jobs', '# TYPE app_jobs_total counter', 'app_jobs_total 2');
    const legacy = openMetrics
      ? lines(
          '# TYPE legacy_jobs counter',
          String.raw`# HELP legacy_jobs Jobs \"legacy\"\nqueue \\ x`,
          String.raw`legacy_jobs_total{queue="a\"b"} 3`,
          '# TYPE legacy_temp gauge',
          '# HELP legacy_temp Temperature',
          'legacy_temp 21.5',
          '# TYPE legacy_duration_seconds histogram',
          '# HELP legacy_duration_seconds Duration',
        )
      : lines(
          String.raw`# HELP legacy_jobs_total Jobs "legacy"\nqueue \\ x`,
          '# TYPE legacy_jobs_total counter',
          String.raw`legacy_jobs_total{queue="a\"b"} 3`,
          '# HELP legacy_temp Temperature',
          '# TYPE legacy_temp gauge',
          'legacy_temp 21.5',
          '# HELP legacy_duration_seconds Duration',
          '# TYPE legacy_duration_seconds histogram',
        );
    const rest = lines(
      'legacy_duration_seconds_bucket{r="x",le="0.1"} 1',
      'legacy_duration_seconds_bucket{r="x",le="1"} 2',
      'legacy_duration_seconds_bucket{r="x",le="+Inf"} 3',
      'legacy_duration_seconds_sum{r="x"} 5.55',
      'legacy_duration_seconds_count{r="x"} 3',
    );
    const summary = openMetrics ? lines('# TYPE legacy_size summary', '# HELP legacy_size Size') : lines('# HELP legacy_size Size', '# TYPE legacy_size summary');
    const quantiles = lines('legacy_size{quantile="0.5"} 2', 'legacy_size{quantile="0.9"} 3', 'legacy_size_sum 4', 'legacy_size_count 2');
    const out = await text({ registry: [p, reg] });
    expect(out).toBe(`${appJobs}${self}${legacy}${rest}${summary}${quantiles}${eof}`);
    expect(checkHistograms(parse(out, openMetrics))).toBe(1);
  });

  it('adds prom-client default metrics to the same output with defaultMetrics: true', async () => {
    const p = makeProbe(() => 0);
    p.counter({ name: 'mine' }).inc();
    const out = await text({ registry: p, defaultMetrics: true });
    expect(out.startsWith(openMetrics ? lines('# TYPE mine gauge', '# HELP mine mine', 'mine 1') : lines('# HELP mine mine', '# TYPE mine gauge', 'mine 1'))).toBe(true);
    expect(out).toContain(openMetrics ? '\n# TYPE process_cpu_user_seconds counter\n' : '\n# TYPE process_cpu_user_seconds_total counter\n');
    expect(out).toMatch(/\nprocess_cpu_user_seconds_total \d+(\.\d+)?(e-\d+)?\n/);
    expect(out).toContain('\n# TYPE nodejs_heap_size_total_bytes gauge\n');
    expect(out).toMatch(/\nnodejs_heap_size_total_bytes [1-9]\d*\n/);
    expect(out.endsWith(openMetrics ? '\n# EOF\n' : '\n')).toBe(true);
    checkHistograms(parse(out, openMetrics));
    // Off by default.
    expect(await text({ registry: p })).not.toContain('process_cpu_user_seconds_total');
  });

  it('passes the prefix of the defaultMetrics object to the runtime metrics that serve it', async () => {
    const out = await text({ registry: makeProbe(() => 0), defaultMetrics: { prefix: 'svc_', eventLoopMonitoringPrecision: 10 } });
    expect(out).toMatch(/\nsvc_process_cpu_user_seconds_total \d/);
    expect(out).not.toMatch(/\nprocess_cpu_user_seconds_total /);
  });

  it("serves defaultMetrics with probekit's runtime metrics under prom-client's names: no prom-client default family is left out or doubled", async () => {
    const out = await text({ registry: makeProbe(() => 0), defaultMetrics: true });
    const types = [...out.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
    expect(types.length).toBe(new Set(types).size);
    // prom-client 15's default families that probekit serves (handles and requests need
    // private APIs: left out); the event-loop lag figures appear once the first window ended.
    const promClient = [
      'process_cpu_user_seconds',
      'process_cpu_system_seconds',
      'process_cpu_seconds',
      'process_start_time_seconds',
      'process_resident_memory_bytes',
      'process_open_fds',
      'process_max_fds',
      'nodejs_active_resources',
      'nodejs_active_resources_total',
      'nodejs_heap_size_total_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_external_memory_bytes',
      'nodejs_heap_space_size_used_bytes',
      'nodejs_version_info',
      'nodejs_gc_duration_seconds',
    ].map((n) => (!openMetrics && ['process_cpu_user_seconds', 'process_cpu_system_seconds', 'process_cpu_seconds'].includes(n) ? `${n}_total` : n));
    expect(promClient.filter((n) => !types.includes(n))).toEqual([]);
  });

  it('never declares a family twice in a large mixed exposition (every probe kind, windows, prom-client, default metrics)', async () => {
    const p = goldenRegistry();
    const h = p.histogram({ name: 'db query', unit: 's', labels: ['table'] });
    for (const table of ['a', 'b', 'c']) for (let k = 1; k <= 20; k++) h.labels({ table }).observe(k / 7);
    const m = p.meter({ name: 'jobs', labels: ['queue'] });
    for (const queue of ['x', 'y']) m.labels({ queue }).mark(3);
    p.counter({ name: 'bad', monotonic: true }).inc(-1); // a dropped value: a self-metric series
    const reg = makeRegistry();
    new client.Counter({ name: 'legacy_jobs_total', help: 'Jobs', registers: [reg] }).inc();
    new client.Gauge({ name: 'legacy_temp', help: 'Temperature', registers: [reg] }).set(1);
    new client.Histogram({ name: 'legacy_duration_seconds', help: 'Duration', registers: [reg] }).observe(0.2);
    new client.Summary({ name: 'legacy_size', help: 'Size', registers: [reg] }).observe(4);
    const out = await text({ registry: [p, reg], defaultMetrics: true, windowQuantiles: true });
    const families = parse(out, openMetrics);
    expect(families.length).toBeGreaterThan(40);
    // The golden histogram, db_query_seconds (3 series), legacy_duration_seconds and nodejs_gc_duration_seconds (any GC kinds seen).
    expect(checkHistograms(families)).toBeGreaterThanOrEqual(5);
    // The default metrics' GC pauses are a probekit histogram now: they have a window family too.
    expect(families.filter((f) => f.type === 'summary').map((f) => f.name)).toEqual([
      'request_latency_seconds_window',
      'db_query_seconds_window',
      'legacy_size',
      'nodejs_gc_duration_seconds_window',
    ]);
  });

  it('reads the default probe when no registry is given', async () => {
    const marker = probe.counter({ name: 'default_registry_marker' });
    marker.reset();
    marker.inc(7);
    expect(await text()).toContain(openMetrics ? '\n# HELP default_registry_marker default_registry_marker\ndefault_registry_marker 7\n' : '\n# TYPE default_registry_marker gauge\ndefault_registry_marker 7\n');
  });
});

describe('prometheus.text() on a 100k-series registry', () => {
  it('yields to the event loop while it writes, and writes every sample line', async () => {
    const p = makeProbe();
    // 1000 families of 100 series: within the default cap of 1000 series per metric.
    for (let f = 0; f < 1000; f++) {
      const c = p.counter({ name: `family_${f}`, monotonic: true, labels: ['id'] });
      for (let i = 0; i < 100; i++) c.labels({ id: `series_${i}` }).inc(i + 1);
    }
    let ranFirst = false;
    let turns = 0;
    let done = false;
    setImmediate(() => (ranFirst = true));
    const spin = (): void => {
      if (done) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const out = await prometheus.text({ registry: p });
    const ranBeforeResolve = ranFirst;
    const turnsDuring = turns;
    done = true;
    expect(ranBeforeResolve).toBe(true);
    // A scrape this size takes tens of ms; it yields every 5 ms, so more than once.
    expect(turnsDuring).toBeGreaterThanOrEqual(2);
    const samples = sampleLines(out);
    expect(samples).toHaveLength(100_000);
    expect(samples[0]).toBe('family_0_total{id="series_0"} 1');
    expect(samples.at(-1)).toBe('family_999_total{id="series_99"} 100');
    // 1000 families, then the self-metrics: dropped, folded, failed reads, invalid labels, exporter errors, omitted.
    expect(out.split('\n').filter((l) => l.startsWith('# TYPE ')).length).toBe(1006);
  });
});

describe('family name clashes between registries', () => {
  it('throws a TypeError from text() when a probekit and a prom-client registry expose one family', async () => {
    const p = makeProbe(() => 0);
    p.counter({ name: 'jobs', monotonic: true });
    const reg = makeRegistry();
    new client.Counter({ name: 'jobs_total', help: 'Jobs', registers: [reg] });
    const err = await rejection(prometheus.text({ registry: [p, reg] }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_NAME_CONFLICT' });
    expect(['"jobs_total"', 'registry #1', 'registry #2'].filter((part) => !err.message.includes(part))).toEqual([]);
  });

  it('throws the same TypeError from handler() when it is created, naming the registries in order', () => {
    const p = makeProbe(() => 0);
    p.metric({ name: 'temperature', value: 1 });
    const reg = makeRegistry();
    new client.Gauge({ name: 'temperature', help: 'T', registers: [reg] });
    const err = thrown(() => prometheus.handler({ registry: [reg, p] }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_NAME_CONFLICT' });
    expect(['"temperature"', 'registry #1', 'registry #2'].filter((part) => !err.message.includes(part))).toEqual([]);
  });

  it('throws a TypeError when a probekit family clashes with a default metric', () => {
    const p = makeProbe(() => 0);
    p.metric({ name: 'nodejs_heap_size_total_bytes', value: 1 });
    const err = thrown(() => prometheus.handler({ registry: p, defaultMetrics: true }));
    expectError(err, { type: TypeError, code: 'PROBEKIT_NAME_CONFLICT' });
    expect(['"nodejs_heap_size_total_bytes"', 'registry #1', 'default metrics'].filter((part) => !err.message.includes(part))).toEqual([]);
  });

  it('skips a clash registered in prom-client after the handler was made, reports it to onError and counts it; the scrape succeeds', async () => {
    const p = makeProbe(() => 0);
    p.counter({ name: 'jobs', monotonic: true }).inc();
    const reg = makeRegistry();
    const errors: Error[] = [];
    const handler = prometheus.handler({ registry: [p, reg], onError: (e) => errors.push(e) });
    new client.Counter({ name: 'jobs_total', help: 'Jobs', registers: [reg] }).inc(5);
    new client.Gauge({ name: 'other', help: 'Other', registers: [reg] }).set(1);
    const port = await mount(handler);
    const message = 'probekit: prometheus: the family "jobs_total" is exposed by two registries; the second was left out of the scrape';

    const first = await scrape(port);
    expect(first.status).toBe(200);
    expect(first.body).toBe(`${lines('# HELP jobs_total jobs', '# TYPE jobs_total counter', 'jobs_total 1')}${SELF_TEXT}${lines('# HELP other Other', '# TYPE other gauge', 'other 1')}`);
    expect(errors.map((e) => e.message)).toEqual([message]);
    expect(exporterErrors(p)).toBe(1);

    // The next scrape shows the count (written before the clash is met again).
    const second = await scrape(port);
    expect(second.status).toBe(200);
    expect(second.body).toContain('\nprobekit_exporter_errors_total{exporter="prometheus"} 1\n# HELP probekit_exporter_omitted_total');
    expect(second.body).toContain('# TYPE probekit_exporter_omitted_total counter\n# HELP other Other\n');
    expect(second.body).not.toContain('jobs_total 5');
    expect(errors.map((e) => e.message)).toEqual([message, message]);
    expect(exporterErrors(p)).toBe(2);
  });

  it('exposes two probekit registries listed together, each family once', async () => {
    const a = makeProbe(() => 0);
    a.counter({ name: 'a', monotonic: true }).inc();
    const b = makeProbe(() => 0);
    b.counter({ name: 'b', monotonic: true }).inc(2);
    const out = await prometheus.text({ registry: [a, b] });
    expect(out).toContain('\na_total 1\n');
    expect(out).toContain('\nb_total 2\n');
    parse(out, false);
  });

  it('refuses a prom-client family named like a sample of a probekit histogram (x_sum beside histogram x)', () => {
    const p = makeProbe(() => 0);
    p.histogram({ name: 'x', buckets: [1] }).observe(0.5);
    const reg = makeRegistry();
    new client.Gauge({ name: 'x_sum', help: 'g', registers: [reg] }).set(3);
    const err = thrown(() => prometheus.handler({ registry: [p, reg] }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/^probekit: prometheus: .*"x_sum"/);
  });
});

describe('a prom-client metric whose collect() throws', () => {
  function flaky(): { reg: client.Registry; boom: Error; heal: () => void } {
    const reg = makeRegistry();
    const boom = new Error('collect failed');
    let failing = true;
    new client.Gauge({
      name: 'flaky',
      help: 'Flaky',
      registers: [reg],
      collect() {
        if (failing) throw boom;
        this.set(7);
      },
    });
    return { reg, boom, heal: () => (failing = false) };
  }

  it('rejects text() with that very error, and also reports it to onError and counts it', async () => {
    const p = makeProbe(() => 0);
    const { reg, boom, heal } = flaky();
    const errors: Error[] = [];
    await expect(prometheus.text({ registry: [p, reg], onError: (e) => errors.push(e) })).rejects.toBe(boom);
    expect(errors).toEqual([boom]);
    expect(exporterErrors(p)).toBe(1);
    heal();
    const healed = await prometheus.text({ registry: [p, reg] });
    expect(healed.endsWith(lines('# HELP flaky Flaky', '# TYPE flaky gauge', 'flaky 7'))).toBe(true);
    expect(healed).toContain('\nprobekit_exporter_errors_total{exporter="prometheus"} 1\n');
  });

  it('rejects text() when an async collect() rejects', async () => {
    const reg = makeRegistry();
    new client.Gauge({
      name: 'flaky_async',
      help: 'Flaky',
      registers: [reg],
      async collect() {
        await Promise.resolve();
        throw new Error('async collect failed');
      },
    });
    await expect(prometheus.text({ registry: [makeProbe(() => 0), reg] })).rejects.toThrow('async collect failed');
  });

  it('makes the handler answer 500, call onError with the error and count it, then recover', async () => {
    const p = makeProbe(() => 0);
    const { reg, boom, heal } = flaky();
    const errors: Error[] = [];
    const port = await mount(prometheus.handler({ registry: [p, reg], onError: (e) => errors.push(e) }));
    const failed = await scrape(port);
    expect(failed.status).toBe(500);
    expect(failed.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(failed.body).toBe('probekit: the scrape failed; see the exporter onError option\n');
    expect(errors).toEqual([boom]);
    expect(exporterErrors(p)).toBe(1);
    heal();
    const ok = await scrape(port);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('\nprobekit_exporter_errors_total{exporter="prometheus"} 1\n');
    expect(ok.body.endsWith('\nflaky 7\n')).toBe(true);
  });

  it('answers 500 even when onError itself throws, and never throws into the application', async () => {
    const p = makeProbe(() => 0);
    const { reg } = flaky();
    let calls = 0;
    const handler = prometheus.handler({
      registry: [p, reg],
      onError: () => {
        calls++;
        throw new Error('onError is broken too');
      },
    });
    const port = await mount(handler);
    expect((await scrape(port)).status).toBe(500);
    expect((await scrape(port)).status).toBe(500);
    expect(calls).toBe(2);
    expect(exporterErrors(p)).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------
// Bad options
// ---------------------------------------------------------------------------------------


interface BadRow {
  readonly what: string;
  readonly options: (p: Probe) => unknown;
  readonly code: string;
  readonly option: string;
}

const badRows: readonly BadRow[] = [
  { what: 'registry: 5', options: () => ({ registry: 5 }), code: 'PROBEKIT_INVALID_OPTION', option: 'registry' },
  { what: 'registry: {}', options: () => ({ registry: {} }), code: 'PROBEKIT_INVALID_OPTION', option: 'registry' },
  { what: 'registry: []', options: () => ({ registry: [] }), code: 'PROBEKIT_INVALID_OPTION', option: 'registry' },
  { what: 'a list holding a non-registry', options: (p) => ({ registry: [p, 'metrics'] }), code: 'PROBEKIT_INVALID_OPTION', option: 'registry' },
  { what: "defaultMetrics: 'yes'", options: (p) => ({ registry: p, defaultMetrics: 'yes' }), code: 'PROBEKIT_INVALID_OPTION', option: 'defaultMetrics' },
  { what: 'defaultMetrics: null', options: (p) => ({ registry: p, defaultMetrics: null }), code: 'PROBEKIT_INVALID_OPTION', option: 'defaultMetrics' },
  { what: "defaultMetrics: { labels } (a collectDefaultMetrics option the runtime metrics do not take)", options: (p) => ({ registry: p, defaultMetrics: { labels: { a: 'b' } } }), code: 'PROBEKIT_UNKNOWN_OPTION', option: 'labels' },
  { what: 'windowQuantiles: 1', options: (p) => ({ registry: p, windowQuantiles: 1 }), code: 'PROBEKIT_INVALID_OPTION', option: 'windowQuantiles' },
  { what: "onError: 'x'", options: (p) => ({ registry: p, onError: 'x' }), code: 'PROBEKIT_INVALID_OPTION', option: 'onError' },
];

describe('bad options', () => {
  describe.each(badRows)('$what', ({ options, code, option }) => {
    it('rejects text() with a TypeError naming the option', async () => {
      const opts = options(makeProbe(() => 0));
      const err = await rejection(prometheus.text(bad(opts)));
      expectError(err, { type: TypeError, code, option });
      expect(err.message).toMatch(/^probekit: prometheus\.text\(\) /);
    });

    it('throws a TypeError naming the option from handler() when it is created', () => {
      const opts = options(makeProbe(() => 0));
      const err = thrown(() => prometheus.handler(bad(opts)));
      expectError(err, { type: TypeError, code, option });
      expect(err.message).toMatch(/^probekit: prometheus\.handler\(\) /);
    });
  });

  it('throws a TypeError listing the known options for an unknown handler() option', () => {
    const err = thrown(() => prometheus.handler(bad({ registry: makeProbe(() => 0), colour: 'red' })));
    expectError(err, { type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'colour' });
  });

  it('rejects openMetrics on handler(), where the Accept header picks the format', () => {
    const err = thrown(() => prometheus.handler(bad({ registry: makeProbe(() => 0), openMetrics: true })));
    expectError(err, { type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'openMetrics' });
  });

  it('throws a TypeError for handler(null)', () => {
    const err = thrown(() => prometheus.handler(bad(null)));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' });
  });

  it('lists openMetrics among the known options for an unknown text() option', async () => {
    const err = await rejection(prometheus.text(bad({ registry: makeProbe(() => 0), colour: 'red' })));
    expectError(err, { type: TypeError, code: 'PROBEKIT_UNKNOWN_OPTION', option: 'colour' });
  });

  it("rejects openMetrics: 'yes' with a TypeError naming the value given", async () => {
    const err = await rejection(prometheus.text(bad({ registry: makeProbe(() => 0), openMetrics: 'yes' })));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_OPTION', option: 'openMetrics' });
  });

  it.each([
    { what: 'null', value: null, shown: 'null' },
    { what: 'a number', value: 5, shown: '5 (number)' },
    { what: 'a string', value: 'x', shown: '"x" (string)' },
  ])('rejects text() given $what instead of an options object', async ({ value, shown }) => {
    const err = await rejection(prometheus.text(bad(value)));
    expectError(err, { type: TypeError, code: 'PROBEKIT_INVALID_ARGUMENT' });
    expect(err.message.endsWith(`, got ${shown}`)).toBe(true);
  });
});

describe('A labelled metric in the exposition', () => {
  function pool(): Probe {
    const p = makeProbe(() => T0);
    const conns = p.metric({ name: 'connections', help: 'Open connections', labels: ['state'], value: () => [[{ state: 'idle' }, 4], [{ state: 'busy' }, 2]] });
    conns.labels({ state: 'draining' }).set(1);
    const build = p.metric({ name: 'build', labels: ['service'] });
    build.labels({ service: 'api' }).set('v1.2');
    build.labels({ service: 'worker' }).set(true);
    return p;
  }

  it('writes one gauge family with a sample per label set, and string values as an info family beside it, in the text format', async () => {
    const body = await prometheus.text({ registry: pool() });
    expect(body.slice(0, body.indexOf('# HELP probekit_'))).toBe(
      lines(
        '# HELP connections Open connections',
        '# TYPE connections gauge',
        'connections{state="draining"} 1',
        'connections{state="idle"} 4',
        'connections{state="busy"} 2',
        '# HELP build build',
        '# TYPE build gauge',
        'build{service="worker"} 1',
        '# HELP build_info build',
        '# TYPE build_info gauge',
        'build_info{service="api",value="v1.2"} 1',
      ),
    );
  });

  it('writes the same in OpenMetrics, the info family typed info', async () => {
    const body = await prometheus.text({ registry: pool(), openMetrics: true });
    expect(body.slice(0, body.indexOf('# TYPE probekit_'))).toBe(
      lines(
        '# TYPE connections gauge',
        '# HELP connections Open connections',
        'connections{state="draining"} 1',
        'connections{state="idle"} 4',
        'connections{state="busy"} 2',
        '# TYPE build gauge',
        '# HELP build build',
        'build{service="worker"} 1',
        '# TYPE build info',
        '# HELP build build',
        'build_info{service="api",value="v1.2"} 1',
      ),
    );
  });
});
