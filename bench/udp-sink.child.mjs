// A StatsD-like UDP sink in its own process (default socket buffer), summing what it
// receives per key: counts for `|c`, number of values for `|ms`. Answers over IPC.
import dgram from 'node:dgram';

const sums = new Map();
const socket = dgram.createSocket('udp4');
socket.on('message', (msg) => {
  for (const line of msg.toString().split('\n')) {
    const colon = line.indexOf(':');
    const bar = line.indexOf('|', colon);
    if (colon < 0 || bar < 0) continue;
    const key = line.slice(0, colon);
    const type = line.slice(bar + 1, bar + 3);
    const rate = /\|@([\d.]+)/.exec(line);
    const weight = rate ? 1 / Number(rate[1]) : 1;
    const add = type.startsWith('c') ? Number(line.slice(colon + 1, bar)) * weight : weight;
    sums.set(key, (sums.get(key) ?? 0) + add);
  }
});
socket.bind(0, '127.0.0.1', () => process.send({ type: 'port', port: socket.address().port }));
process.on('message', (m) => {
  if (m.type === 'read') process.send({ type: 'sum', key: m.key, value: sums.get(m.key) ?? 0 });
  if (m.type === 'exit') process.exit(0);
});
