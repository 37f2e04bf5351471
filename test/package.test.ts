import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
let dir = '';
let files: string[] = [];

// The packed tarball, installed into an empty project: what users get from the registry.
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'probekit-pack-'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }),
  ) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const first = packed[0];
  if (first === undefined) throw new Error('npm pack reported nothing');
  files = first.files.map((f) => f.path);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // An empty npm cache of its own: the install must work from the registry alone, as on a
  // fresh machine, whatever this machine happened to cache before.
  execFileSync('npm', ['install', '--no-audit', '--no-fund', join(dir, first.filename)], {
    cwd: dir,
    stdio: 'ignore',
    env: { ...process.env, npm_config_cache: join(dir, '.npm-cache') },
  });
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function node(args: string[]) {
  return spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
}

describe('The published package', () => {
  it('ships only dist, the README and package.json', () => {
    expect(files.every((f) => f.startsWith('dist/') || f === 'package.json' || f === 'README.md' || f === 'LICENSE')).toBe(true);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
  });

  it('runs no script when a consumer installs it (no prepare, preinstall, install or postinstall)', () => {
    const pkg = JSON.parse(readFileSync(join(dir, 'node_modules/probekit/package.json'), 'utf8')) as { scripts?: Record<string, string> };
    const onInstall = Object.keys(pkg.scripts ?? {}).filter((s) => ['prepare', 'preinstall', 'install', 'postinstall'].includes(s));
    expect(onInstall).toEqual([]);
  });

  it('works with import', () => {
    const run = node([
      '--input-type=module',
      '-e',
      "import { probe, createProbe } from 'probekit'; const c = probe.counter({ name: 'x' }); c.inc(2); console.log(typeof createProbe, c.val());",
    ]);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('function 2');
  });

  it('works with require', () => {
    const run = node([
      '--no-warnings=ExperimentalWarning',
      '-e',
      "const { probe, createProbe } = require('probekit'); const c = probe.counter({ name: 'x' }); c.inc(3); console.log(typeof createProbe, c.val());",
    ]);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('function 3');
  });

  it('gives import and require the same module instance, so one default registry', () => {
    const run = node([
      '--no-warnings=ExperimentalWarning',
      '--input-type=module',
      '-e',
      "import { createRequire } from 'node:module'; import * as a from 'probekit'; const b = createRequire(import.meta.url)('probekit'); console.log(a.probe === b.probe);",
    ]);
    expect(run.stdout.trim()).toBe('true');
  });

  it('declares its types and an exports map with types first', () => {
    const pkg = JSON.parse(readFileSync(join(dir, 'node_modules/probekit/package.json'), 'utf8')) as {
      exports: Record<string, Record<string, string>>;
      engines: Record<string, string>;
    };
    expect(Object.keys(pkg.exports['.'] ?? {})).toEqual(['types', 'default']);
    expect(pkg.engines.node).toBe('>=20.19');
    const dts = readFileSync(join(dir, 'node_modules/probekit/dist/index.d.ts'), 'utf8');
    expect(dts).toContain('createProbe');
  });
});
