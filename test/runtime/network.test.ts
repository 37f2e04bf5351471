import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';
import { networkMetrics, portMetrics } from '../../src/runtime.js';
import { series } from './read.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function registry(): Probe {
  const p = createProbe();
  cleanups.push(() => p.close());
  return p;
}

/** A TCP server that answers every chunk with half as many bytes; resolves with its port. */
async function echoHalf(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.on('data', (d: Buffer) => s.write(Buffer.alloc(d.length / 2, 1))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { server, port: (server.address() as { port: number }).port };
}

/** Sends `bytes` and waits for the half that comes back. */
function exchange(socket: Socket, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    const on = (d: Buffer) => {
      got += d.length;
      if (got >= bytes / 2) {
        socket.off('data', on);
        resolve();
      }
    };
    socket.on('data', on);
    socket.write(Buffer.alloc(bytes, 2));
  });
}

const io = (p: Probe) => series(p, 'process_network_io_bytes');
const both = (n: number) => ({ '{"network_io_direction":"receive"}': n, '{"network_io_direction":"transmit"}': n });

describe('networkMetrics()', () => {
  it("counts every byte both ends of a connection in this process move, exactly at each read, while it is open and after it closed", async () => {
    const p = registry();
    const network = networkMetrics({ registry: p });
    cleanups.push(() => network.stop());
    const { port } = await echoHalf();
    const socket = createConnection(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    await exchange(socket, 1000);
    // The client sent 1000 and read 500; the server read 1000 and sent 500.
    expect(io(p)).toEqual(both(1500));
    await exchange(socket, 400);
    expect(io(p)).toEqual(both(2100));
    await new Promise<void>((r) => socket.end(r));
    await new Promise((r) => socket.once('close', r));
    expect(io(p)).toEqual(both(2100));
  });

  it('counts a socket once when called twice on a registry, and no new socket once every caller stopped', async () => {
    const p = registry();
    const first = networkMetrics({ registry: p });
    const second = networkMetrics({ registry: p });
    const { port } = await echoHalf();
    const a = createConnection(port, '127.0.0.1');
    await exchange(a, 200);
    expect(io(p)).toEqual(both(300));
    first.stop();
    first.stop();
    const b = createConnection(port, '127.0.0.1');
    await exchange(b, 200);
    expect(io(p)).toEqual(both(600));
    second.stop();
    const c = createConnection(port, '127.0.0.1');
    await exchange(c, 200);
    expect(io(p)).toEqual(both(600));
    for (const s of [a, b, c]) s.destroy();
  });
});

describe('portMetrics()', () => {
  it('lists each server that starts listening, and forgets it when it closes', async () => {
    const p = registry();
    const ports = portMetrics({ registry: p });
    cleanups.push(() => ports.stop());
    const { server, port } = await echoHalf();
    expect(series(p, 'process_listening_ports')).toEqual({ [JSON.stringify({ port: String(port), address: '127.0.0.1', family: 'IPv4' })]: 1 });
    await new Promise((r) => server.close(r));
    expect(series(p, 'process_listening_ports')).toEqual({});
  });

  it('watches nothing once every caller stopped', async () => {
    const p = registry();
    portMetrics({ registry: p }).stop();
    await echoHalf();
    expect(series(p, 'process_listening_ports')).toEqual({});
  });
});
