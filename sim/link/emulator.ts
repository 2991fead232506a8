/**
 * A TCP proxy that behaves like a school uplink: one-way latency, a bandwidth cap (per direction),
 * random connection resets, and outages (scheduled or by hand). It counts the bytes that cross it both
 * ways (TCP payload: HTTP requests and answers, headers included). Listens on loopback only.
 */
import net from 'node:net';

/** Link characteristics. */
export interface LinkProfile {
  /** One-way delay added to every chunk, ms (RTT is twice this). */
  latencyMs: number;
  /** Bandwidth cap per direction, bits/s; Infinity for none. */
  bandwidthBitsPerSec: number;
  /** Probability that a chunk crossing the link resets its connection instead (loss that TCP cannot hide). */
  resetProbability: number;
}

/** Presets: a GEO VSAT (600 ms RTT, 2 Mbps), a LEO terminal, a clean loopback. */
export const LINK_PROFILES = {
  geo: { latencyMs: 300, bandwidthBitsPerSec: 2_000_000, resetProbability: 0 },
  leo: { latencyMs: 25, bandwidthBitsPerSec: 20_000_000, resetProbability: 0 },
  clean: { latencyMs: 0, bandwidthBitsPerSec: Infinity, resetProbability: 0 },
} as const satisfies Record<string, LinkProfile>;

/** One scheduled outage, relative to `start()`. */
export interface Outage {
  atMs: number;
  durationMs: number;
}

export interface LinkEmulatorOptions extends Partial<LinkProfile> {
  /** Where the proxy forwards to. */
  target: { host: string; port: number };
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Default: a free port. */
  port?: number;
  outages?: readonly Outage[];
  /** Random number in [0, 1); injected for tests. */
  random?: () => number;
}

/** Bytes that crossed the link. */
export interface LinkCounters {
  /** Client → target (uploads). */
  upBytes: number;
  /** Target → client (answers). */
  downBytes: number;
  connections: number;
  resets: number;
  /** Connections refused or cut because the link was down. */
  refused: number;
}

/**
 * Paces chunks through one direction: latency plus serialisation at the bandwidth cap. Chunks leave
 * strictly in the order they came, as on a real link: one timer for the head of a FIFO queue. (One
 * timer per chunk could reorder them, because Node's timers start from the event loop's cached time.)
 */
class Pipe {
  private freeAt = 0;
  private readonly queue: { chunk: Buffer; dueAt: number; to: net.Socket; onReset: () => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: LinkEmulator,
    private readonly count: (n: number) => void,
  ) {}

  push(chunk: Buffer, to: net.Socket, onReset: () => void): void {
    const p = this.link.profile;
    const now = performance.now();
    const serialiseMs = Number.isFinite(p.bandwidthBitsPerSec) ? (chunk.length * 8 * 1000) / p.bandwidthBitsPerSec : 0;
    this.freeAt = Math.max(this.freeAt, now) + serialiseMs;
    this.queue.push({ chunk, dueAt: this.freeAt + p.latencyMs, to, onReset });
    this.drain();
  }

  private drain(): void {
    if (this.timer) return;
    const now = performance.now();
    while (this.queue.length && (this.queue[0] as { dueAt: number }).dueAt - now <= 0.5) {
      const { chunk, to, onReset } = this.queue.shift() as (typeof this.queue)[number];
      if (to.destroyed) continue;
      if (this.link.profile.resetProbability > 0 && this.link.random() < this.link.profile.resetProbability) {
        this.cancel();
        return onReset();
      }
      this.count(chunk.length);
      to.write(chunk);
    }
    const head = this.queue[0];
    if (!head) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, head.dueAt - now);
  }

  /** ms until everything queued has been delivered. */
  backlogMs(): number {
    return Math.max(0, this.freeAt + this.link.profile.latencyMs - performance.now());
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

export class LinkEmulator {
  profile: LinkProfile;
  readonly counters: LinkCounters = { upBytes: 0, downBytes: 0, connections: 0, resets: 0, refused: 0 };
  readonly random: () => number;
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private down = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private address?: { host: string; port: number };

  constructor(private readonly opts: LinkEmulatorOptions) {
    this.profile = {
      latencyMs: opts.latencyMs ?? 0,
      bandwidthBitsPerSec: opts.bandwidthBitsPerSec ?? Infinity,
      resetProbability: opts.resetProbability ?? 0,
    };
    this.random = opts.random ?? Math.random;
  }

  /** Starts listening; outages are scheduled from now. */
  async start(): Promise<{ host: string; port: number; url: string }> {
    const host = this.opts.host ?? '127.0.0.1';
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((res, rej) => {
      this.server?.once('error', rej);
      this.server?.listen(this.opts.port ?? 0, host, () => res());
    });
    const port = (this.server.address() as net.AddressInfo).port;
    this.address = { host, port };
    for (const o of this.opts.outages ?? []) this.scheduleOutage(o);
    return { host, port, url: `http://${host}:${port}` };
  }

  get url(): string {
    if (!this.address) throw new Error('LinkEmulator not started');
    return `http://${this.address.host}:${this.address.port}`;
  }

  /** Takes the link down (every connection cut, new ones refused) or brings it back. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) for (const s of this.sockets) s.destroy();
  }

  get isDown(): boolean {
    return this.down;
  }

  /** Down at `atMs` from now for `durationMs`. */
  scheduleOutage(o: Outage): void {
    this.timers.push(setTimeout(() => this.setDown(true), o.atMs));
    this.timers.push(setTimeout(() => this.setDown(false), o.atMs + o.durationMs));
  }

  private accept(client: net.Socket): void {
    if (this.down) {
      this.counters.refused++;
      client.destroy();
      return;
    }
    this.counters.connections++;
    const upstream = net.connect(this.opts.target.port, this.opts.target.host);
    // The emulator adds only the delays it is asked for: no Nagle wait on its own two hops.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const up = new Pipe(this, (n) => (this.counters.upBytes += n));
    const downPipe = new Pipe(this, (n) => (this.counters.downBytes += n));
    this.sockets.add(client).add(upstream);
    const reset = () => {
      this.counters.resets++;
      client.resetAndDestroy();
      upstream.destroy();
    };
    const close = () => {
      up.cancel();
      downPipe.cancel();
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('data', (c: Buffer) => up.push(c, upstream, reset));
    upstream.on('data', (c: Buffer) => downPipe.push(c, client, reset));
    // A half-close travels after the data queued before it.
    client.on('end', () => setTimeout(() => upstream.end(), up.backlogMs()));
    upstream.on('end', () => setTimeout(() => client.end(), downPipe.backlogMs()));
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', () => setTimeout(close, up.backlogMs()));
    upstream.on('close', () => setTimeout(close, downPipe.backlogMs()));
  }

  /** Stops listening and cuts every connection. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
