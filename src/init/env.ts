/**
 * The environment variables `init()` reads: `PROBEKIT_<SECTION>_<OPTION>`, one table.
 */
import type { InitOptions } from './init.js';
import { describe } from '../util/validate.js';
import { warnOnce } from './warn.js';

/** One environment variable: its name, the section and option it sets, and how it is read. */
export interface EnvVar {
  readonly name: string;
  readonly section: keyof InitOptions;
  /** The option inside the section; `undefined` for the section's own on/off switch. */
  readonly option?: string;
  readonly type: 'boolean' | 'string' | 'port' | 'integer' | readonly string[];
}

/** Every variable `init()` reads; the README's table lists the same. */
export const ENV_VARS: readonly EnvVar[] = [
  { name: 'PROBEKIT_SERVICE_NAME', section: 'serviceName', type: 'string' },
  { name: 'PROBEKIT_HTTP_ENABLED', section: 'http', type: 'boolean' },
  { name: 'PROBEKIT_HTTP_NAMING', section: 'http', option: 'naming', type: ['otel', 'classic'] },
  { name: 'PROBEKIT_ERRORS_ENABLED', section: 'errors', type: 'boolean' },
  { name: 'PROBEKIT_RUNTIME_ENABLED', section: 'custom_probes', type: 'boolean' },
  { name: 'PROBEKIT_RUNTIME_NAMING', section: 'custom_probes', option: 'naming', type: ['otel', 'classic'] },
  { name: 'PROBEKIT_NETWORK_ENABLED', section: 'network', type: 'boolean' },
  { name: 'PROBEKIT_PORTS_ENABLED', section: 'ports', type: 'boolean' },
  { name: 'PROBEKIT_PROMETHEUS_ENABLED', section: 'prometheus', type: 'boolean' },
  { name: 'PROBEKIT_PROMETHEUS_PORT', section: 'prometheus', option: 'port', type: 'port' },
  { name: 'PROBEKIT_PROMETHEUS_HOST', section: 'prometheus', option: 'host', type: 'string' },
  { name: 'PROBEKIT_PROMETHEUS_PATH', section: 'prometheus', option: 'path', type: 'string' },
  { name: 'PROBEKIT_STATSD_ENABLED', section: 'statsd', type: 'boolean' },
  { name: 'PROBEKIT_STATSD_HOST', section: 'statsd', option: 'host', type: 'string' },
  { name: 'PROBEKIT_STATSD_PORT', section: 'statsd', option: 'port', type: 'port' },
  { name: 'PROBEKIT_STATSD_PREFIX', section: 'statsd', option: 'prefix', type: 'string' },
  { name: 'PROBEKIT_STATSD_TAG_FORMAT', section: 'statsd', option: 'tagFormat', type: ['none', 'dogstatsd', 'influxdb', 'graphite'] },
  { name: 'PROBEKIT_PUSH_ENABLED', section: 'push', type: 'boolean' },
  { name: 'PROBEKIT_PUSH_URL', section: 'push', option: 'url', type: 'string' },
  { name: 'PROBEKIT_PUSH_FORMAT', section: 'push', option: 'format', type: ['prometheus', 'json'] },
  { name: 'PROBEKIT_PUSH_JOB', section: 'push', option: 'job', type: 'string' },
  { name: 'PROBEKIT_PUSH_INTERVAL_MS', section: 'push', option: 'interval', type: 'integer' },
  { name: 'PROBEKIT_SHUTDOWN_ENABLED', section: 'handleShutdown', type: 'boolean' },
  { name: 'PROBEKIT_ADMIN_ENABLED', section: 'admin', type: 'boolean' },
  { name: 'PROBEKIT_ADMIN_PORT', section: 'admin', option: 'port', type: 'port' },
  { name: 'PROBEKIT_ADMIN_HOST', section: 'admin', option: 'host', type: 'string' },
  { name: 'PROBEKIT_ADMIN_TOKEN', section: 'admin', option: 'token', type: 'string' },
  { name: 'PROBEKIT_ADMIN_BASE_PATH', section: 'admin', option: 'basePath', type: 'string' },
];

const KNOWN_VARS = new Set(ENV_VARS.map((v) => v.name));
/** Variables of probekit's own test setup, not of init(). */
const OTHER_VARS = new Set(['PROBEKIT_REQUIRE_PEERS']);

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/**
 * The options the environment gives `init()`. A section is on when its `_ENABLED`
 * variable is true, or when any of its other variables is set (and `_ENABLED` is not
 * false). A variable that cannot be read warns once (`PROBEKIT_INVALID_ENV`) and turns
 * its section off; nothing here throws, since it runs before the application.
 */
export function optionsFromEnv(env: Readonly<Record<string, string | undefined>>): InitOptions {
  const sections = new Map<keyof InitOptions, { on: boolean | undefined; options: Record<string, unknown>; bad: boolean }>();
  const entry = (s: keyof InitOptions) => {
    let e = sections.get(s);
    if (e === undefined) sections.set(s, (e = { on: undefined, options: {}, bad: false }));
    return e;
  };
  let serviceName: string | undefined;
  for (const name of Object.keys(env)) {
    if (name.startsWith('PROBEKIT_') && !KNOWN_VARS.has(name) && !OTHER_VARS.has(name)) {
      warnOnce(`probekit: environment variable ${name} is not one probekit reads (see README, "init() and environment variables"); it is ignored`, 'PROBEKIT_UNKNOWN_ENV');
    }
  }
  for (const v of ENV_VARS) {
    const raw = env[v.name];
    if (raw === undefined || raw.trim() === '') continue;
    const text = raw.trim();
    const value = readEnv(v, text);
    if (value === undefined) {
      warnOnce(`probekit: environment variable ${v.name} must be ${expected(v)}, got ${describe(text)}; "${String(v.section)}" stays off`, 'PROBEKIT_INVALID_ENV');
      entry(v.section).bad = true;
      continue;
    }
    if (v.section === 'serviceName') {
      serviceName = value as string;
      continue;
    }
    const e = entry(v.section);
    if (v.option === undefined) e.on = value as boolean;
    else e.options[v.option] = value;
  }
  const out: Record<string, unknown> = {};
  if (serviceName !== undefined) out.serviceName = serviceName;
  for (const [section, e] of sections) {
    if (e.bad || e.on === false) {
      out[section] = false;
      continue;
    }
    const hasOptions = Object.keys(e.options).length > 0;
    if (section === 'push') {
      if (typeof e.options.url === 'string') out.push = e.options;
      else if (hasOptions || e.on === true) {
        warnOnce('probekit: the PROBEKIT_PUSH_* variables need PROBEKIT_PUSH_URL; "push" stays off', 'PROBEKIT_INVALID_ENV');
        out.push = false;
      }
      continue;
    }
    if (section === 'network' || section === 'ports') out[section] = e.on === true;
    else if (hasOptions) out[section] = e.options;
    else if (e.on === true) out[section] = true;
  }
  return out as InitOptions;
}

function readEnv(v: EnvVar, text: string): unknown {
  if (Array.isArray(v.type)) return (v.type as readonly string[]).includes(text) ? text : undefined;
  switch (v.type) {
    case 'boolean':
      return TRUE.has(text.toLowerCase()) ? true : FALSE.has(text.toLowerCase()) ? false : undefined;
    case 'port': {
      const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
      return n >= 0 && n <= 65535 ? n : undefined;
    }
    case 'integer': {
      const n = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
      return n > 0 ? n : undefined;
    }
    default:
      return text;
  }
}

function expected(v: EnvVar): string {
  if (Array.isArray(v.type)) return `one of ${(v.type as readonly string[]).join(', ')}`;
  switch (v.type) {
    case 'boolean':
      return 'true or false (1/0, yes/no, on/off)';
    case 'port':
      return 'a port number from 0 to 65535';
    case 'integer':
      return 'a positive whole number';
    default:
      return 'a non-empty string';
  }
}

