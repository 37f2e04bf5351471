/**
 * Brands: how one installed copy of probekit recognises an object another copy made
 * (`instanceof` only knows its own copy's classes). A brand is a `Symbol.for` key, the
 * same in every copy, set to `true` on the object.
 */

/** True when `value` carries `brand`; never throws, whatever `value` is (a Proxy whose traps throw). */
export function hasBrand(value: unknown, brand: symbol): boolean {
  try {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  } catch {
    return false;
  }
}
