import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** The installed package's exports map, read from its package.json: later entries are covered without a new test. */
function entries(): string[] {
  const pkg = JSON.parse(readFileSync(join(dir, 'node_modules/probekit/package.json'), 'utf8')) as { exports: Record<string, unknown> };
  return Object.keys(pkg.exports)
    .filter((k) => k !== './package.json')
    .map((k) => (k === '.' ? 'probekit' : `probekit/${k.slice(2)}`));
}

describe('Every entry of the exports map', () => {
  it('includes the root, probekit/prometheus, probekit/statsd and probekit/push', () => {
    expect(entries()[0]).toBe('probekit');
    expect(entries()).toEqual(expect.arrayContaining(['probekit', 'probekit/prometheus', 'probekit/statsd', 'probekit/push']));
  });

  // One process per entry of the installed map, so an entry added later is checked here
  // without a new test: import and require both load it, quietly, as one module instance.
  it('works with import and require, both giving one module instance, for each entry the installed map lists', () => {
    const results: Record<string, { stderr: string; stdout: string }> = {};
    for (const entry of entries()) {
      const program = [
        "import { createRequire } from 'node:module';",
        `const a = await import(${JSON.stringify(entry)});`,
        `const b = createRequire(import.meta.url)(${JSON.stringify(entry)});`,
        'const names = Object.keys(a).sort();',
        'console.log(JSON.stringify({',
        '  sameNames: JSON.stringify(names) === JSON.stringify(Object.keys(b).sort()),',
        "  anObject: names.some((k) => (typeof a[k] === 'function' || typeof a[k] === 'object') && a[k] !== null),",
        '  same: names.every((k) => a[k] === b[k]),',
        '}));',
      ].join('\n');
      const run = node(['--no-warnings=ExperimentalWarning', '--input-type=module', '-e', program]);
      results[entry] = { stderr: run.stderr, stdout: run.stdout };
    }
    const ok = { stderr: '', stdout: '{"sameNames":true,"anObject":true,"same":true}\n' };
    expect(results).toEqual(Object.fromEntries(entries().map((e) => [e, ok])));
  });

  it('gives the subpath exporters as the very objects the root exports', () => {
    const program = [
      "import * as root from 'probekit';",
      "import { prometheus } from 'probekit/prometheus';",
      "import { statsd } from 'probekit/statsd';",
      "import { httpPush } from 'probekit/push';",
      'console.log(prometheus === root.prometheus, statsd === root.statsd, httpPush === root.httpPush);',
    ].join('\n');
    const run = node(['--input-type=module', '-e', program]);
    expect({ stderr: run.stderr, stdout: run.stdout }).toEqual({ stderr: '', stdout: 'true true true\n' });
  });

  it('keeps the internal transport bundle out of reach by package name, for import and require, though the file ships', () => {
    expect(files).toContain('dist/internal/transport.js');
    const program = [
      "import { createRequire } from 'node:module';",
      'const require = createRequire(import.meta.url);',
      'const codes = [];',
      "for (const spec of ['probekit/internal/transport', 'probekit/internal/transport.js', 'probekit/dist/internal/transport.js']) {",
      '  try { await import(spec); codes.push(`import ${spec}: loaded`); } catch (e) { codes.push(`import ${spec}: ${e.code}`); }',
      '  try { require(spec); codes.push(`require ${spec}: loaded`); } catch (e) { codes.push(`require ${spec}: ${e.code}`); }',
      '}',
      "console.log(codes.join('\\n'));",
    ].join('\n');
    const run = node(['--no-warnings=ExperimentalWarning', '--input-type=module', '-e', program]);
    const code = 'ERR_PACKAGE_PATH_NOT_EXPORTED';
    expect({ stderr: run.stderr, stdout: run.stdout }).toEqual({
      stderr: '',
      stdout: ['probekit/internal/transport', 'probekit/internal/transport.js', 'probekit/dist/internal/transport.js']
        .flatMap((spec) => [`import ${spec}: ${code}`, `require ${spec}: ${code}`])
        .map((l) => `${l}\n`)
        .join(''),
    });
  });

  it('loads no prom-client when any entry the installed map lists is imported', () => {
    const loaded: Record<string, string> = {};
    for (const entry of entries()) {
      const program = [
        "import { createRequire } from 'node:module';",
        `await import(${JSON.stringify(entry)});`,
        "console.log(Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('node_modules/prom-client/')).length);",
      ].join('\n');
      const run = node(['--input-type=module', '-e', program]);
      loaded[entry] = run.stderr + run.stdout;
    }
    expect(loaded).toEqual(Object.fromEntries(entries().map((e) => [e, '0\n'])));
  });

  it('loads no prom-client on import, nor for the default metrics, which probekit/runtime serves', () => {
    const program = [
      "import { createRequire } from 'node:module';",
      "const { prometheus } = await import('probekit');",
      'const cache = createRequire(import.meta.url).cache;',
      "const loaded = () => Object.keys(cache).some((k) => k.includes('node_modules/prom-client/'));",
      'const before = loaded();',
      'await prometheus.text({ defaultMetrics: true });',
      'console.log(before, loaded());',
    ].join('\n');
    const run = node(['--input-type=module', '-e', program]);
    expect({ stderr: run.stderr, stdout: run.stdout }).toEqual({ stderr: '', stdout: 'false false\n' });
  });

  it('gives probekit/runtime the very runtimeMetrics the root exports', () => {
    const program = "import * as root from 'probekit'; import { runtimeMetrics } from 'probekit/runtime'; console.log(runtimeMetrics === root.runtimeMetrics);";
    const run = node(['--input-type=module', '-e', program]);
    expect({ stderr: run.stderr, stdout: run.stdout }).toEqual({ stderr: '', stdout: 'true\n' });
  });
});

describe('Several installed copies', () => {
  /** Copies the installed package to `to` (inside the consumer's node_modules). */
  function copy(to: string): string {
    const target = join(dir, to);
    mkdirSync(target, { recursive: true });
    cpSync(join(dir, 'node_modules/probekit'), target, { recursive: true });
    return target;
  }

  /** A library (ESM) at node_modules/<name> that imports probekit from its own copy and counts a job. */
  function library(name: string): void {
    const lib = join(dir, 'node_modules', name);
    copy(`node_modules/${name}/node_modules/probekit`);
    writeFileSync(join(lib, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', main: 'index.js' }));
    writeFileSync(
      join(lib, 'index.js'),
      [
        "import { probe } from 'probekit';",
        "import { createRequire } from 'node:module';",
        `probe.counter({ name: '${name.replace(/-/g, '_')}_jobs', monotonic: true }).inc(3);`,
        'export { probe };',
        "export const file = createRequire(import.meta.url).resolve('probekit');",
      ].join('\n'),
    );
  }

  it("share one default registry when they are of one major version: a library's metrics reach the application's scrape", () => {
    library('same-major-lib');
    const program = [
      "import { createRequire } from 'node:module';",
      "import { probe, prometheus } from 'probekit';",
      "import * as lib from 'same-major-lib';",
      "const mine = createRequire(import.meta.url).resolve('probekit');",
      'const body = await prometheus.text();',
      "console.log(JSON.stringify({ twoFiles: mine !== lib.file, same: probe === lib.probe, line: body.match(/^same_major_lib_jobs_total .*$/m)?.[0] }));",
    ].join('\n');
    const run = node(['--input-type=module', '-e', program]);
    expect({ stderr: run.stderr, stdout: run.stdout }).toEqual({
      stderr: '',
      stdout: `${JSON.stringify({ twoFiles: true, same: true, line: 'same_major_lib_jobs_total 3' })}\n`,
    });
  });

  it('stay apart across major versions, and the copy loaded second warns once', () => {
    library('other-major-lib');
    // Make that copy major 1. The bundle inlines MAJOR (src/util/shared.ts) twice: in the
    // shared-state key and in the warning's text. Each must be found exactly once, or the
    // bundle changed shape and this patch needs updating.
    const chunks = join(dir, 'node_modules/other-major-lib/node_modules/probekit/dist/chunks');
    const patches: Array<[string, string]> = [
      ['const key = String(0);', 'const key = String(1);'],
      ['`probekit: probekit 0.x and ${', '`probekit: probekit 1.x and ${'],
    ];
    const found = patches.map(() => 0);
    for (const f of readdirSync(chunks).filter((n) => n.endsWith('.js'))) {
      let text = readFileSync(join(chunks, f), 'utf8');
      patches.forEach(([from, to], i) => {
        const parts = text.split(from);
        found[i] = (found[i] ?? 0) + parts.length - 1;
        text = parts.join(to);
      });
      writeFileSync(join(chunks, f), text);
    }
    expect(found).toEqual([1, 1]);
    const program = [
      "import { probe, prometheus } from 'probekit';",
      "const lib = await import('other-major-lib');",
      "const libCopy = await import('./node_modules/other-major-lib/node_modules/probekit/dist/index.js');",
      'const line = (body) => body.match(/^other_major_lib_jobs_total .*$/m)?.[0] ?? null;',
      'console.log(JSON.stringify({',
      '  same: probe === lib.probe,',
      '  libCopyIsLibs: libCopy.probe === lib.probe,',
      '  inApp: line(await prometheus.text()),',
      '  inLib: line(await libCopy.prometheus.text()),',
      '}));',
    ].join('\n');
    const run = node(['--input-type=module', '-e', program]);
    expect(run.stdout).toBe(`${JSON.stringify({ same: false, libCopyIsLibs: true, inApp: null, inLib: 'other_major_lib_jobs_total 3' })}\n`);
    const lines = run.stderr.split('\n').filter((l) => l.includes('PROBEKIT_VERSION_SPLIT'));
    expect(lines).toHaveLength(1);
    // "1.x and 0.x": the patched copy, loaded second, is the one that saw the other major.
    expect(lines[0]).toMatch(/^\(node:\d+\) \[PROBEKIT_VERSION_SPLIT\] Warning: probekit: probekit 1\.x and 0\.x are both loaded in this process;/);
  });
});

/**
 * A TypeScript consumer of the packed package, compiled as users compile: strict,
 * skipLibCheck off. One project, one file per case, one tsc run; each case reads its
 * own file's diagnostics.
 */
describe('The published types', () => {
  const good = `
import { createProbe, notify, prometheus, statsd, errorDomain, context, shutdown, type ErrorRecord, type ShutdownReport } from 'probekit';
import { prometheus as promEntry, type MetricsServer } from 'probekit/prometheus';
import { statsd as statsdEntry, type StatsdExporter } from 'probekit/statsd';
import { httpPush, type PushOutcome } from 'probekit/push';
import { instrumentServer, type ServerInstrumentation } from 'probekit/http';
import { createServer } from 'node:http';
const p = createProbe();
const c = p.counter({ name: 'c', labels: ['route'] });
c.labels({ route: '/' }).inc();
const served = p.counter({ name: 'served', monotonic: true });
served.inc(2);
const h = p.histogram({ name: 'h', unit: 'ms', percentiles: [0.5, 0.99] });
h.observe(1);
const p99: number | null = h.val().p99;
const m = p.meter({ name: 'm', samples: 60 });
m.mark();
p.metric({ name: 'g', value: () => 1 }).set(2);
const r: ErrorRecord = notify(new Error('x'));
errorDomain.create().run(() => context.get());
void prometheus.text({ registry: p });
void statsd;
const depth = p.metric({ name: 'depth', labels: ['queue'], value: () => [[{ queue: 'mail' }, 3]] });
depth.labels({ queue: 'sms' }).set(1);
const server: Promise<MetricsServer> = promEntry.serve({ port: 0, registry: p });
const exporter: StatsdExporter = statsdEntry({ registry: p, flushInterval: 0 });
const report: Promise<ShutdownReport> = shutdown({ timeoutMs: 100 });
const pushed: Promise<PushOutcome> = httpPush({ url: 'http://127.0.0.1:9091', job: 'j', grouping: 'process', registry: p }).push();
const instrumented: ServerInstrumentation = instrumentServer(createServer(), { registry: p, route: (req) => req.url, naming: 'classic' });
export { p99, r, server, exporter, report, pushed, instrumented };
`;
  // Each case must fail to compile at its marked line: tsc reports an unused
  // expect-error directive for a misuse that compiles.
  const expectError = `// @ts-${'expect-error'}`;
  const misuses: Array<[string, string]> = [
    ['constructing a probe class directly', `import * as pk from 'probekit';\n${expectError}\nnew pk.Counter();`],
    ['labels() on a probe declared without labels', `${expectError}\np.counter({ name: 'a' }).labels({ x: '1' });`],
    ['a label the probe did not declare', `${expectError}\np.counter({ name: 'b', labels: ['route'] }).labels({ method: 'GET' });`],
    ['labels() on a metric declared without labels', `${expectError}\np.metric({ name: 'm' }).labels({ x: '1' });`],
    ['a reported label set with a label the metric did not declare', `${expectError}\np.metric({ name: 'm2', labels: ['queue'], value: () => [[{ topic: 'x' }, 1]] });`],
    ['a percentile key that was not requested', `${expectError}\nvoid p.histogram({ name: 'h', percentiles: [0.5, 0.99] }).val().p42;`],
    ['a default percentile key that does not exist', `${expectError}\nvoid p.histogram({ name: 'h2' }).val().p42;`],
    ['dec() on a monotonic counter', `${expectError}\np.counter({ name: 'd', monotonic: true }).dec();`],
    ['notify() treated as possibly undefined', `const rec = notify(new Error('x'));\n${expectError}\nconst u: undefined extends typeof rec ? true : never = true;\nvoid u;`],
  ];
  let output = '';
  let status: number | null = null;

  beforeAll(() => {
    const project = join(dir, 'ts-consumer');
    mkdirSync(project, { recursive: true });
    const files = ['good.ts', ...misuses.map((_, i) => `misuse${i}.ts`)];
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
        },
        files,
      }),
    );
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(project, 'good.ts'), good);
    misuses.forEach(([, line], i) => {
      writeFileSync(join(project, `misuse${i}.ts`), `import { createProbe, notify } from 'probekit';\nconst p = createProbe();\nvoid notify;\nvoid p;\n${line}\nexport {};\n`);
    });
    const run = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, encoding: 'utf8', timeout: 90_000 });
    output = run.stdout + run.stderr;
    status = run.status;
  }, 120_000);

  const diagnostics = (file: string) => output.split('\n').filter((l) => l.startsWith(file) || l.startsWith(`../node_modules/probekit/`));

  it('compile in a strict consumer with skipLibCheck: false', () => {
    expect(diagnostics('good.ts')).toEqual([]);
  });

  it.each(misuses.map(([what], i) => [what, i] as const))('reject %s', (_what, i) => {
    expect(diagnostics(`misuse${i}.ts`)).toEqual([]);
  });

  it('leave tsc with nothing to report', () => {
    expect({ status, output }).toEqual({ status: 0, output: '' });
  });
});
