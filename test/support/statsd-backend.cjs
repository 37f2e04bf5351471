// A StatsD daemon backend for the tests: appends one JSON line per flush to a file, so
// counters and timers (which the daemon resets at every flush) can be summed exactly.
const fs = require('node:fs');

exports.init = function init(_startup, config, events) {
  const file = config.probekitFlushFile;
  events.on('flush', (ts, metrics) => {
    const record = { ts, counters: metrics.counters, gauges: metrics.gauges, timers: metrics.timers, timer_counters: metrics.timer_counters };
    fs.appendFileSync(file, `${JSON.stringify(record)}\n`);
  });
  return true;
};
