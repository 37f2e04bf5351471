/**
 * The bytes of one scrape, written in place into one growing buffer: a sample line is a
 * copy of its series' cached prefix bytes, the value's digits and a newline. Building the
 * same text as JavaScript strings costs about ten times as much (a rope of small strings
 * per line, flattened, then encoded to UTF-8 for the socket), and it is the largest part of
 * a scrape of many series.
 */

/** The smallest buffer a scrape starts with. */
const MIN_BYTES = 16 * 1024;

/** Integers up to this many units are written digit by digit; larger ones, and fractions, as `String()` spells them. */
const FAST_INTEGER = 1e15;

/** A sample value's bytes are at most this long (`String()` of any number). */
const VALUE_BYTES = 32;

/** Where one scrape writes. */
export class Sink {
  private buf: Buffer;
  /** Bytes written so far. */
  length = 0;

  /** `sizeHint`: the size of the previous scrape, so a scrape seldom grows its buffer. */
  constructor(sizeHint = 0) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(MIN_BYTES, Math.ceil(sizeHint * 1.125)));
  }

  /** Room for `n` more bytes. */
  private room(n: number): Buffer {
    if (this.length + n > this.buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    return this.buf;
  }

  /** Appends `s` as UTF-8. */
  text(s: string): void {
    const buf = this.room(s.length * 3);
    this.length += buf.write(s, this.length, 'utf8');
  }

  /** Appends `bytes`. */
  bytes(bytes: Uint8Array): void {
    // One native copy per piece: for the tens of bytes of a line prefix it beats a loop
    // by about four times (and a subarray would cost an object per line).
    this.room(bytes.length).set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Appends a sample line: its prefix (`name{labels} `), `value` and a newline. */
  line(prefix: Uint8Array, value: number): void {
    this.bytes(prefix);
    this.value(value);
  }

  /**
   * Appends a sample value as the exposition formats spell it (`formatValue`): the
   * shortest round-trip decimal, `NaN`, `+Inf`, `-Inf`; then a newline.
   */
  value(v: number): void {
    const buf = this.room(VALUE_BYTES + 1);
    let at = this.length;
    if (v === Math.floor(v) && v < FAST_INTEGER && v > -FAST_INTEGER) {
      // -0 is written `0`, as String(-0) is.
      if (v < 0) {
        buf[at++] = 45; // '-'
        v = -v;
      }
      let digits = 1;
      for (let p = 10; p <= v; p *= 10) digits++;
      at += digits;
      let i = at;
      do {
        const q = Math.floor(v / 10);
        buf[--i] = 48 + (v - q * 10);
        v = q;
      } while (v > 0);
    } else {
      const s = v !== v ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
      at += buf.write(s, at, 'latin1');
    }
    buf[at++] = 10; // '\n'
    this.length = at;
  }

  /** The bytes written (a view of the buffer: the sink must not be written after). */
  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}
