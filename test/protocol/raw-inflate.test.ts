import { randomBytes } from 'node:crypto';
import { createInflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import { COLS_ENCODING, COLUMNS_DICTIONARY, REUSED_INFLATE, WIRE_DICTIONARY, encodeBatch } from '../../protocol/index.js';
import { DictionaryInflater } from '../../protocol/raw-inflate.js';
import { TemplateBank } from '../../bench/fleet/templates.js';

/** What a call gave: its text, or its error's class, code and message. */
function outcome(f: () => string): string {
  try {
    return `ok:${f()}`;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return `error:${err instanceof RangeError ? 'RangeError' : err.name}:${err.code}:${err.message}`;
  }
}

const node = (body: Buffer, max: number, dictionary = COLUMNS_DICTIONARY) => () => inflateRawSync(body, { maxOutputLength: max, dictionary }).toString('utf8');

/** Real soak bodies: every kind of batch the load generator sends, at a few sequence numbers. */
function soakBodies(): Buffer[] {
  const bank = new TemplateBank();
  const out: Buffer[] = [];
  for (const reports of [1, 2, 4]) {
    for (const satellite of [false, true]) {
      for (const seq of [7, 12_345, 987_654_321]) out.push(bank.bodySync({ reports, variant: seq % 16, satellite }, { school: '1640104001', seq, collectedAt: 1_795_420_800_000, sentAt: 1_795_420_860_000 }));
    }
  }
  return out;
}

/** Bodies that fail in every way raw inflate can: corrupt bytes, truncated, empty, wrong dictionary, garbage. */
function brokenBodies(good: Buffer[]): Buffer[] {
  const out: Buffer[] = [Buffer.alloc(0), Buffer.from('not deflate'), randomBytes(300), deflateRawSync('{"c":1}', { dictionary: WIRE_DICTIONARY })];
  for (const [i, b] of good.entries()) {
    out.push(b.subarray(0, Math.max(1, b.length >> 1)));
    const flipped = Buffer.from(b);
    const at = (i * 7) % flipped.length;
    flipped[at] = (flipped[at] as number) ^ 0x5a;
    out.push(flipped);
  }
  return out;
}

describe('protocol/raw-inflate', () => {
  it('on this node the dictionary encodings inflate through reused contexts (the internals passed the check)', () => {
    expect(REUSED_INFLATE).to.equal(true);
    expect(new DictionaryInflater(COLUMNS_DICTIONARY).reusing).to.equal(true);
  });

  for (const reuse of [true, false]) {
    it(`gives exactly what inflateRawSync gives, text or error, for soak bodies, broken ones and a bomb, interleaved (reuse ${reuse})`, () => {
      const inflater = new DictionaryInflater(COLUMNS_DICTIONARY, { reuse });
      expect(inflater.reusing).to.equal(reuse);
      const good = soakBodies();
      const bomb = deflateRawSync(Buffer.alloc(3 << 20, 0x20), { dictionary: COLUMNS_DICTIONARY });
      const big = deflateRawSync(JSON.stringify({ pad: 'x'.repeat(200_000), n: randomBytes(40_000).toString('hex') }), { dictionary: COLUMNS_DICTIONARY });
      const bodies = [...good, ...brokenBodies(good), bomb, big];
      let failures = 0;
      // Each broken body between good ones: a failure must leave nothing behind for the next body.
      for (const b of bodies) {
        for (const max of [1 << 20, 1000, 16 * 1024, 1]) {
          const want = outcome(node(b, max));
          if (want.startsWith('error:')) failures++;
          expect(outcome(() => inflater.inflateText(b, max))).to.equal(want);
          expect(outcome(() => inflater.inflateText(good[0] as Buffer, 1 << 20))).to.equal(outcome(node(good[0] as Buffer, 1 << 20)));
        }
      }
      expect(failures).to.be.above(bodies.length);
    });
  }

  it('a limit node refuses (0, fractional, past kMaxLength) fails as inflateRawSync fails, and the next body still inflates', () => {
    const inflater = new DictionaryInflater(COLUMNS_DICTIONARY);
    const body = encodeBatch([], COLS_ENCODING);
    for (const max of [0, -1, 1.5, Number.MAX_SAFE_INTEGER]) expect(outcome(() => inflater.inflateText(body, max))).to.equal(outcome(node(body, max)));
    expect(inflater.inflateText(body, 1 << 20)).to.equal(node(body, 1 << 20)());
  });

  it('a body that fills the output exactly at a 16 kB boundary, and one spanning many windows, come back whole', () => {
    const inflater = new DictionaryInflater(COLUMNS_DICTIONARY);
    for (const n of [16 * 1024, 32 * 1024, 16 * 1024 - 1, 16 * 1024 + 1, 300_000, 1 << 20]) {
      const text = randomBytes(n).toString('base64').slice(0, n);
      const body = deflateRawSync(text, { dictionary: COLUMNS_DICTIONARY });
      expect(inflater.inflateText(body, n)).to.equal(text);
      expect(outcome(() => inflater.inflateText(body, n - 1))).to.equal(outcome(node(body, n - 1)));
    }
  });

  it('falls back to inflateRawSync when node lacks the internals, or when they answer differently from it', () => {
    const noHandle = new DictionaryInflater(COLUMNS_DICTIONARY, { createEngine: () => ({}) });
    const wrongChunk = new DictionaryInflater(COLUMNS_DICTIONARY, {
      createEngine: (d) => Object.assign(createInflateRaw({ dictionary: d }), { _chunkSize: 64 * 1024 }),
    });
    // A handle whose writes lose output: the round trip in the check catches it.
    const lossy = new DictionaryInflater(COLUMNS_DICTIONARY, {
      createEngine: (d) => {
        const e = createInflateRaw({ dictionary: d }) as unknown as { _handle: { writeSync: (...a: unknown[]) => void } };
        const w = e._handle.writeSync.bind(e._handle);
        e._handle.writeSync = (...a: unknown[]) => {
          w(...a);
          (a[4] as Buffer).fill(0x30, a[5] as number, (a[5] as number) + 4);
        };
        return e;
      },
    });
    const throwing = new DictionaryInflater(COLUMNS_DICTIONARY, {
      createEngine: () => {
        throw new Error('no zlib');
      },
    });
    const body = soakBodies()[0] as Buffer;
    for (const inflater of [noHandle, wrongChunk, lossy, throwing]) {
      expect(inflater.reusing).to.equal(false);
      expect(inflater.inflateText(body, 1 << 20)).to.equal(node(body, 1 << 20)());
      expect(outcome(() => inflater.inflateText(Buffer.from('not deflate'), 1 << 20))).to.equal(outcome(node(Buffer.from('not deflate'), 1 << 20)));
    }
  });

  it('an error thrown inside a write (not reported by zlib) drops the context; the next body gets a fresh one', () => {
    let engines = 0;
    let failNext = false;
    const inflater = new DictionaryInflater(COLUMNS_DICTIONARY, {
      createEngine: (d) => {
        engines++;
        const e = createInflateRaw({ dictionary: d }) as unknown as { _handle: { writeSync: (...a: unknown[]) => void } };
        const w = e._handle.writeSync.bind(e._handle);
        e._handle.writeSync = (...a: unknown[]) => {
          if (failNext) {
            failNext = false;
            w(...a);
            throw new Error('interrupted');
          }
          w(...a);
        };
        return e;
      },
    });
    expect(inflater.reusing).to.equal(true);
    const [a, b] = soakBodies() as [Buffer, Buffer];
    expect(inflater.inflateText(a, 1 << 20)).to.equal(node(a, 1 << 20)());
    const before = engines;
    expect(inflater.inflateText(b, 1 << 20)).to.equal(node(b, 1 << 20)());
    expect(engines, 'a good body reuses the context').to.equal(before);
    failNext = true;
    expect(() => inflater.inflateText(a, 1 << 20)).to.throw('interrupted');
    expect(inflater.inflateText(b, 1 << 20)).to.equal(node(b, 1 << 20)());
    expect(engines, 'the failed context was replaced').to.equal(before + 1);
  });
});
