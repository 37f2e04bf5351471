/**
 * Nothing in probekit evaluates code: the built package (dist/, what npm publishes; run
 * `npm run build` first) has no eval, no new Function, no vm.run* and no REPL.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : /\.(js|cjs|mjs)$/.test(e.name) ? [join(dir, e.name)] : []));
}

const FORBIDDEN = [/\beval\(/g, /\bnew Function\(/g, /\bvm\.run/g, /(?:from\s*|import\s*\(\s*|require\s*\(\s*)['"](?:node:)?repl['"]/g];

describe('The built package', () => {
  it('holds JavaScript to scan (dist/ is built)', () => {
    expect(existsSync(join(dist, 'admin.js'))).toBe(true);
    expect(files(dist).length).toBeGreaterThan(5);
  });

  it('contains no eval(, new Function(, vm.run or import of node:repl/repl', () => {
    const hits: string[] = [];
    for (const file of files(dist)) {
      const text = readFileSync(file, 'utf8');
      for (const pattern of FORBIDDEN) for (const m of text.matchAll(pattern)) hits.push(`${relative(dist, file)}: ${m[0]}`);
    }
    expect(hits).toEqual([]);
  });

  it('would catch each form it looks for', () => {
    const samples = ['eval(x)', 'new Function("a")', 'vm.runInThisContext(s)', "import r from 'node:repl'", "require('repl')", "await import('repl')"];
    expect(samples.map((s) => FORBIDDEN.some((p) => new RegExp(p.source).test(s)))).toEqual(samples.map(() => true));
  });
});
