/**
 * The transport layer as one bundle entry, for probekit's own test fixtures, which run
 * the built code in child processes. Not in the package's `exports` map: not public API.
 */
export { createClient } from '../transport/client.js';
export { listen } from '../transport/server.js';
