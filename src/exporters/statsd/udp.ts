/**
 * StatsD's UDP transport: one connected socket to the daemon, resolved once and again
 * after an error, never keeping the process alive. A connected UDP socket learns of a
 * refused datagram (ICMP) only later, as an error on the socket: `errorSinceFlush` tells
 * the serializer that the last flush's counter values may not have arrived.
 */
import type dgram from 'node:dgram';
import { nodeDgram, nodeDns } from '../../util/lazy.js';

export class UdpTransport {
  private socket: dgram.Socket | undefined;
  private stale = true;
  /** True when the socket reported an error since the last call to {@link UdpTransport.settle}. */
  errorSinceFlush = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly fail: (error: unknown) => void,
  ) {}

  /** True while a socket is open. */
  get open(): boolean {
    return this.socket !== undefined;
  }

  /** Whether an error came since the last settle, and starts watching anew. */
  settle(): boolean {
    const failed = this.errorSinceFlush;
    this.errorSinceFlush = false;
    return failed;
  }

  /** The connected socket, made anew after an error on the address the host resolves to now; `undefined` when that fails (reported). */
  async connect(): Promise<dgram.Socket | undefined> {
    if (this.socket !== undefined && !this.stale) return this.socket;
    try {
      const found = await nodeDns().lookup(this.host);
      this.close();
      const s = nodeDgram().createSocket(found.family === 6 ? 'udp6' : 'udp4');
      s.on('error', (err) => {
        this.stale = true;
        this.errorSinceFlush = true;
        this.fail(err);
      });
      s.unref();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.connect(this.port, found.address, (err?: Error) => {
          s.off('error', reject);
          if (err) reject(err);
          else resolve();
        });
      }).catch((err: unknown) => {
        s.close();
        throw err;
      });
      this.socket = s;
      this.stale = false;
      return s;
    } catch (err) {
      this.fail(err);
      return undefined;
    }
  }

  /** Sends one datagram; resolves true when the socket took it without error. Never rejects. */
  send(s: dgram.Socket, payload: string): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      try {
        s.send(payload, (err) => {
          if (err) {
            this.stale = true;
            this.errorSinceFlush = true;
            this.fail(err);
            resolve(false);
          } else resolve(true);
        });
      } catch (err) {
        this.stale = true; // a socket that cannot send is replaced at the next flush
        this.errorSinceFlush = true;
        this.fail(err);
        resolve(false);
      }
    });
  }

  close(): void {
    try {
      this.socket?.close();
    } catch {
      // already closed
    }
    this.socket = undefined;
  }
}
