/**
 * Typed access to the manager (session) side of `net-snmp`, which ships without type declarations.
 *
 * Only what `client.ts` uses is declared. The module is CommonJS, so it is loaded with `createRequire`
 * instead of a global `declare module` (which could clash with declarations elsewhere in the tree).
 */
import { createRequire } from 'node:module';

/** A varbind as net-snmp hands it to callbacks. */
export interface RawVarbind {
  oid: string;
  /** A value of `ObjectType` (2 Integer, 4 OctetString, 65 Counter32, 70 Counter64, 128+ exceptions…). */
  type: number;
  value: unknown;
}

/** A v1/v2c/v3 session of net-snmp. */
export interface RawSession {
  get(oids: string[], cb: (error: Error | null, varbinds?: RawVarbind[]) => void): RawSession;
  /** Repeater varbinds come back grouped: `varbinds[i]` is the array of rows after `oids[i]`. */
  getBulk(
    oids: string[],
    nonRepeaters: number,
    maxRepetitions: number,
    cb: (error: Error | null, varbinds?: (RawVarbind | RawVarbind[])[]) => void,
  ): RawSession;
  subtree(
    oid: string,
    maxRepetitions: number,
    feedCb: (varbinds: RawVarbind[]) => boolean | void,
    doneCb: (error: Error | null) => void,
  ): RawSession;
  close(): RawSession;
  on(event: 'error' | 'close', listener: (...args: unknown[]) => void): RawSession;
}

/** Options of `createSession` that the client passes. */
export interface RawSessionOptions {
  port: number;
  retries: number;
  timeout: number;
  version: number;
  transport: 'udp4' | 'udp6';
  backwardsGetNexts: boolean;
  idBitsSize: 16 | 32;
}

/** An SNMPv3 USM user as net-snmp takes it (`level`, `authProtocol`, `privProtocol` are net-snmp constants). */
export interface RawV3User {
  name: string;
  level: number;
  authProtocol?: number;
  authKey?: string;
  privProtocol?: number;
  privKey?: string;
}

/** The parts of the `net-snmp` module used by the client. */
export interface NetSnmpModule {
  createSession(target: string, community: string, options: RawSessionOptions): RawSession;
  createV3Session(target: string, user: RawV3User, options: RawSessionOptions & { context?: string }): RawSession;
  isVarbindError(vb: RawVarbind): boolean;
  varbindError(vb: RawVarbind): string;
  Version1: number;
  Version2c: number;
  Version3: number;
  SecurityLevel: Record<'noAuthNoPriv' | 'authNoPriv' | 'authPriv', number>;
  AuthProtocols: Record<'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512', number>;
  PrivProtocols: Record<'des' | 'aes' | 'aes256b' | 'aes256r', number>;
  ObjectType: Record<string, number>;
  RequestTimedOutError: new (...args: unknown[]) => Error;
  RequestFailedError: new (...args: unknown[]) => Error & { status?: number };
}

const require = createRequire(import.meta.url);

/** The loaded `net-snmp` module. */
export const netSnmp = require('net-snmp') as NetSnmpModule;
