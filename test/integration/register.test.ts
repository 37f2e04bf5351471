/**
 * `node --import probekit/register` and `node -r probekit/register`: an untouched
 * application, instrumented from environment variables alone.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/peers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/register/', import.meta.url));


interface Child {
  readonly first: Promise<Record<string, unknown>>;
  readonly exit: Promise<number | null>;
  stderr(): string;
  end(): void;
}

/** Runs a fixture from the package root (so `probekit/register` resolves to this build). */
function start(args: readonly string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, NODE_OPTIONS: '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    child.on('exit', () => reject(new Error(`exited before printing: ${err}`)));
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  void exit.then(() => clearTimeout(timer));
  return { first, exit, stderr: () => err, end: () => child.stdin.end() };
}

describe('probekit/register', () => {
  it.each([
    ['--import', 'app.mjs'],
    ['-r', 'app.cjs'],
  ])('with %s instruments an untouched node:http app from the environment: its requests are counted and /metrics answers', async (flag, app) => {
    const metricsPort = await freePort();
    const child = start([flag, 'probekit/register', `${fixtures}${app}`], { PROBEKIT_PROMETHEUS_PORT: String(metricsPort), PROBEKIT_PORTS_ENABLED: 'true' });
    try {
      const { port } = (await child.first) as { port: number };
      for (const path of ['/a', '/b?x=1', '/c']) expect(await (await fetch(`http://127.0.0.1:${port}${path}`)).text()).toBe(`hello ${path}`);
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(text).toContain('http_server_request_duration_seconds_count{http_request_method="GET",url_scheme="http",http_route="unmatched",http_response_status_code="200",error_type=""} 3\n');
      expect(text).toContain(`process_listening_ports{port="${port}",address="127.0.0.1",family="IPv4"} 1\n`);
      expect(text).toMatch(/^process_memory_usage_bytes \d+$/m);
    } finally {
      child.end();
    }
    expect(await child.exit).toBe(0);
    expect(child.stderr()).toBe('');
  });

  it('lets a script that is done end by itself, metrics server and all, with its own exit code', async () => {
    const metricsPort = await freePort();
    const child = start(['--import', 'probekit/register', `${fixtures}short.mjs`], { PROBEKIT_PROMETHEUS_PORT: String(metricsPort), PROBEKIT_NETWORK_ENABLED: '1' });
    expect(await child.first).toEqual({ done: true });
    expect(await child.exit).toBe(0);
  });

  it('warns once about an invalid variable, leaves that feature off and the application running', async () => {
    const child = start(['--import', 'probekit/register', `${fixtures}app.mjs`], { PROBEKIT_PROMETHEUS_PORT: 'ninety' });
    try {
      const { port } = (await child.first) as { port: number };
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('hello /');
    } finally {
      child.end();
    }
    expect(await child.exit).toBe(0);
    expect(child.stderr().match(/PROBEKIT_INVALID_ENV/g)).toHaveLength(1);
    expect(child.stderr()).toContain('environment variable PROBEKIT_PROMETHEUS_PORT must be a port number from 0 to 65535, got "ninety" (string); "prometheus" stays off');
  });
});
