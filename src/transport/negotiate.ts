/**
 * Content negotiation for the transport server: which coding (`Accept-Encoding`) and
 * which media type (`Accept`) a client prefers, by RFC 9110 §12.4.2 quality values.
 */
import { typeError } from '../util/validate.js';

/** A header as node:http hands it over: absent, one value, or repeated values. */
type HeaderValue = string | readonly string[] | undefined;

function joined(header: HeaderValue): string | undefined {
  return typeof header === 'string' || header === undefined ? header : header.join(',');
}

/** The weight of one list element's parameters (`q=0.5`); 1 when absent, NaN when malformed. */
function weightOf(params: readonly string[]): number {
  const q = params.find((p) => p.startsWith('q='));
  return q === undefined ? 1 : Number(q.slice(2));
}

/**
 * True when `Accept-Encoding` accepts gzip (q > 0). By RFC 9110 §12.5.3 gzip's own
 * entry decides; `*` covers it only when gzip is not listed; an absent header accepts
 * nothing but identity here (the server never gzips unasked).
 */
export function acceptsGzip(header: HeaderValue): boolean {
  const value = joined(header);
  if (value === undefined) return false;
  let gzipQ: number | undefined;
  let anyQ: number | undefined;
  for (const part of value.split(',')) {
    const [coding = '', ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const weight = weightOf(params);
    if (coding === 'gzip') gzipQ = weight;
    else if (coding === '*') anyQ = weight;
  }
  return (gzipQ ?? anyQ ?? 0) > 0;
}

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  /** Media type parameters before `q` (`version=0.0.4`), lower-cased names, values as given. */
  readonly params: ReadonlyMap<string, string>;
  readonly q: number;
}

function splitType(text: string): { type: string; subtype: string; params: Map<string, string>; rest: string[] } {
  const [full = '', ...parts] = text.split(';').map((x) => x.trim());
  const slash = full.indexOf('/');
  const type = (slash === -1 ? full : full.slice(0, slash)).toLowerCase();
  const subtype = (slash === -1 ? '' : full.slice(slash + 1)).toLowerCase();
  const params = new Map<string, string>();
  const rest: string[] = [];
  let afterQ = false;
  for (const part of parts) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq === -1 ? '' : part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (name === 'q') afterQ = true;
    // Parameters after q are accept-extensions, not part of the media range.
    if (afterQ) rest.push(`${name}=${value}`);
    else if (name !== '') params.set(name, value);
  }
  return { type, subtype, params, rest };
}

function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const element of accept.split(',')) {
    if (element.trim() === '') continue;
    const { type, subtype, params, rest } = splitType(element);
    if (type === '' || subtype === '') continue;
    const q = weightOf(rest);
    ranges.push({ type, subtype, params, q: Number.isNaN(q) ? 0 : q });
  }
  return ranges;
}

/** How specifically `range` matches `offer`: -1 when it does not match, higher is more specific. */
function specificity(range: MediaRange, offer: ReturnType<typeof splitType>): number {
  if (range.type === '*') return range.subtype === '*' ? 0 : -1;
  if (range.type !== offer.type) return -1;
  if (range.subtype === '*') return 1;
  if (range.subtype !== offer.subtype) return -1;
  for (const [name, value] of range.params) {
    if (offer.params.get(name) !== value) return -1;
  }
  return 2 + range.params.size;
}

/**
 * The offered media type the `Accept` header prefers: the highest quality value, where
 * each offer takes the quality of the most specific range matching it (exact type with
 * parameters, then `type/*`, then `*\/*`). Ties go to the earlier offer. An absent or
 * empty header prefers `offered[0]`; so does a header that accepts none of the offers
 * (answering in the server's default beats a 406 for the clients probekit serves).
 *
 * @example
 * preferred('text/plain;q=0.5, application/json', ['text/plain', 'application/json']); // 'application/json'
 */
export function preferred(accept: string | undefined, offered: readonly string[]): string {
  if (!Array.isArray(offered) || offered.length === 0 || offered.some((o) => typeof o !== 'string')) {
    throw typeError('preferred() argument "offered"', 'a non-empty array of media types', offered);
  }
  const first = offered[0] as string;
  if (accept === undefined || accept.trim() === '') return first;
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return first;
  let best = first;
  let bestQ = 0;
  for (const offer of offered) {
    const parsed = splitType(offer);
    let level = -1;
    let q = 0;
    for (const range of ranges) {
      const s = specificity(range, parsed);
      if (s > level) {
        level = s;
        q = range.q;
      }
    }
    if (q > bestQ) {
      best = offer;
      bestQ = q;
    }
  }
  return best;
}
