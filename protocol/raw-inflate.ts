/**
 * Raw inflate (RFC 1951) with a preset dictionary through one reused zlib context, for the request
 * encodings of wire.ts. `inflateRawSync` builds a stream object, a zlib state and its 32 kB window for
 * every body; `DictionaryInflater` keeps one and resets it between bodies (zlib's `inflateReset`, after
 * which node sets the dictionary again), so a body costs the inflate itself.
 *
 * Node 20 has no public reusable synchronous API, so this drives the handle behind an `InflateRaw`
 * stream the way node's own `inflateRawSync` does (`processChunkSync` in node's lib/zlib.js): the same
 * `writeSync` calls with the same 16 kB output windows and the same finish flush, so a body inflates, or
 * fails, exactly as it would there, with the same error messages and codes. The internals are checked
 * when an inflater is made (their shape, then a round trip and a corrupt body compared against
 * `inflateRawSync`); where they are missing or differ, every body goes through `inflateRawSync`.
 * Any failure (corrupt data, a body past `maxBytes`, an error of zlib's) drops the context; the next body
 * gets a fresh one, so a failure never reaches another body.
 */
import { kMaxLength } from 'node:buffer';
import { createInflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';

/** The parts of node's zlib binding handle used here (node 20's lib/zlib.js uses the same). */
interface ZlibHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number, code: string) => void;
}

/** The internals of an `InflateRaw` stream this relies on. */
interface EngineInternals {
  _handle?: unknown;
  _writeState?: unknown;
  _chunkSize?: unknown;
  _finishFlushFlag?: unknown;
}

/** What a reused context holds. */
interface Context {
  handle: ZlibHandle;
  /** [avail_out, avail_in] after each write, filled by the binding. */
  state: Uint32Array;
  /** The error zlib reported during the current write, if any. */
  failure: Error | undefined;
}

/** A body past `maxBytes`, as node's `ERR_BUFFER_TOO_LARGE` (a RangeError with that code). */
class BufferTooLarge extends RangeError {
  readonly code = 'ERR_BUFFER_TOO_LARGE';
  constructor(max: number) {
    super(`Cannot create a Buffer larger than ${max} bytes`);
    this.name = 'RangeError';
  }
}

/** Bytes of output per `writeSync`, as node's default chunk size (Z_DEFAULT_CHUNK). */
const CHUNK = 16 * 1024;
/** The scratch output buffer kept between bodies; a larger one grown for a big body is let go. */
const KEEP_SCRATCH = 256 * 1024;
const Z_FINISH = 4;

/** Builds a stream whose handle a context drives (replaceable in tests, to check the fallback). */
export type EngineFactory = (dictionary: Buffer) => unknown;

const defaultEngine: EngineFactory = (dictionary) => createInflateRaw({ dictionary });

/** Options of a DictionaryInflater. */
export interface DictionaryInflaterOptions {
  /** false: always `inflateRawSync` (the peer the benchmark measures against). Default true. */
  reuse?: boolean;
  /** Where the reused context's stream comes from. Default: `zlib.createInflateRaw`. */
  createEngine?: EngineFactory;
}

/** Raw inflate with one preset dictionary, through a reused zlib context where node allows it. */
export class DictionaryInflater {
  private context: Context | undefined;
  private scratch = Buffer.allocUnsafe(4 * CHUNK);
  private readonly createEngine: EngineFactory;
  /** Whether bodies go through the reused context (false: node's internals did not pass the check). */
  readonly reusing: boolean;

  constructor(
    private readonly dictionary: Buffer,
    opts: DictionaryInflaterOptions = {},
  ) {
    this.createEngine = opts.createEngine ?? defaultEngine;
    this.reusing = opts.reuse !== false && this.selfCheck();
  }

  /**
   * The inflated body as UTF-8 text. Throws what `inflateRawSync(body, { dictionary, maxOutputLength:
   * maxBytes })` throws for it: a RangeError (code `ERR_BUFFER_TOO_LARGE`) past `maxBytes`, zlib's error
   * (with its `code`) for data that is not raw deflate with this dictionary.
   */
  inflateText(body: Buffer, maxBytes: number): string {
    // A limit node would refuse (or that is not a whole number) goes to node, which words the refusal.
    if (!this.reusing || !Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > kMaxLength) {
      return inflateRawSync(body, { maxOutputLength: maxBytes, dictionary: this.dictionary }).toString('utf8');
    }
    const n = this.inflateInto(body, maxBytes);
    const text = this.scratch.toString('utf8', 0, n);
    if (this.scratch.length > KEEP_SCRATCH) this.scratch = Buffer.allocUnsafe(4 * CHUNK);
    return text;
  }

  /** Inflates into `scratch`; returns the length. The context is reset after a body, dropped after a failure. */
  private inflateInto(body: Buffer, maxBytes: number): number {
    const ctx = this.context ?? (this.context = this.open());
    let ok = false;
    try {
      const n = this.run(ctx, body, maxBytes);
      ok = true;
      return n;
    } finally {
      if (ok) ok = this.resetOrDrop(ctx);
      if (!ok) this.drop(ctx);
    }
  }

  /** The loop of node's processChunkSync: 16 kB of output per write until zlib leaves output room unused. */
  private run(ctx: Context, body: Buffer, maxBytes: number): number {
    let inOff = 0;
    let availIn = body.byteLength;
    let nread = 0;
    for (;;) {
      if (this.scratch.length < nread + CHUNK) this.grow(nread + CHUNK, nread);
      ctx.handle.writeSync(Z_FINISH, body, inOff, availIn, this.scratch, nread, CHUNK);
      if (ctx.failure) throw ctx.failure;
      const availOutAfter = ctx.state[0] as number;
      const availInAfter = ctx.state[1] as number;
      nread += CHUNK - availOutAfter;
      if (nread > maxBytes) throw new BufferTooLarge(maxBytes);
      if (availOutAfter !== 0) return nread;
      inOff += availIn - availInAfter;
      availIn = availInAfter;
    }
  }

  private grow(atLeast: number, keep: number): void {
    const next = Buffer.allocUnsafe(Math.max(atLeast, this.scratch.length * 2));
    this.scratch.copy(next, 0, 0, keep);
    this.scratch = next;
  }

  private open(): Context {
    const engine = this.createEngine(this.dictionary) as EngineInternals;
    const handle = engine._handle as ZlibHandle;
    const ctx: Context = { handle, state: engine._writeState as Uint32Array, failure: undefined };
    // Node's own handler destroys the stream and emits 'error' later; here the error is the write's result.
    handle.onerror = (message, errno, code) => {
      const e = new Error(message) as NodeJS.ErrnoException;
      e.errno = errno;
      e.code = code;
      ctx.failure ??= e;
    };
    return ctx;
  }

  private resetOrDrop(ctx: Context): boolean {
    try {
      ctx.handle.reset();
    } catch {
      return false;
    }
    return ctx.failure === undefined;
  }

  private drop(ctx: Context): void {
    if (this.context === ctx) this.context = undefined;
    try {
      ctx.handle.close();
    } catch {
      // Already closed, or broken: it is let go either way.
    }
  }

  /** Whether the internals are there and give what inflateRawSync gives, for a body and for a corrupt one. */
  private selfCheck(): boolean {
    try {
      const engine = this.createEngine(this.dictionary) as EngineInternals;
      const h = engine._handle as Partial<ZlibHandle> | undefined;
      const shaped =
        typeof h?.writeSync === 'function' && typeof h.reset === 'function' && typeof h.close === 'function' &&
        engine._writeState instanceof Uint32Array && engine._writeState.length === 2 && engine._chunkSize === CHUNK && engine._finishFlushFlag === Z_FINISH;
      h?.close?.();
      if (!shaped) return false;
      const text = this.dictionary.toString('latin1').repeat(3);
      const body = deflateRawSync(text, { dictionary: this.dictionary });
      const broken = Buffer.from(body);
      broken[0] = 0xff;
      const max = 1 << 20;
      const same = (f: () => string, g: () => string) => outcome(f) === outcome(g);
      const ours = (b: Buffer) => () => this.inflateTextChecked(b, max);
      const node = (b: Buffer) => () => inflateRawSync(b, { maxOutputLength: max, dictionary: this.dictionary }).toString('utf8');
      return same(ours(body), node(body)) && same(ours(broken), node(broken)) && same(ours(body), node(body));
    } catch {
      return false;
    }
  }

  /** inflateText through the context, before `reusing` is set (the self-check's own path). */
  private inflateTextChecked(body: Buffer, maxBytes: number): string {
    return this.scratch.toString('utf8', 0, this.inflateInto(body, maxBytes));
  }
}

/** What a call gave, as a string to compare: its text, or its error's class, code and message. */
function outcome(f: () => string): string {
  try {
    return `ok:${f()}`;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return `error:${err.name}:${err.code}:${err.message}`;
  }
}
