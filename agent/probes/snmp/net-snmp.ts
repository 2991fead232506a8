/**
 * Typed access to the manager (session) side of `net-snmp`, which ships without type declarations.
 *
 * Only what `client.ts` uses is declared. The module is CommonJS, so it is loaded with `createRequire`
 * instead of a global `declare module` (which could clash with declarations elsewhere in the tree).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
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
  /** USM privacy internals; `installDes()` replaces the DES entry's cipher calls. */
  Encryption: { algorithms: Record<number, DesAlgorithm> };
  /** USM key localisation (RFC 3414 A.2): password → localized key of the auth protocol's hash length. */
  Authentication: { passwordToKey(authProtocol: number, password: string, engineId: Buffer): Buffer };
}

/** net-snmp's description of one privacy protocol (only what `installDes()` touches). */
interface DesAlgorithm {
  KEY_LENGTH: number;
  BLOCK_LENGTH: number;
  encryptPdu: (scopedPdu: Buffer, privProtocol: number, privPassword: string, authProtocol: number, engine: { engineID: Buffer }) => { encryptedPdu: Buffer; msgPrivacyParameters: Buffer };
  decryptPdu: (encryptedPdu: Buffer, privProtocol: number, privParameters: Buffer, privPassword: string, authProtocol: number, engine: { engineID: Buffer }) => Buffer;
}

const require = createRequire(import.meta.url);

/** The loaded `net-snmp` module (with DES made to work on OpenSSL 3, see `installDes`). */
export const netSnmp = require('net-snmp') as NetSnmpModule;

/**
 * Single DES in CBC mode computed as three-key triple DES (`des-ede3-cbc`) with all three keys equal:
 * E_K(D_K(E_K(x))) = E_K(x), block by block, so the chaining is the same too. OpenSSL 3 moved `des-cbc`
 * to its legacy provider, which Node 20 does not load (net-snmp's DES then fails every request with
 * `digital envelope routines::unsupported`); `des-ede3-cbc` is in the default provider. This keeps the
 * whole process on the default provider (no `--openssl-legacy-provider`).
 */
export function desCbc(mode: 'encrypt' | 'decrypt', key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const k3 = Buffer.concat([key, key, key]);
  const c = mode === 'encrypt' ? createCipheriv('des-ede3-cbc', k3, iv) : createDecipheriv('des-ede3-cbc', k3, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/**
 * Replaces net-snmp's CBC-DES privacy (RFC 3414 §8) with one built on `desCbc`: the same key and IV
 * derivation (first 8 octets of the localized key are the DES key, the next 8 the pre-IV, XORed with
 * the salt; the salt is engine boots 1 and 4 random octets, as net-snmp does), the same zero padding.
 */
function installDes(m: NetSnmpModule): void {
  const des = m.Encryption.algorithms[m.PrivProtocols.des];
  if (!des) return;
  const keys = (authProtocol: number, privPassword: string, engineId: Buffer) => {
    const localized = m.Authentication.passwordToKey(authProtocol, privPassword, engineId);
    return { key: localized.subarray(0, 8), preIv: localized.subarray(8, 16) };
  };
  const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((x, i) => x ^ (b[i] ?? 0)));
  des.encryptPdu = (scopedPdu, _p, privPassword, authProtocol, engine) => {
    const { key, preIv } = keys(authProtocol, privPassword, engine.engineID);
    const salt = Buffer.concat([Buffer.from([0, 0, 0, 1]), randomBytes(4)]);
    const padded = Buffer.alloc(Math.ceil(scopedPdu.length / 8) * 8);
    scopedPdu.copy(padded);
    return { encryptedPdu: desCbc('encrypt', key, xor(preIv, salt), padded), msgPrivacyParameters: salt };
  };
  des.decryptPdu = (encryptedPdu, _p, privParameters, privPassword, authProtocol, engine) => {
    const { key, preIv } = keys(authProtocol, privPassword, engine.engineID);
    // A ciphertext that is not whole blocks is the peer's error; fail it like a bad digest would.
    if (encryptedPdu.length % 8 !== 0) throw new Error(`DES: encrypted PDU of ${encryptedPdu.length} bytes is not a multiple of 8`);
    return desCbc('decrypt', key, xor(preIv, privParameters), encryptedPdu);
  };
}

installDes(netSnmp);
