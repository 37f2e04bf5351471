import { existsSync, readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, type Probe } from '../../src/index.js';
import { runtimeMetrics, type RuntimeMetrics } from '../../src/runtime.js';
import { parseDiskstats, parseNetDev } from '../../src/runtime/host.js';
import { family, series, value } from './read.js';

const MiB = 1024 * 1024;

let p: Probe;
let h: RuntimeMetrics;
afterEach(() => {
  h.stop();
  p.close();
});

function start(options: { maxSeriesPerMetric?: number } = {}): void {
  p = createProbe(options);
  h = runtimeMetrics({ registry: p, windowMs: 0, gc: false });
}

describe('Host metrics from node:os', () => {
  it('reports the load averages exactly as os.loadavg() gives them at the same moment', () => {
    start();
    const got = [value(p, 'system_cpu_load_average_1m'), value(p, 'system_cpu_load_average_5m'), value(p, 'system_cpu_load_average_15m')];
    expect(got).toEqual(loadavg());
  });

  it('reports the CPU count and total memory exactly, and free memory as os.freemem() does', () => {
    start();
    expect(value(p, 'system_cpu_logical_count')).toBe(cpus().length);
    expect(value(p, 'system_memory_limit_bytes')).toBe(totalmem());
    // Free memory moves with every process on the host: compared within 32 MiB.
    expect(Math.abs(value(p, 'system_memory_usage_bytes', { system_memory_state: 'free' }) - freemem())).toBeLessThan(32 * MiB);
  });
});

const DISKSTATS = [
  '   7       0 loop0 120 0 2400 30 0 0 0 0 0 40 30 0 0 0 0 0 0',
  ' 252       0 vda 151553 43211 12278650 61234 279887 233447 10116056 402355 0 268436 477789 0 0 0 0 30002 14199',
  ' 252       1 vda1 150000 43000 12000000 61000 279000 233000 10000000 402000 0 268000 477000 0 0 0 0 0 0',
  ' 259       0 nvme0n1 10 0 80 1 20 0 160 2 0 3 3',
  ' 259       1 nvme0n1p1 10 0 80 1 20 0 160 2 0 3 3',
  '   1       0 ram0 0 0 0 0 0 0 0 0 0 0 0',
  ' 253       0 dm-0 5 0 16 0 7 0 24 0 0 0 0',
  '',
].join('\n');

const NET_DEV = [
  'Inter-|   Receive                                                |  Transmit',
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
  '    lo: 1960176594 1234567    0    0    0     0          0         0 1960176594 1234567    0    0    0     0       0          0',
  '  eth0: 1536798313  998877    0   12    0     0          0        42  9032245   55443    0    0    0     0       0          0',
  'veth1a2b3c:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
  '',
].join('\n');

describe('parseDiskstats()', () => {
  it('reads whole disks, 512-byte sectors read (field 6) and written (field 10), leaving partitions, RAM and loop devices out', () => {
    expect(parseDiskstats(DISKSTATS)).toEqual([
      { device: 'vda', read: 12278650 * 512, written: 10116056 * 512 },
      { device: 'nvme0n1', read: 80 * 512, written: 160 * 512 },
      { device: 'dm-0', read: 16 * 512, written: 24 * 512 },
    ]);
  });

  it('skips short and malformed lines', () => {
    expect(parseDiskstats('8 0 sda 1 2 3\n8 0 sdb x 0 y 0 0 0 z 0 0\n')).toEqual([]);
  });
});

describe('parseNetDev()', () => {
  it('reads every interface with its bytes received (first field) and transmitted (ninth field)', () => {
    expect(parseNetDev(NET_DEV)).toEqual([
      { device: 'lo', received: 1960176594, transmitted: 1960176594 },
      { device: 'eth0', received: 1536798313, transmitted: 9032245 },
      { device: 'veth1a2b3c', received: 0, transmitted: 0 },
    ]);
  });

  it('skips the header lines and malformed ones', () => {
    expect(parseNetDev(NET_DEV.split('\n').slice(0, 2).join('\n'))).toEqual([]);
    expect(parseNetDev('eth1: 1 2 3\n')).toEqual([]);
  });
});

/** `[device, direction] → bytes` of a parsed /proc file, as counter series keys. */
function expected(rows: ReadonlyArray<readonly [string, number, number]>, device: string, directions: readonly [string, string]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, a, b] of rows) {
    out[JSON.stringify({ [device]: name, [directions[0].split('=')[0] as string]: directions[0].split('=')[1] })] = a;
    out[JSON.stringify({ [device]: name, [directions[1].split('=')[0] as string]: directions[1].split('=')[1] })] = b;
  }
  return out;
}

describe.runIf(existsSync('/proc/diskstats'))('Disk I/O from the live /proc/diskstats', () => {
  it('counts every whole disk between what /proc/diskstats said just before and just after a window end', () => {
    start();
    const before = parseDiskstats(readFileSync('/proc/diskstats', 'utf8'));
    h.endWindow();
    const after = parseDiskstats(readFileSync('/proc/diskstats', 'utf8'));
    const got = series(p, 'system_disk_io_bytes');
    const low = expected(before.map((d) => [d.device, d.read, d.written]), 'system_device', ['disk_io_direction=read', 'disk_io_direction=write']);
    const high = expected(after.map((d) => [d.device, d.read, d.written]), 'system_device', ['disk_io_direction=read', 'disk_io_direction=write']);
    expect(Object.keys(got).sort()).toEqual(Object.keys(high).sort());
    expect(Object.entries(got).filter(([k, v]) => !(v >= (low[k] ?? 0) && v <= (high[k] as number)))).toEqual([]);
  });
});

describe.runIf(existsSync('/proc/net/dev'))('Network bytes from the live /proc/net/dev', () => {
  it('counts every interface between what /proc/net/dev said just before and just after a window end', () => {
    start();
    const before = parseNetDev(readFileSync('/proc/net/dev', 'utf8'));
    h.endWindow();
    const after = parseNetDev(readFileSync('/proc/net/dev', 'utf8'));
    const got = series(p, 'system_network_io_bytes');
    const dirs = ['network_io_direction=receive', 'network_io_direction=transmit'] as const;
    const low = expected(before.map((n) => [n.device, n.received, n.transmitted]), 'network_interface_name', dirs);
    const high = expected(after.map((n) => [n.device, n.received, n.transmitted]), 'network_interface_name', dirs);
    expect(Object.keys(got).sort()).toEqual(Object.keys(high).sort());
    expect(Object.entries(got).filter(([k, v]) => !(v >= (low[k] ?? 0) && v <= (high[k] as number)))).toEqual([]);
  });

  it.runIf(parseNetDev(existsSync('/proc/net/dev') ? readFileSync('/proc/net/dev', 'utf8') : '').length >= 3)(
    'tracks no more devices than half the series cap (two series each), and folds none together',
    () => {
      start({ maxSeriesPerMetric: 4 });
      h.endWindow();
      const labels = (family(p, 'system_network_io_bytes').series as ReadonlyArray<{ labels: Record<string, string> }>).map((s) => s.labels.network_interface_name);
      expect(labels).toHaveLength(4);
      expect(new Set(labels).size).toBe(2);
      expect(labels).not.toContain('__overflow__');
    },
  );
});

describe('host: false', () => {
  it('registers no host family', () => {
    p = createProbe();
    h = runtimeMetrics({ registry: p, windowMs: 0, gc: false, host: false });
    expect(p.snapshot().metrics.filter((m) => m.exportName.startsWith('system_'))).toEqual([]);
  });
});
