import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

describe('Shared state across installed copies', () => {
  it('still loads and records when globalThis is frozen, keeping its state to itself', () => {
    const program = [
      'Object.freeze(globalThis);',
      `const { probe, prometheus } = await import(${JSON.stringify(dist)});`,
      "probe.counter({ name: 'jobs', monotonic: true }).inc(2);",
      "console.log((await prometheus.text()).match(/^jobs_total .*$/m)?.[0]);",
    ].join('\n');
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 20_000 });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: 'jobs_total 2\n', stderr: '' });
  });
});
