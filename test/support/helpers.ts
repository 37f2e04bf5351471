/** Helpers shared by the test files. */

/** Runs `fn` and returns what it threw; fails the test when it returns normally. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`threw a non-Error: ${String(err)}`, { cause: err });
  }
  throw new Error('expected a throw, but the call returned normally');
}

/** Casts a deliberately wrong argument past the type checker. */
export const bad = (value: unknown): never => value as never;
