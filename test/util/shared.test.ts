import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAJOR } from '../../src/util/shared.js';

describe('The shared-state key', () => {
  it("is package.json's major version, so copies of one major share state and another major keeps its own", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(MAJOR).toBe(Number(pkg.version.split('.')[0]));
  });
});
