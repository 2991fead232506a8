/** The agent reads at most MAX_ANSWER_BYTES of any answer, over both HTTP versions. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import http2 from 'node:http2';
import { expect } from 'chai';
import { MAX_ANSWER_BYTES, http1Exchange } from '../../../agent/transport/exchange.js';
import { H2Connection } from '../../../agent/transport/h2.js';

const req = () => ({ headers: { 'content-type': 'application/json', 'content-length': 2 }, body: Buffer.from('{}') });
/** 8 MiB of a captive portal's page, sent in 64 KiB chunks, with or without a Content-Length. */
const PAGE = Buffer.alloc(8 * 1024 * 1024, 0x61);

describe('agent/transport answer size', () => {
  for (const declared of [true, false]) {
    it(`http1Exchange() cuts an answer over MAX_ANSWER_BYTES off as EANSWERTOOLARGE (${declared ? 'with' : 'without'} Content-Length)`, async () => {
      const server = http.createServer((_q, r) => {
        r.writeHead(200, declared ? { 'content-length': PAGE.length } : {});
        r.end(PAGE);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const e = (await http1Exchange({ url })(req(), 5000).catch((x: unknown) => x)) as NodeJS.ErrnoException;
      expect(e.code).to.equal('EANSWERTOOLARGE');
      server.closeAllConnections();
      server.close();
    });

    it(`H2Connection cuts an answer over MAX_ANSWER_BYTES off as EANSWERTOOLARGE (${declared ? 'with' : 'without'} content-length) and works again afterwards`, async () => {
      let big = true;
      const server = http2.createServer();
      server.on('stream', (s) => {
        s.resume();
        s.on('end', () => {
          if (!big) {
            s.respond({ ':status': 200 });
            return s.end('{"v":1,"accepted":[]}');
          }
          s.respond({ ':status': 200, ...(declared ? { 'content-length': PAGE.length } : {}) });
          s.on('error', () => {});
          s.end(PAGE);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const c = new H2Connection({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      const e = (await c.exchange(req(), 5000).catch((x: unknown) => x)) as NodeJS.ErrnoException;
      expect(e.code).to.equal('EANSWERTOOLARGE');
      big = false;
      const ok = await c.exchange(req(), 5000);
      expect(ok.status).to.equal(200);
      expect(ok.text.length).to.be.below(MAX_ANSWER_BYTES);
      c.close();
      server.close();
    });
  }
});
