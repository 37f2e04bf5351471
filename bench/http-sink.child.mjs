// An HTTP sink in its own process: answers 200 to every push and counts the body bytes;
// GET /bytes returns the count since the last GET /bytes. Prints its port.
import { createServer } from 'node:http';

let bytes = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/bytes') {
    res.end(String(bytes));
    bytes = 0;
    return;
  }
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => res.end());
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
