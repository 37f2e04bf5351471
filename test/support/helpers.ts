/** Helpers shared by the test files. */
import { expect } from 'vitest';
import { spawnSync } from 'node:child_process';

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

/** What a fixture run in its own process printed and how it ended. */
export interface ChildRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  /** stdout, one parsed JSON value per line. */
  readonly lines: unknown[];
  readonly stderr: string;
}

/**
 * Runs `dir/fixture` in its own Node process (errors that become uncaught must never
 * reach the vitest worker), with `dir` as the working directory; a child still running
 * after 10 s is killed.
 */
export function runFixture(dir: string, fixture: string, ...args: string[]): ChildRun {
  const result = spawnSync(process.execPath, [`${dir}${fixture}`, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 10_000,
    killSignal: 'SIGKILL',
  });
  if (result.error !== undefined) throw result.error;
  const lines = result.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
  return { status: result.status, signal: result.signal, lines, stderr: result.stderr };
}

/** Runs `promise` and returns what it rejected with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`rejected with a non-Error: ${String(err)}`, { cause: err });
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** What a probekit error must carry: its class, its stable code and the option it names. */
export interface ExpectedError {
  readonly type: typeof TypeError | typeof RangeError;
  readonly code: string;
  /** The option the error concerns (`'buckets[1]'`), or `undefined` for a whole argument. */
  readonly option?: string | undefined;
}

/**
 * Checks a probekit error by what is stable about it: a `TypeError` or `RangeError` (by
 * class and name), its `code`, the option it names, and a message that starts with
 * `probekit:` and quotes that option. The wording of the rest may change.
 */
export function expectError(err: unknown, expected: ExpectedError): void {
  const e = err as Error & { code?: unknown; option?: unknown };
  const option = expected.option;
  const quoted = option === undefined ? undefined : `"${option.split(/[[.]/)[0] as string}`;
  expect({
    isType: e instanceof expected.type,
    name: e.name,
    code: e.code,
    option: e.option,
    prefix: e.message.startsWith('probekit: '),
    namesOption: quoted === undefined || e.message.includes(quoted),
  }).toEqual({ isType: true, name: expected.type.name, code: expected.code, option, prefix: true, namesOption: true });
}
