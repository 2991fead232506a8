/** The `collector` section of the agent config: where and how reports are delivered. */
import { z } from 'zod';
import { agentTlsSectionSchema } from './tls.js';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

export const collectorSectionSchema = z
  .strictObject({
    /** Collector base URL. */
    url: httpUrl.default('http://127.0.0.1:8470'),
    /** More collector URLs, tried in order when the previous one cannot be reached or answers 5xx. */
    failoverUrls: z.array(httpUrl).max(16).default([]),
    /** Bearer token from `campuslink-collector token issue`; required to send. */
    token: z.string().min(1).optional(),
    /** Timeout of one upload, in ms. */
    timeoutMs: z.number().int().min(1000).max(600000).default(30000),
    /** Compress request bodies. */
    gzip: z.boolean().default(true),
    /** Compress with the protocol's columnar preset-dictionary encoding (x-campuslink-cols1); falls back to gzip on a 415. */
    dictionary: z.boolean().default(true),
    /**
     * Upload over one long-lived HTTP/2 connection per collector: cleartext (h2c) to an http: URL, over TLS with
     * ALPN to an https: URL. Its headers cost a few bytes per batch instead of about 450. Falls back to HTTP/1.1
     * for an hour at a time when the collector (or a proxy before it) speaks only HTTP/1.1.
     */
    http2: z.boolean().default(true),
    /** TLS to https: collectors: trusted CAs, client certificate, session resumption. */
    tls: agentTlsSectionSchema,
    /** Most reports in one POST. */
    maxBatchReports: z.number().int().min(1).max(500).default(100),
    /**
     * How often reports are uploaded, in ms, independent of the collection schedule; 0 uploads after
     * every cycle. Default by `linkType`: 0 on terrestrial links, 120000 on cellular and LEO, 240000 on GEO.
     */
    uploadIntervalMs: z.number().int().min(0).max(300000).optional(),
    /** Contracted uplink bandwidth in Mbit/s; default by `linkType` (GEO 2, LEO 20, cellular 10, fiber 100, …). */
    contractedMbps: z.number().positive().max(100000).optional(),
    /** Share of the contracted bandwidth a backlog may use while draining. */
    backlogShare: z.number().positive().max(1).default(0.1),
    /** Explicit backlog rate cap in bytes/s (request bodies); overrides contractedMbps × backlogShare. */
    backlogBytesPerSec: z.number().int().min(100).optional(),
    /** First retry delay after a failed upload, in ms; doubles per failure, with full jitter. */
    backoffBaseMs: z.number().int().min(10).max(600000).default(2000),
    /** Longest retry delay, in ms (a Retry-After from the collector may ask for longer). */
    backoffMaxMs: z.number().int().min(10).max(3600000).default(300000),
  })
  .prefault({});

export type CollectorSection = z.output<typeof collectorSectionSchema>;
