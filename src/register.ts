/**
 * `probekit/register`: instruments an application it is loaded into, from environment
 * variables alone (`PROBEKIT_<SECTION>_<OPTION>`, see `init()`):
 *
 *     PROBEKIT_PROMETHEUS_PORT=9464 node --import probekit/register app.js
 *     PROBEKIT_PROMETHEUS_PORT=9464 node -r probekit/register app.js
 *
 * It never throws: it runs before the application.
 */
import { init, type Instrumentation } from './init/init.js';

function start(): Instrumentation | undefined {
  try {
    return init();
  } catch (err) {
    process.emitWarning(`probekit: probekit/register could not start: ${err instanceof Error ? err.message : String(err)}`, { code: 'PROBEKIT_INIT' });
    return undefined;
  }
}

/** What `init()` returned when this module was loaded (`ready`, `metricsServer`, `close()`), or `undefined` when it could not start. */
export const instrumentation: Instrumentation | undefined = start();

export type { Instrumentation } from './init/init.js';
