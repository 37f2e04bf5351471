// The dashboard's server cost: the demo service (`npm start`: Express, Seneca, runtime
// metrics, its load generator on) measured by its own CPU time per second (from
// /proc/<pid>/stat, as the kernel accounts it), alone and with ten dashboards open.
//
// A dashboard here does what the page does on the network: it reads the `stream` feed and
// fetches `errors` whenever a frame's error count moved (the demo's load makes errors all
// along). No browser runs: ten Chromium tabs would take the two cores the demo is measured on,
// and the browser's own cost is not the server's. Phases alternate (alone, ten, alone, ten…)
// so that drift in the machine's load falls on both; the medians are reported.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEMO = fileURLToPath(new URL('../examples/demo/index.mjs', import.meta.url));
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time the process has used so far, in ms (user + system). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** One dashboard's network traffic: the stream, and `errors` each time the count moves. */
function openDashboard(base) {
  const controller = new AbortController();
  let frames = 0;
  const done = (async () => {
    const res = await fetch(`${base}stream`, { signal: controller.signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let total = -1;
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) return;
      buffer += value;
      let at;
      while ((at = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        if (!block.startsWith('event: frame')) continue;
        frames += 1;
        const m = /"e":\{"total":(\d+)/.exec(block);
        if (m !== null && Number(m[1]) !== total) {
          total = Number(m[1]);
          await (await fetch(`${base}errors`, { signal: controller.signal })).arrayBuffer();
        }
      }
    }
  })().catch(() => {});
  return {
    frames: () => frames,
    close: async () => {
      controller.abort();
      await done;
    },
  };
}

/** Starts the demo with its load on, both servers on free ports; resolves with its pid and admin URL. */
async function startDemo() {
  const child = spawn(process.execPath, [DEMO], { env: { ...process.env, PORT: '0', ADMIN_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d.toString()));
  child.stderr.on('data', (d) => (out += d.toString()));
  for (let i = 0; i < 200 && !/dashboard: (http\S+)/.test(out); i++) await sleep(50);
  const m = /dashboard: (http\S+)\/dashboard/.exec(out);
  if (m === null) {
    child.kill('SIGKILL');
    throw new Error(`the demo did not print its dashboard URL:\n${out}`);
  }
  return { child, base: `${m[1]}/` };
}

/**
 * Rows: the demo alone and with ten dashboards, CPU ms per second (medians over the phases).
 * BENCH_DASHBOARD_SECONDS (default 15) per phase, BENCH_DASHBOARD_ROUNDS (default 3) pairs.
 */
export async function dashboardRows() {
  const seconds = Number(process.env.BENCH_DASHBOARD_SECONDS ?? 15);
  const rounds = Number(process.env.BENCH_DASHBOARD_ROUNDS ?? 3);
  const { child, base } = await startDemo();
  try {
    await sleep(3000); // warm-up: the load generator and the JIT settle
    const alone = [];
    const withTen = [];
    let frames = 0;
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      let c0 = cpuMs(child.pid);
      await sleep(seconds * 1000);
      alone.push((cpuMs(child.pid) - c0) / ((performance.now() - t0) / 1000));

      const dashboards = Array.from({ length: 10 }, () => openDashboard(base));
      await sleep(1500); // the ring's history is sent once per stream: not the steady cost
      t0 = performance.now();
      c0 = cpuMs(child.pid);
      const f0 = dashboards.reduce((n, d) => n + d.frames(), 0);
      await sleep(seconds * 1000);
      withTen.push((cpuMs(child.pid) - c0) / ((performance.now() - t0) / 1000));
      frames += dashboards.reduce((n, d) => n + d.frames(), 0) - f0;
      await Promise.all(dashboards.map((d) => d.close()));
    }
    const a = median(alone);
    const t = median(withTen);
    return { seconds, rounds, alone: a, withTen: t, added: t - a, ratio: (t - a) / a, framesPerSecond: frames / (rounds * seconds) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}
