// Node's deprecated domain module, in its own process: loading it hooks every async operation.
import { AsyncLocalStorage } from 'node:async_hooks';
import domain from 'node:domain';
import { runCases, sink } from './lib/harness.mjs';
import { ERROR_GROUPS } from './errors.bench.mjs';

const als = new AsyncLocalStorage();
const store = {};
const d = domain.create();
d.on('error', () => {});
const work = () => {
  sink.n++;
};
const rows = runCases([
  { group: ERROR_GROUPS.run, impl: 'baseline bare `als.run(store, fn)`', baseline: true, run: (n) => { for (let i = 0; i < n; i++) als.run(store, work); } },
  { group: ERROR_GROUPS.run, impl: "Node's `domain.run(fn)`", note: 'own process', run: (n) => { for (let i = 0; i < n; i++) d.run(work); } },
]);
process.stdout.write(`${JSON.stringify(rows)}\n`);
