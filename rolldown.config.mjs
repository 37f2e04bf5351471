// The published JavaScript: one file per entry of the exports map, and shared chunks, so
// every entry sees one copy of the registry and `import 'probekit'` reads and compiles a
// few files instead of forty. tsc writes the declarations (tsconfig.build.json).
import { defineConfig } from 'rolldown';

export default defineConfig({
  input: {
    index: 'src/index.ts',
    prometheus: 'src/prometheus.ts',
    statsd: 'src/statsd.ts',
    push: 'src/push.ts',
    http: 'src/http.ts',
    express: 'src/express.ts',
    seneca: 'src/seneca.ts',
    pmx: 'src/pmx.ts',
    runtime: 'src/runtime.ts',
    register: 'src/register.ts',
    admin: 'src/admin.ts',
    // Not in the exports map: the transport layer for the test fixtures that run built code.
    'internal/transport': 'src/internal/transport.ts',
  },
  platform: 'node',
  // package.json's sideEffects describes the published files; our own sources are all
  // kept as written (the cluster responder is a module imported for its effect alone).
  treeshake: { moduleSideEffects: () => true },
  external: [/^node:/, 'prom-client'],
  output: {
    dir: 'dist',
    format: 'esm',
    sourcemap: true,
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/probekit-[hash].js',
    // Shared code in one chunk, so an entry reads two files, not ten. The entry modules
    // (src/*.ts) stay in their entries, and so does the cluster responder, the root's one
    // module with an effect on import (what package.json's sideEffects names).
    codeSplitting: { groups: [{ name: 'probekit', test: /[\\/]src[\\/](?!exporters[\\/]cluster-worker\.ts$|[a-z]+\.ts$)/ }] },
  },
});
