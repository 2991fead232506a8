import { createHash } from 'node:crypto';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { COLS_ENCODING, COLUMNS_DICTIONARY, DICT_ENCODING, WIRE_DICTIONARY, WireError, decodeBatch, encodeBatch, type BatchEncoding } from '../../protocol/index.js';
import { typicalReport } from '../helpers/reports.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const batchOf4 = (from = 1) => [0, 1, 2, 3].map((i) => typicalReport({ seq: from + i }));

describe('protocol/wire', () => {
  it('the preset dictionaries never change: each is pinned by its SHA-256 (a new one needs a new encoding name)', () => {
    expect(sha256(WIRE_DICTIONARY)).to.equal('05be144ed8d505c2b3387709fe1dac2140e9f0350c37d8ca18bf51cbae90f1f6');
    expect(sha256(COLUMNS_DICTIONARY)).to.equal('200a50515408ec3cc458ba80fb7347c821658bd153455b8a70d0264090927b57');
  });

  it('decodeBatch(encodeBatch()) gives back the batch for every encoding an agent sends', () => {
    const reports = batchOf4();
    for (const enc of ['identity', 'gzip', DICT_ENCODING, COLS_ENCODING] as BatchEncoding[]) {
      expect(decodeBatch(encodeBatch(reports, enc), enc, { maxBytes: 1 << 20 }), enc).to.deep.equal({ reports });
    }
  });

  it(`${COLS_ENCODING} is at least 25 % smaller than ${DICT_ENCODING}, and that one than gzip, for a satellite school's 4-report batches`, () => {
    let cols = 0;
    let dict = 0;
    let gzip = 0;
    for (let seq = 1; seq <= 240; seq += 4) {
      cols += encodeBatch(batchOf4(seq), COLS_ENCODING).length;
      dict += encodeBatch(batchOf4(seq), DICT_ENCODING).length;
      gzip += encodeBatch(batchOf4(seq), 'gzip').length;
    }
    expect(cols / dict).to.be.below(0.75);
    expect(dict / gzip).to.be.below(0.8);
  });

  it('decodeBatch() tells an unknown encoding (415), broken data (400) and a decompression bomb (413) apart', () => {
    const kind = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof WireError ? `${e.kind}: ${e.message}` : String(e);
      }
      return 'decoded';
    };
    const json = Buffer.from(JSON.stringify({ reports: batchOf4() }));
    expect(kind(() => decodeBatch(json, 'compress', { maxBytes: 1 << 20 }))).to.match(/^unsupported: unsupported Content-Encoding "compress"/);
    expect(kind(() => decodeBatch(Buffer.from('not deflate'), COLS_ENCODING, { maxBytes: 1 << 20 }))).to.match(/^invalid: body is not valid x-campuslink-cols1 data/);
    expect(kind(() => decodeBatch(deflateRawSync('{"c":1,"g":[]}', { dictionary: COLUMNS_DICTIONARY }), COLS_ENCODING, { maxBytes: 1 << 20 }))).to.match(/^invalid: body is not a valid x-campuslink-cols1 batch: "g" must be a non-empty array/);
    expect(kind(() => decodeBatch(gzipSync(Buffer.alloc(2 << 20, 32)), 'gzip', { maxBytes: 1 << 20 }))).to.match(/^too-large: body exceeds 1048576 bytes \(after decompression\)/);
    expect(kind(() => decodeBatch(Buffer.from('{"reports": ['), 'identity', { maxBytes: 1 << 20 }))).to.match(/^invalid: body is not valid JSON/);
    expect(kind(() => decodeBatch(json, ' GZIP ', { maxBytes: 1 << 20 }))).to.match(/^invalid: body is not valid gzip data/);
  });
});
