/**
 * Host metrics: load average, total and free memory and the CPU count from `node:os`, and
 * on Linux disk I/O (`/proc/diskstats`) and network bytes (`/proc/net/dev`), sampled into
 * counters at each window end. What a platform lacks is not registered; a read that fails
 * later skips that sample quietly.
 */
import { nodeFs, nodeOs } from '../util/lazy.js';
import type { MonotonicCounter } from '../probes/types.js';
import { advance, type Group, type GroupContext } from './common.js';

/** Bytes read and written by one block device. */
export interface DiskIo {
  readonly device: string;
  readonly read: number;
  readonly written: number;
}

/** Bytes received and sent on one network interface. */
export interface NetIo {
  readonly device: string;
  readonly received: number;
  readonly transmitted: number;
}

/**
 * Partitions, RAM and loop devices, as node_exporter leaves them out by default: a
 * partition's bytes are its disk's too, so summing over devices counts each byte once.
 */
const SKIPPED_DISKS = /^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;

/** Sectors in /proc/diskstats are 512 bytes whatever the device's own sector size. */
const SECTOR_BYTES = 512;

/** The whole disks of `/proc/diskstats` text with their bytes read and written. */
export function parseDiskstats(text: string): DiskIo[] {
  const out: DiskIo[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const device = f[2] as string;
    const read = Number(f[5]) * SECTOR_BYTES;
    const written = Number(f[9]) * SECTOR_BYTES;
    if (SKIPPED_DISKS.test(device) || !Number.isFinite(read) || !Number.isFinite(written)) continue;
    out.push({ device, read, written });
  }
  return out;
}

/** Every interface of `/proc/net/dev` text with its bytes received and transmitted. */
export function parseNetDev(text: string): NetIo[] {
  const out: NetIo[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const device = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (device === '' || f.length < 16) continue;
    const received = Number(f[0]);
    const transmitted = Number(f[8]);
    if (!Number.isFinite(received) || !Number.isFinite(transmitted)) continue;
    out.push({ device, received, transmitted });
  }
  return out;
}

/** Reads a /proc file, or `undefined` when it is absent or unreadable. */
function readProc(path: string): string | undefined {
  try {
    return nodeFs().readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Registers the host metrics; the /proc counters are sampled now and at every window end. */
export function hostGroup(ctx: GroupContext): Group {
  const { registry: p, prefix } = ctx;
  const os = nodeOs();
  const name = (n: string): string => prefix + n;

  // Windows has no load average (os.loadavg() gives zeros there): left out.
  if (process.platform !== 'win32') {
    const loads: Array<[string, 0 | 1 | 2]> = [
      ['1m', 0],
      ['5m', 1],
      ['15m', 2],
    ];
    for (const [period, i] of loads) {
      p.metric({ name: name(`system_cpu_load_average_${period}`), help: `Load average over ${period.replace('m', ' minute(s)')}`, value: () => os.loadavg()[i] as number });
    }
  }
  const cpus = os.cpus().length || os.availableParallelism();
  p.metric({ name: name('system_cpu_logical_count'), help: 'Logical CPUs of the host', value: cpus });
  p.metric({ name: name('system_memory_limit_bytes'), help: 'Total memory of the host', value: () => os.totalmem() });
  p.metric({
    name: name('system_memory_usage_bytes'),
    help: 'Memory of the host by state: free is what is available to start new applications',
    labels: ['system_memory_state'],
    value: () => [[{ system_memory_state: 'free' }, os.freemem()]],
  });
  const samplers: Array<() => void> = [];
  if (readProc('/proc/diskstats') !== undefined) {
    const disk = p.counter({ name: name('system_disk_io_bytes'), monotonic: true, labels: ['system_device', 'disk_io_direction'], help: 'Bytes read from and written to each disk' });
    const series = devices(p.maxSeriesPerMetric, (device) => [
      disk.labels({ system_device: device, disk_io_direction: 'read' }),
      disk.labels({ system_device: device, disk_io_direction: 'write' }),
    ]);
    samplers.push(() => {
      const text = readProc('/proc/diskstats');
      if (text !== undefined) series(parseDiskstats(text).map((d) => [d.device, d.read, d.written]));
    });
  }
  if (readProc('/proc/net/dev') !== undefined) {
    const net = p.counter({
      name: name('system_network_io_bytes'),
      monotonic: true,
      labels: ['network_interface_name', 'network_io_direction'],
      help: 'Bytes received and transmitted on each network interface',
    });
    const series = devices(p.maxSeriesPerMetric, (device) => [
      net.labels({ network_interface_name: device, network_io_direction: 'receive' }),
      net.labels({ network_interface_name: device, network_io_direction: 'transmit' }),
    ]);
    samplers.push(() => {
      const text = readProc('/proc/net/dev');
      if (text !== undefined) series(parseNetDev(text).map((n) => [n.device, n.received, n.transmitted]));
    });
  }
  const sample = (): void => {
    for (const s of samplers) {
      try {
        s();
      } catch {
        // a malformed read skips this sample
      }
    }
  };
  sample();
  return { endWindow: sample, collect: sample, stop() {} };
}

type Pair = [MonotonicCounter<string>, MonotonicCounter<string>];

/**
 * Advances the two counter series of each device to its cumulative values. Devices come and
 * go (a container's virtual interfaces): the series of those present are held, and devices
 * beyond half the registry's series cap (two series each) are left out rather than folded
 * together, so what is tracked stays bounded and every reported number is one device's.
 */
function devices(maxSeries: number, create: (device: string) => Pair): (rows: ReadonlyArray<readonly [string, number, number]>) => void {
  let held = new Map<string, Pair>();
  const known = new Set<string>();
  return (rows) => {
    const next = new Map<string, Pair>();
    for (const [device, a, b] of rows) {
      let pair = held.get(device);
      if (pair === undefined) {
        if (!known.has(device) && known.size * 2 + 2 > maxSeries) continue;
        known.add(device);
        pair = create(device);
      }
      next.set(device, pair);
      advance(pair[0], a);
      advance(pair[1], b);
    }
    held = next;
  };
}
