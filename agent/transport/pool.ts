/** Several collector URLs with failover: stays on the one that works, moves on when it fails. */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Report } from '../../protocol/index.js';
import { UploadError, uploadBatch, type UploadResult } from './uploader.js';

export interface CollectorPoolOptions {
  /** Base URLs, preferred first. */
  urls: readonly string[];
  token: string;
  timeoutMs: number;
  gzip: boolean;
  /** Try the preset-dictionary encoding first; a collector that answers 415 gets plain gzip from then on. */
  dictionary?: boolean;
  version: string;
  now: () => number;
  log?: Logger;
}

/** The sending side of delivery; tests may provide their own. */
export interface BatchSender {
  send(reports: readonly Report[]): Promise<UploadResult>;
}

export class CollectorPool implements BatchSender {
  private current = 0;
  private readonly agents: http.Agent[];
  private dictionary: boolean;

  constructor(private readonly opts: CollectorPoolOptions) {
    if (opts.urls.length === 0) throw new Error('CollectorPool needs at least one URL');
    this.dictionary = opts.dictionary ?? false;
    this.agents = opts.urls.map((u) => (u.startsWith('https:') ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })));
  }

  /** The URL in use. */
  get url(): string {
    return this.opts.urls[this.current] as string;
  }

  /**
   * Sends to the current collector; on no answer or a 5xx/429 tries each other URL once, in order.
   * Throws the last error when none acknowledged. 4xx answers are final (every collector would say the same).
   */
  async send(reports: readonly Report[]): Promise<UploadResult> {
    let last: UploadError | undefined;
    for (let i = 0; i < this.opts.urls.length; i++) {
      const idx = (this.current + i) % this.opts.urls.length;
      const url = this.opts.urls[idx] as string;
      try {
        const upload = () => uploadBatch({ url, token: this.opts.token, timeoutMs: this.opts.timeoutMs, gzip: this.opts.gzip, dictionary: this.dictionary, version: this.opts.version, agent: this.agents[idx] }, reports, this.opts.now);
        let r: UploadResult;
        try {
          r = await upload();
        } catch (e) {
          // An older collector that does not know the dictionary encoding: fall back to gzip for good.
          if (!(e instanceof UploadError) || e.status !== 415 || !this.dictionary) throw e;
          this.dictionary = false;
          this.opts.log?.warn({ url }, 'collector refused the dictionary encoding; sending gzip from now on');
          r = await upload();
        }
        if (idx !== this.current) this.opts.log?.warn({ from: this.url, to: url }, 'failed over to another collector');
        this.current = idx;
        return r;
      } catch (e) {
        if (!(e instanceof UploadError) || e.action !== 'keep-and-back-off') throw e;
        last = e;
      }
    }
    throw last as UploadError;
  }

  close(): void {
    for (const a of this.agents) a.destroy();
  }
}
