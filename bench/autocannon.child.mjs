// autocannon in its own process against 127.0.0.1:<port> for <seconds>; prints { requests, rps }.
import autocannon from 'autocannon';

const [, , port, seconds] = process.argv;
const result = await autocannon({ url: `http://127.0.0.1:${port}/hello/world`, connections: 16, duration: Number(seconds) });
console.log(JSON.stringify({ requests: result.requests.total, rps: result.requests.average, errors: result.errors + result.non2xx }));
