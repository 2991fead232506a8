import { expect } from 'chai';
import { readCsv, type CsvProblem } from '../../../collector/registry/index.js';

type Rec = [fields: string[], line: number, problem: CsvProblem | null];
function read(text: string): Rec[] {
  const out: Rec[] = [];
  readCsv(text, (fields, line, problem) => out.push([fields, line, problem]));
  return out;
}

describe('collector/registry readCsv()', () => {
  it('splits records on LF, CRLF and lone CR, numbering physical lines from 1', () => {
    expect(read('a,b\nc,d\r\ne,f\rg,h')).to.deep.equal([
      [['a', 'b'], 1, null],
      [['c', 'd'], 2, null],
      [['e', 'f'], 3, null],
      [['g', 'h'], 4, null],
    ]);
  });

  it('drops a leading BOM and keeps empty fields, including a trailing one', () => {
    expect(read('\uFEFFa,,b,\n')).to.deep.equal([[['a', '', 'b', ''], 1, null]]);
  });

  it('reports an empty line as one empty field, so callers can skip it', () => {
    expect(read('a\n\nb\n')).to.deep.equal([
      [['a'], 1, null],
      [[''], 2, null],
      [['b'], 3, null],
    ]);
  });

  it('reads quoted values with commas, doubled quotes and line breaks, counting a CRLF inside quotes as one line', () => {
    expect(read('h1,h2\r\n1,"x\r\ny"\r\n\r\n2,"a ""b"", c"\r\n3,"q\r\n\r\nr"\r\n4,w\r\n')).to.deep.equal([
      [['h1', 'h2'], 1, null],
      [['1', 'x\r\ny'], 2, null],
      [[''], 4, null],
      [['2', 'a "b", c'], 5, null],
      [['3', 'q\r\n\r\nr'], 6, null],
      [['4', 'w'], 9, null],
    ]);
  });

  it('keeps a quote inside an unquoted value as a character', () => {
    expect(read('12",ab"c\n')).to.deep.equal([[['12"', 'ab"c'], 1, null]]);
  });

  it('reports text after a closing quote, keeps it in the value, and goes on with the next record', () => {
    const recs = read('"x"y,z\nnext,row\n');
    expect(recs[0]?.[0]).to.deep.equal(['xy', 'z']);
    expect(recs[0]?.[2]).to.deep.include({ field: 0, line: 1 });
    expect(recs[1]).to.deep.equal([['next', 'row'], 2, null]);
  });

  it('reports a quote never closed on the line it opened and stops there', () => {
    const recs = read('a,b\nc,"open\nd,e\n');
    expect(recs).to.have.length(2);
    expect(recs[1]?.[1]).to.equal(2);
    expect(recs[1]?.[2]).to.deep.include({ field: 1, line: 2 });
  });
});
