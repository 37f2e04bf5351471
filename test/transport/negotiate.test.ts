import { describe, expect, it } from 'vitest';
import { acceptsGzip, preferred } from '../../src/transport/negotiate.js';
import { bad, thrown } from '../support/helpers.js';

describe('acceptsGzip', () => {
  it('accepts gzip when it is listed without a weight', () => {
    expect(acceptsGzip('gzip, deflate, br')).toBe(true);
  });

  it('refuses gzip when the header is absent', () => {
    expect(acceptsGzip(undefined)).toBe(false);
  });

  it('refuses gzip when its own entry has q=0 even though * is accepted', () => {
    expect(acceptsGzip('*, gzip;q=0')).toBe(false);
  });

  it('accepts gzip through * when gzip is not listed', () => {
    expect(acceptsGzip('br;q=0.5, *;q=0.1')).toBe(true);
  });

  it('refuses gzip when * has q=0 and gzip is not listed', () => {
    expect(acceptsGzip('identity, *;q=0')).toBe(false);
  });

  it('reads repeated header values as one list', () => {
    expect(acceptsGzip(['deflate', 'GZIP;Q=0.3'])).toBe(true);
  });
});

describe('preferred', () => {
  const offered = ['text/plain', 'application/json'] as const;

  it('returns the first offer when the header is absent', () => {
    expect(preferred(undefined, offered)).toBe('text/plain');
  });

  it('returns the offer with the highest q-value', () => {
    expect(preferred('text/plain;q=0.5, application/json', offered)).toBe('application/json');
  });

  it('breaks a tie by the order of the offers', () => {
    expect(preferred('application/json, text/plain', offered)).toBe('text/plain');
  });

  it('matches type/* ranges', () => {
    expect(preferred('application/*;q=0.9, text/*;q=0.2', offered)).toBe('application/json');
  });

  it('lets */* cover offers not otherwise listed', () => {
    expect(preferred('text/plain;q=0.1, */*;q=0.8', offered)).toBe('application/json');
  });

  it('takes the weight of the most specific matching range', () => {
    expect(preferred('text/*;q=1, text/plain;q=0, application/json;q=0.3', offered)).toBe('application/json');
  });

  it('requires the parameters a range names to be present on the offer', () => {
    const offers = ['text/plain; version=0.0.4', 'application/openmetrics-text; version=1.0.0'];
    expect(preferred('application/openmetrics-text;version=1.0.0;q=0.9, text/plain;q=0.5', offers)).toBe(offers[1]);
    expect(preferred('application/openmetrics-text;version=0.0.1;q=0.9, text/plain;q=0.5', offers)).toBe(offers[0]);
  });

  it('compares type names case-insensitively', () => {
    expect(preferred('APPLICATION/JSON', offered)).toBe('application/json');
  });

  it('falls back to the first offer when nothing offered is acceptable', () => {
    expect(preferred('image/png', offered)).toBe('text/plain');
  });

  it('treats a malformed q-value as not acceptable', () => {
    expect(preferred('text/plain;q=abc, application/json;q=0.1', offered)).toBe('application/json');
  });

  it('throws a TypeError naming the argument for an empty list of offers', () => {
    const err = thrown(() => preferred('text/plain', bad([])));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe('probekit: preferred() argument "offered" must be a non-empty array of media types, got [] (array)');
    expect((err as Error & { code: string }).code).toBe('PROBEKIT_INVALID_ARGUMENT');
  });
});
