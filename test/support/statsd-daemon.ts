/** The Etsy StatsD daemon (npm `statsd`) on loopback ports, read back through a flush file and its admin port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir, waitFor } from './peers.js';

const statsJs = createRequire(import.meta.url).resolve('statsd/stats.js');
const backend = fileURLToPath(new URL('./statsd-backend.cjs', import.meta.url));

interface Flush {
  counters: Record<string, number>;
  gauges: Record<string, number>;
  timers: Record<string, number[]>;
  timer_counters: Record<string, number>;
}

/** Sends an admin command and returns the answer up to `END`. */
function admin(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setTimeout(2000, () => socket.destroy(new Error(`admin ${command} timed out`)));
    socket.on('data', (d) => {
      out += d.toString();
      if (out.includes('END') || (command === 'health' && out.includes('health:'))) {
        socket.end();
        resolve(out);
      }
    });
    socket.on('error', reject);
    socket.write(`${command}\n`);
  });
}

export class StatsdDaemon {
  private child: ChildProcess | undefined;
  readonly dir = tempDir('probekit-statsd-');
  readonly file = join(this.dir.path, 'flushes.jsonl');
  port = 0;
  mgmtPort = 0;

  /** Starts (or restarts, on the same ports) the daemon and waits until its admin port says it is up. */
  async start(flushInterval = 200): Promise<void> {
    if (this.port === 0) {
      this.port = await freePort();
      this.mgmtPort = await freePort();
    }
    const config = join(this.dir.path, 'config.js');
    writeFileSync(
      config,
      `(${JSON.stringify({
        address: '127.0.0.1',
        port: this.port,
        mgmt_address: '127.0.0.1',
        mgmt_port: this.mgmtPort,
        flushInterval,
        keyNameSanitize: false,
        deleteIdleStats: true,
        backends: [backend],
        probekitFlushFile: this.file,
      })})`,
    );
    const child = spawn(process.execPath, [statsJs, config], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    await waitFor('the StatsD daemon to answer health', async () => ((await admin(this.mgmtPort, 'health')).includes('health: up') ? true : undefined), 10_000, 100);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  flushes(): Flush[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Flush);
  }

  /** A counter summed over every flush so far. */
  counter(key: string): number {
    return this.flushes().reduce((sum, f) => sum + (f.counters[key] ?? 0), 0);
  }

  /** Every timer value received for `key`, in order. */
  timers(key: string): number[] {
    return this.flushes().flatMap((f) => f.timers[key] ?? []);
  }

  /** The latest value of a gauge. */
  gauge(key: string): number | undefined {
    const with_ = this.flushes().filter((f) => key in f.gauges);
    return with_.at(-1)?.gauges[key];
  }

  /** Waits until `read()` equals `expected` (the daemon flushes every 200 ms). */
  async until<T>(what: string, read: () => T, expected: T, timeoutMs = 5000): Promise<T> {
    let last: T = read();
    await waitFor(
      `${what} to reach ${JSON.stringify(expected)} (last ${JSON.stringify(last)})`,
      async () => {
        last = read();
        return JSON.stringify(last) === JSON.stringify(expected) ? last : undefined;
      },
      timeoutMs,
      50,
    );
    return last;
  }

  async close(): Promise<void> {
    await this.stop();
    this.dir.remove();
  }
}
