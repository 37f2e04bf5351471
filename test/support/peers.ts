/**
 * Real peers (promtool, Prometheus, Pushgateway): a test that needs one skips with a
 * loud message when it is missing locally, and fails when PROBEKIT_REQUIRE_PEERS is
 * set (CI sets it, and installs them).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of `binary` on PATH, or undefined. */
export function which(binary: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** True when the peer is there; otherwise warns loudly, or throws when peers are required. */
export function havePeer(binary: string, debianPackage: string): boolean {
  if (which(binary) !== undefined) return true;
  const message = `\n*** ${binary} is not installed (Debian package "${debianPackage}"): the tests against it are SKIPPED.\n*** Install it with: apt-get install -y --no-install-recommends ${debianPackage}\n`;
  if (process.env.PROBEKIT_REQUIRE_PEERS) throw new Error(`PROBEKIT_REQUIRE_PEERS is set but ${message}`);
  console.warn(message);
  return false;
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `check` every `everyMs` until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Starts a daemon, keeping its own PID; `stop()` kills it and waits for the exit. */
export function startDaemon(command: string, args: readonly string[], cwd: string): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  return {
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

/** A free TCP port on 127.0.0.1 (for daemons that cannot be told to pick one). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The Python interpreter of the virtual environment `.ci/run` creates with prometheus_client 0.26.0. */
export const OPENMETRICS_PYTHON = join(fileURLToPath(new URL('../../.peers/venv/bin/', import.meta.url)), 'python');

/** True when the Python OpenMetrics parser is installed; otherwise warns loudly, or throws when peers are required. */
export function haveOpenMetricsParser(): boolean {
  if (existsSync(OPENMETRICS_PYTHON)) {
    try {
      execFileSync(OPENMETRICS_PYTHON, ['-c', 'import prometheus_client.openmetrics.parser'], { stdio: 'ignore' });
      return true;
    } catch {
      // falls through to the message
    }
  }
  const message =
    '\n*** The Python prometheus_client OpenMetrics parser is not installed: the tests against it are SKIPPED.\n' +
    '*** Install it with: python3 -m venv .peers/venv && .peers/venv/bin/pip install prometheus_client==0.26.0 (bash .ci/run does)\n';
  if (process.env.PROBEKIT_REQUIRE_PEERS) throw new Error(`PROBEKIT_REQUIRE_PEERS is set but ${message}`);
  console.warn(message);
  return false;
}

/**
 * Parses OpenMetrics text with prometheus_client's strict parser (a parser nobody here
 * wrote). Returns the families as `[name, type, [[sample name, labels, value], ...]]`,
 * or the parser's error message.
 */
export function parseOpenMetrics(text: string): { families: Array<[string, string, Array<[string, Record<string, string>, number | string]>]> } | { error: string } {
  const script = [
    'import sys, json, math',
    'from prometheus_client.openmetrics.parser import text_string_to_metric_families',
    'try:',
    '    out = []',
    '    for f in text_string_to_metric_families(sys.stdin.read()):',
    '        out.append([f.name, f.type, [[s.name, s.labels, s.value if math.isfinite(s.value) else str(s.value)] for s in f.samples]])',
    '    print(json.dumps({"families": out}))',
    'except Exception as e:',
    '    print(json.dumps({"error": str(e)}))',
  ].join('\n');
  const stdout = execFileSync(OPENMETRICS_PYTHON, ['-c', script], { input: text, encoding: 'utf8', maxBuffer: 256 << 20 });
  return JSON.parse(stdout) as ReturnType<typeof parseOpenMetrics>;
}

/** `count` consecutive free TCP ports on 127.0.0.1, as the first of them (for `basePort + slot`). */
export async function freePortRange(count: number): Promise<number> {
  const { createServer } = await import('node:net');
  const free = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base + count > 65536) continue;
    let all = true;
    for (let i = 1; i < count && all; i++) all = await free(base + i);
    if (all) return base;
  }
  throw new Error(`no ${count} consecutive free ports found in 50 attempts`);
}

/** A target as Prometheus's `/api/v1/targets` reports it. */
export interface PromTarget {
  readonly health: string;
  readonly lastError: string;
  readonly scrapeUrl: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A running Prometheus of a test's own, scraping every 1 s. */
export interface PrometheusPeer {
  readonly api: string;
  /** An instant query; the values as Prometheus returns them (strings). */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** The active targets. */
  targets(): Promise<PromTarget[]>;
  stop(): Promise<void>;
}

/** Starts Prometheus (scrape and evaluation every 1 s) with `scrapeConfigs`, YAML lines under `scrape_configs:`; resolves once it is ready. */
export async function startPrometheus(scrapeConfigs: readonly string[]): Promise<PrometheusPeer> {
  const dir = tempDir('probekit-prom-');
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const config = join(dir.path, 'prometheus.yml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(config, ['global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}', 'scrape_configs:', ...scrapeConfigs, ''].join('\n'));
  const daemon = startDaemon(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir.path, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    dir.path,
  );
  const stop = async (): Promise<void> => {
    await daemon.stop();
    dir.remove();
  };
  try {
    await waitFor('Prometheus to be ready', async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined), 20_000);
  } catch (err) {
    await stop();
    throw new Error(`${String(err)}\n${daemon.output()}`, { cause: err });
  }
  return {
    api,
    async query(expr) {
      const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (body.status !== 'success') throw new Error(JSON.stringify(body));
      return body.data.result;
    },
    async targets() {
      const res = await fetch(`${api}/api/v1/targets?state=active`);
      return ((await res.json()) as { data: { activeTargets: PromTarget[] } }).data.activeTargets;
    },
    stop,
  };
}
