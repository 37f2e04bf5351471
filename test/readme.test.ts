/**
 * Every JavaScript snippet in the README runs: each ```js block is written out as a
 * program beside the package (so `import ... from 'probekit'` resolves to this build)
 * and run in its own process.
 *
 * Conventions, written in the README itself:
 * - `// file: worker.mjs` inside a block starts another file of the same program; the
 *   block's first file is the one that runs.
 * - `<!-- readme: serves -->` just before a block marks a program that keeps serving:
 *   it must still be running after a short while (no crash), and is then stopped.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, '.tmp', `readme-${process.pid}`);

interface Snippet {
  readonly line: number;
  readonly serves: boolean;
  readonly files: ReadonlyArray<{ name: string; text: string }>;
}

/** The ```js blocks of the README, with their line numbers and markers. */
export function snippets(readme: string): Snippet[] {
  const lines = readme.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```js') continue;
    const serves = (lines[i - 1] ?? '').includes('<!-- readme: serves -->');
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== '```') end++;
    const body = lines.slice(start, end);
    const files: Array<{ name: string; text: string }> = [];
    let current = { name: '', text: '' };
    for (const l of body) {
      const m = /^\/\/ file: (\S+)\s*$/.exec(l);
      if (m !== null) {
        if (current.text.trim() !== '' || current.name !== '') files.push(current);
        current = { name: m[1] as string, text: '' };
      } else current.text += `${l}\n`;
    }
    files.push(current);
    out.push({ line: start, serves, files });
    i = end;
  }
  return out;
}

function run(file: string, serves: boolean): Promise<{ code: number | null; stderr: string; stdout: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORT: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killed = false;
    const timer = setTimeout(
      () => {
        killed = true;
        child.kill('SIGKILL');
      },
      serves ? 1500 : 15_000,
    );
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout, killed });
    });
  });
}

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const all = snippets(readme);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('The README', () => {
  it('has JavaScript snippets to check', () => {
    expect(all.length).toBeGreaterThan(10);
  });

  it.each(all.map((s) => [s.line, s] as const))('runs the snippet at line %i', async (line, snippet) => {
    const here = join(dir, `l${line}`);
    mkdirSync(here, { recursive: true });
    const names: string[] = [];
    for (const [i, f] of snippet.files.entries()) {
      const name = f.name !== '' ? f.name : i === 0 ? (/\brequire\(/.test(f.text) && !/^import /m.test(f.text) ? 'main.cjs' : 'main.mjs') : `part${i}.mjs`;
      writeFileSync(join(here, name), f.text);
      names.push(name);
    }
    const result = await run(join(here, names[0] as string), snippet.serves);
    if (snippet.serves) {
      expect({ killed: result.killed, stderr: result.stderr }).toEqual({ killed: true, stderr: '' });
    } else {
      expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    }
  });
});
