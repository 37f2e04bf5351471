import { describe, expect, it } from 'vitest';
import { formatValue } from '../../src/exporters/prometheus/format.js';
import { Sink } from '../../src/exporters/prometheus/sink.js';

/** What `values` become in a sink, one per line. */
function written(values: readonly number[], sizeHint = 0): string {
  const sink = new Sink(sizeHint);
  for (const v of values) sink.value(v);
  return sink.result().toString('latin1');
}

/** The same lines from the string formatter every other exporter path uses. */
const expected = (values: readonly number[]): string => values.map((v) => `${formatValue(v)}\n`).join('');

describe('the scrape sink', () => {
  it('writes every value exactly as formatValue() spells it: integers at and around the digit-by-digit limit, -0, fractions, extremes, NaN and the infinities', () => {
    const values = [
      0, -0, 1, -1, 9, 10, 11, 99, 100, 101, 12345678, -12345678, 2 ** 31, 2 ** 32 + 1,
      1e15 - 1, -(1e15 - 1), 1e15, -1e15, 1e15 + 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1.5e300, -1e21,
      0.1, 0.25, -0.5, 1 / 3, 1e-7, 5e-324, Number.MAX_VALUE, Number.MIN_VALUE, 123.456, 9999999.5,
      NaN, Infinity, -Infinity,
    ];
    expect(written(values)).toBe(expected(values));
  });

  it('agrees with formatValue() on 100,000 pseudo-random integers and fractions of every magnitude', () => {
    let x = 12345;
    const next = (): number => (x = (x * 48271) % 2147483647);
    const values: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      const r = next();
      const magnitude = 10 ** ((r % 40) - 10);
      const v = i % 2 === 0 ? Math.floor((next() / 2147483647) * magnitude) : (next() / 2147483647) * magnitude;
      values.push(i % 3 === 0 ? -v : v);
    }
    expect(written(values)).toBe(expected(values));
  });

  it('grows past its first buffer and keeps every byte: 200,000 lines from a 16 KiB start, then a multi-byte UTF-8 text', () => {
    const sink = new Sink();
    const prefix = Buffer.from('probekit_lines_total{where="here"} ');
    let want = '';
    for (let i = 0; i < 200_000; i++) {
      sink.line(prefix, i);
      want += `probekit_lines_total{where="here"} ${i}\n`;
    }
    sink.text('# HELP café ☕ 𝄞\n');
    want += '# HELP café ☕ 𝄞\n';
    expect(sink.length).toBe(Buffer.byteLength(want));
    expect(sink.result().toString('utf8')).toBe(want);
  });

  it('starts from the size hint given: the size of the previous scrape, with an eighth to spare', () => {
    const sink = new Sink(1_000_000);
    const first = sink.result();
    sink.bytes(Buffer.alloc(1_100_000, 'x'));
    // Still the first buffer: the same memory, no copy.
    expect(sink.result().buffer).toBe(first.buffer);
    expect(sink.length).toBe(1_100_000);
  });
});
