/**
 * The JSON push payload (version 1; its JSON Schema is schema/push-payload.v1.json) and the
 * outbox of error records: records wait there, bounded, until a 2xx acknowledges the push
 * that carried them, so a receiver that was down still gets each of them exactly once.
 */
import type { ErrorRecord } from '../../errors/record.js';
import type { Snapshot } from '../../probes/types.js';

/** Version of the JSON payload; a change that breaks a receiver raises it. */
export const PAYLOAD_VERSION = 1;

/** Who pushed: the service name and instance, the process and the host. */
export interface PushService {
  readonly name: string;
  readonly instance: string;
  readonly pid: number;
  readonly hostname: string;
}

/** The JSON body of a push (schema/push-payload.v1.json). */
export interface PushPayload {
  readonly version: typeof PAYLOAD_VERSION;
  /** When it was made, ISO 8601. */
  readonly sentAt: string;
  readonly service: PushService;
  /** Every probe, as `probe.snapshot()` returns it; counters and totals are cumulative. */
  readonly probes: Snapshot;
  /** Error records not yet acknowledged by a 2xx, oldest first. */
  readonly errors: readonly ErrorRecord[];
}

/** Error records waiting for an acknowledged push; beyond `max` the oldest go, counted. */
export class Outbox {
  private records: ErrorRecord[] = [];

  constructor(
    private readonly max: number,
    private readonly dropped: (n: number) => void,
  ) {}

  add(record: ErrorRecord): void {
    this.records.push(record);
    if (this.records.length > this.max) {
      this.records.shift();
      this.dropped(1);
    }
  }

  /** The records a push carries now (a copy). */
  batch(): readonly ErrorRecord[] {
    return this.records.slice();
  }

  /** Removes the records a 2xx acknowledged; ones that arrived meanwhile stay. */
  acknowledge(sent: readonly ErrorRecord[]): void {
    if (sent.length === 0) return;
    const done = new Set(sent);
    this.records = this.records.filter((r) => !done.has(r));
  }

  get size(): number {
    return this.records.length;
  }
}
