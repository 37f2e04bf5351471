/**
 * Node modules probekit needs only once a feature is used (a server, a socket, a
 * cluster): loaded on first use, so `import 'probekit'` stays cheap, and remembered, so a
 * per-request caller pays a Map lookup.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const loaded = new Map<string, unknown>();

/** `require(name)`, remembered: a per-request caller pays a Map lookup, not a module load. */
function load(name: string): unknown {
  let module = loaded.get(name);
  if (module === undefined) {
    module = require(name);
    loaded.set(name, module);
  }
  return module;
}

/** `node:http`, loaded on first use. */
export const nodeHttp = (): typeof import('node:http') => load('node:http') as typeof import('node:http');
/** `node:zlib`, loaded on first use. */
export const nodeZlib = (): typeof import('node:zlib') => load('node:zlib') as typeof import('node:zlib');
/** `node:dgram`, loaded on first use. */
export const nodeDgram = (): typeof import('node:dgram') => load('node:dgram') as typeof import('node:dgram');
/** `node:dns/promises`, loaded on first use. */
export const nodeDns = (): typeof import('node:dns/promises') => load('node:dns/promises') as typeof import('node:dns/promises');
/** `node:cluster`, loaded on first use. */
export const nodeCluster = (): typeof import('node:cluster').default => load('node:cluster') as typeof import('node:cluster').default;
/** A package (prom-client), loaded on first use. */
export const loadPackage = <T>(name: string): T => load(name) as T;
/** `node:https`, loaded on first use. */
export const nodeHttps = (): typeof import('node:https') => load('node:https') as typeof import('node:https');
/** `node:crypto`, loaded on first use. */
export const nodeCrypto = (): typeof import('node:crypto') => load('node:crypto') as typeof import('node:crypto');
/** `node:net`, loaded on first use. */
export const nodeNet = (): typeof import('node:net') => load('node:net') as typeof import('node:net');
/** `node:diagnostics_channel`, loaded on first use. */
export const nodeDiagnostics = (): typeof import('node:diagnostics_channel') => load('node:diagnostics_channel') as typeof import('node:diagnostics_channel');
/** `node:os`, loaded on first use. */
export const nodeOs = (): typeof import('node:os') => load('node:os') as typeof import('node:os');
/** `node:fs`, loaded on first use. */
export const nodeFs = (): typeof import('node:fs') => load('node:fs') as typeof import('node:fs');
/** `node:v8`, loaded on first use. */
export const nodeV8 = (): typeof import('node:v8') => load('node:v8') as typeof import('node:v8');
/** `node:perf_hooks`, loaded on first use. */
export const nodePerfHooks = (): typeof import('node:perf_hooks') => load('node:perf_hooks') as typeof import('node:perf_hooks');
/** `node:inspector`, loaded on first use (a CPU profile): never loaded by an import of probekit. */
export const nodeInspector = (): typeof import('node:inspector') => load('node:inspector') as typeof import('node:inspector');
