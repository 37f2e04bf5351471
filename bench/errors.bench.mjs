// The error side: errorDomain.run and context.run against a bare AsyncLocalStorage.run,
// context.get against getStore, all in this process. Node's deprecated domain module
// runs in its own process (domain.child.mjs): loading it installs async hooks for every
// async operation of the process, which would slow every other case here.
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, errorDomain } from '../dist/index.js';
import { sink } from './lib/harness.mjs';

export const ERROR_GROUPS = {
  run: 'run a function in a scope',
  nested: 'a domain inside a fresh request context',
  get: 'read the active context',
};

export function errorCases() {
  const als = new AsyncLocalStorage();
  const store = { requestId: 'r1' };
  const domain = errorDomain.create();
  domain.on('error', () => {});
  const work = () => {
    sink.n++;
  };
  const cases = [
    { group: ERROR_GROUPS.run, impl: 'baseline bare `als.run(store, fn)`', baseline: true, run: (n) => { for (let i = 0; i < n; i++) als.run(store, work); } },
    { group: ERROR_GROUPS.run, impl: 'probekit `errorDomain.run(fn)`', run: (n) => { for (let i = 0; i < n; i++) domain.run(work); } },
    { group: ERROR_GROUPS.nested, impl: 'baseline `als.run(store, () => als.run(store, fn))`', baseline: true, run: (n) => { for (let i = 0; i < n; i++) als.run(store, () => als.run(store, work)); } },
    { group: ERROR_GROUPS.nested, impl: 'probekit `context.run(store, () => errorDomain.run(fn))`', note: 'a new outer context each call: no frame reuse', run: (n) => { for (let i = 0; i < n; i++) context.run(store, () => domain.run(work)); } },
    { group: ERROR_GROUPS.run, impl: 'probekit `context.run(store, fn)`', run: (n) => { for (let i = 0; i < n; i++) context.run(store, work); } },
  ];
  let got;
  als.run(store, () => {
    cases.push({ group: ERROR_GROUPS.get, impl: 'baseline `als.getStore()`', baseline: true, run: (n) => { for (let i = 0; i < n; i++) got = als.getStore(); sink.v += got === store ? 1 : 0; } });
  });
  context.run(store, () => {
    cases.push({ group: ERROR_GROUPS.get, impl: 'probekit `context.get()`', run: (n) => { for (let i = 0; i < n; i++) got = context.get(); sink.v += got === store ? 1 : 0; } });
    cases.push({ group: ERROR_GROUPS.get, impl: "probekit `context.get('requestId')`", run: (n) => { for (let i = 0; i < n; i++) got = context.get('requestId'); sink.v += got === 'r1' ? 1 : 0; } });
  });
  return { cases, close: () => domain.dispose() };
}
