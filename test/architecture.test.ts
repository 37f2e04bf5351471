import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every `pattern` match in src outside src/probes, as `file: text`. */
function outsideProbes(pattern: RegExp): string[] {
  const hits: string[] = [];
  for (const file of sources(join(root, 'src'))) {
    const name = relative(root, file);
    if (name.startsWith('src/probes/')) continue;
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ''); // code, not comments
    for (const m of text.matchAll(pattern)) hits.push(`${name}: ${m[0]}`);
  }
  return hits;
}

describe('The boundary between the probes and what reads them', () => {
  it("has no module outside src/probes read a probe class's _field (Node's own timer field _onTimeout aside)", () => {
    expect(outsideProbes(/\.\s*_(?!onTimeout\b)[A-Za-z]\w*/g)).toEqual([]);
  });

  it('has no module outside src/probes tell probe kinds apart by class (family.kind does)', () => {
    expect(outsideProbes(/instanceof\s+(Counter|Meter|Histogram|Metric|Registry)\b/g)).toEqual([]);
  });

  it('derives exported names in plan.ts only: no other module appends _seconds, _events or _window', () => {
    expect(outsideProbes(/['`]_(seconds|events|window)\b/g)).toEqual([]);
    const probes = sources(join(root, 'src/probes'))
      .filter((f) => !f.endsWith('plan.ts'))
      .flatMap((f) => [...readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '').matchAll(/['`]_(seconds|events|window)\b/g)].map((m) => `${relative(root, f)}: ${m[0]}`));
    expect(probes).toEqual([]);
  });
});
