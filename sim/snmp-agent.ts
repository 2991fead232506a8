/**
 * What every simulated SNMP device shares: net-snmp's own `Agent` (typed here, since net-snmp ships
 * no declarations for its agent side), bound to a loopback address only, on a free UDP port, with a
 * "muted" switch that drops requests like a dead device, and a count of requests answered.
 */
import dgram from 'node:dgram';
import { createRequire } from 'node:module';

/** A request a provider handler answers. */
export interface MibRequest {
  done(error?: { errorStatus: number }): void;
}

/** A scalar provider as net-snmp's agent takes it. */
export interface ScalarProvider {
  name: string;
  type: number;
  oid: string;
  scalarType: number;
  maxAccess: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler?: (req: any) => void;
}
/** A table provider as net-snmp's agent takes it. */
export interface TableProvider {
  name: string;
  type: number;
  oid: string;
  maxAccess: number;
  tableColumns: { number: number; name: string; type: number; maxAccess: number }[];
  tableIndex?: { columnName: string; foreign?: string; implied?: boolean; length?: number }[];
  tableAugments?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler?: (req: any) => void;
}
/** The MIB of a net-snmp agent (only what the simulators use). */
export interface Mib {
  registerProvider(p: ScalarProvider | TableProvider): void;
  unregisterProvider(name: string): void;
  setScalarValue(name: string, value: unknown): void;
  addTableRow(name: string, row: unknown[]): void;
  deleteTableRow(name: string, rowIndex: unknown[]): void;
}

export interface Agent {
  getMib(): Mib;
  getAuthorizer(): { addCommunity(c: string): void };
  close(cb?: () => void): void;
}

interface NetSnmpAgentModule {
  createAgent(options: Record<string, unknown>, cb: (error: Error | null, data?: unknown) => void): Agent;
  ObjectType: Record<string, number>;
  MibProviderType: { Scalar: number; Table: number };
  MaxAccess: Record<string, number>;
  ErrorStatus: Record<string, number>;
}

/** net-snmp, for its agent-side constants. */
export const snmp = createRequire(import.meta.url)('net-snmp') as NetSnmpAgentModule;
export const RO = snmp.MaxAccess['read-only'] as number;
export const NA = snmp.MaxAccess['not-accessible'] as number;

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host === 'localhost';
}

export interface SimAgentOptions {
  /** What is simulated, for messages: `gateway`, `switch`, `modem`. */
  kind: string;
  /** Loopback address; anything else is refused. */
  host: string;
  /** UDP port; 0 or absent picks a free one. */
  port?: number;
  community: string;
}

/** A net-snmp agent being set up; `listening()` resolves with its port once its socket is bound. */
export interface SimAgent {
  agent: Agent;
  mib: Mib;
  /** The address actually bound (`localhost` becomes 127.0.0.1). */
  bindHost: string;
  /** Requests answered so far. */
  readonly requests: number;
  /** While muted the agent silently drops every request. */
  muted: boolean;
  listening(): Promise<number>;
}

/** Creates the agent; register providers on `mib`, then await `listening()`. */
export function createSimAgent(opts: SimAgentOptions): SimAgent {
  if (!isLoopbackHost(opts.host)) throw new Error(`sim ${opts.kind}: refusing to bind ${opts.host}; only loopback addresses are allowed`);
  const bindHost = opts.host === 'localhost' ? '127.0.0.1' : opts.host;
  const wantPort = opts.port ?? 0;
  let socket: dgram.Socket | undefined;
  const state = { muted: false, requests: 0 };
  // The dgram shim lets the agent bind an ephemeral port (net-snmp turns port 0 into 161), and
  // puts the "muted" switch in front of the agent's message handler.
  const dgramShim = {
    createSocket(type: dgram.SocketType): dgram.Socket {
      const s = dgram.createSocket(type);
      const bind = s.bind.bind(s) as (port: number, address: string) => dgram.Socket;
      const on = s.on.bind(s) as (event: string, listener: (...args: unknown[]) => void) => dgram.Socket;
      Object.assign(s, {
        bind: () => bind(wantPort, bindHost),
        on: (event: string, listener: (...args: unknown[]) => void) =>
          on(event, event === 'message' ? (...args: unknown[]) => (state.muted ? undefined : listener(...args)) : listener),
      });
      socket = s;
      return s;
    },
  };
  const agent = snmp.createAgent(
    { port: wantPort || 161, address: bindHost, transport: bindHost.includes(':') ? 'udp6' : 'udp4', dgramModule: dgramShim, disableAuthorization: false },
    (error) => {
      if (!error) state.requests++;
    },
  );
  agent.getAuthorizer().addCommunity(opts.community);
  return {
    agent,
    mib: agent.getMib(),
    bindHost,
    get requests() {
      return state.requests;
    },
    get muted() {
      return state.muted;
    },
    set muted(m: boolean) {
      state.muted = m;
    },
    async listening(): Promise<number> {
      const sock = socket;
      if (!sock) throw new Error(`sim ${opts.kind}: net-snmp did not create a socket`);
      await new Promise<void>((resolve, reject) => {
        const onError = (e: Error): void => {
          sock.off('listening', onListening);
          reject(new Error(`sim ${opts.kind}: cannot bind ${bindHost}:${wantPort}: ${e.message}`));
        };
        const onListening = (): void => {
          sock.off('error', onError);
          resolve();
        };
        sock.once('error', onError);
        sock.once('listening', onListening);
      }).catch((e: unknown) => {
        try {
          sock.close();
        } catch {
          // not open
        }
        throw e;
      });
      return sock.address().port;
    },
  };
}
