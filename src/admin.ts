/**
 * `probekit/admin`: the admin server (health checks, metrics, recent errors, actions,
 * CPU profiles and heap snapshots on demand, fault injection), health checks, and
 * threshold alerts to a chat webhook. Importing it starts nothing: `admin.serve()` does.
 *
 * @example
 * import { admin, health } from 'probekit/admin';
 * health.check('db', () => db.ping(), { timeoutMs: 500 });
 * const server = await admin.serve({ port: 9465, token: process.env.ADMIN_TOKEN });
 */
export { admin } from './admin/server.js';
export { health } from './admin/health.js';
export { alert } from './admin/alerts.js';
export type { AdminActionOptions, AdminOptions, AdminServer } from './admin/server.js';
export type { HealthCheck, HealthCheckOptions, HealthCheckResult, HealthReport } from './admin/health.js';
export type { FieldType, InputSchema } from './admin/schema.js';
export type { Alert, AlertField, AlertMessage, AlertOptions } from './admin/alerts.js';
