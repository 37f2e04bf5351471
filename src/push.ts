/**
 * `probekit/push`: HTTP push to a Prometheus Pushgateway or a JSON endpoint (the root
 * entry exports it too).
 *
 * @example
 * import { httpPush } from 'probekit/push';
 * httpPush({ url: 'http://127.0.0.1:9091', job: 'nightly-report' });
 */
export { httpPush } from './exporters/push/index.js';
export { PAYLOAD_VERSION } from './exporters/push/json.js';
export type { PushExporter, PushFormat, PushOptions, PushOutcome, PushPayload, PushService } from './exporters/push/index.js';
