import { expect } from 'chai';
import fc from 'fast-check';
import { LineWriter, blockLines, linesBlock, sliceBlock } from '../../../collector/sink/line-protocol.js';

describe('collector/sink/line-protocol LineWriter', () => {
  it('writes numbers as String() does, integers digit by digit', () => {
    const values = [0, -0, 7, -7, 10, 99, 100, 1_795_420_800_000, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, 1e21, 0.1, -2.5e-7, 123.456, 1.7976931348623157e308];
    const w = new LineWriter({ initialBytes: 64 });
    for (const v of values) {
      w.num(v);
      w.endLine();
    }
    expect(blockLines(w.take())).to.deep.equal(values.map(String));
  });

  it('writes UTF-8 beyond ASCII, grows its buffer, and every take() starts over', () => {
    const lines = ['ascii only', 'é 学校 ✓ 😀 tail', 'x'.repeat(500), ''];
    const w = new LineWriter({ initialBytes: 64 });
    const a = linesBlock(lines, w);
    expect(a.bytes.toString('utf8')).to.equal(lines.map((l) => `${l}\n`).join(''));
    expect([...a.ends]).to.deep.equal(lines.reduce<number[]>((ends, l) => [...ends, (ends.at(-1) ?? 0) + Buffer.byteLength(l) + 1], []));
    const b = linesBlock(['next'], w);
    expect(blockLines(b)).to.deep.equal(['next']);
    expect(blockLines(a)).to.deep.equal(lines); // a block owns its bytes
  });

  it('rewind() drops what was written after a mark, lines included', () => {
    const w = new LineWriter();
    w.str('kept');
    w.endLine();
    const mark = w.mark();
    w.str('dropped');
    w.endLine();
    w.str('half');
    w.rewind(mark);
    w.str('after');
    w.endLine();
    expect(w.lines).to.equal(2);
    expect(blockLines(w.take())).to.deep.equal(['kept', 'after']);
  });

  it('sliceBlock() keeps the lines, line breaks inside a string included, sharing the bytes', () => {
    const lines = ['m s="a\nb" 1', 'm v=2 2', 'm v=3 3'];
    const block = linesBlock(lines);
    expect(blockLines(sliceBlock(block, 0, 1))).to.deep.equal(lines.slice(0, 1));
    expect(blockLines(sliceBlock(block, 1))).to.deep.equal(lines.slice(1));
    expect(blockLines(sliceBlock(sliceBlock(block, 1), 1))).to.deep.equal(lines.slice(2));
    expect(sliceBlock(block, 1).bytes.buffer).to.equal(block.bytes.buffer);
  });
});

describe('collector/sink/line-protocol LineWriter.num (property)', () => {
  it('writes every finite double as String() does, the decimals it writes itself included', () => {
    const decimal = fc.tuple(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 0, max: 9 })).map(([m, e]) => m / 10 ** e);
    const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), decimal, fc.integer(), fc.constantFrom(0.1, 0.30000000000000004, 1e-6, 1e-7, 9.99e-7, 0.05, 0.000123, 999999999.5, 123456.789012, -42.5, 1e21, 1.15));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 20 }), (values) => {
        const w = new LineWriter({ initialBytes: 64 });
        for (const v of values) {
          w.num(v);
          w.endLine();
        }
        expect(blockLines(w.take())).to.deep.equal(values.map(String));
      }),
      { numRuns: 3000 },
    );
  });
});
