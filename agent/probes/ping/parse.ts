/**
 * Reads the text output of iputils ping (Debian) and BusyBox ping (OpenWrt) and turns it into the
 * `ping` measurement's numbers. Pure: no I/O, no clock.
 *
 * Two steps: `parsePingOutput()` extracts what ping printed (every reply line with its sequence
 * number and RTT, duplicates, ICMP error lines, `ping: …` error lines, the summary), then
 * `computePingStats()` derives sent/received/loss, RTT min/avg/max and jitter from the per-reply
 * times, counting only the first `count` requests and only replies within `timeoutMs`. ping's own summary is parsed but not trusted for
 * the numbers: BusyBox's min/avg/max include duplicate replies, and with `-w` ping sends extra
 * requests we do not count.
 */
import { PING_RESULT } from '../../../protocol/index.js';

/** Which ping printed the output. */
export type PingFlavour = 'iputils' | 'busybox';

/** One `N bytes from …` line. */
export interface PingReply {
  /** Sequence number from 0 (iputils' `icmp_seq` starts at 1, BusyBox's `seq` at 0: both become 0-based). */
  seq: number;
  /** Round-trip time in ms; absent when ping printed none (payloads under 16 bytes). */
  rttMs?: number;
  ttl?: number;
  /** The answering address, as printed. */
  from: string;
  /** A second (or later) reply to the same request: marked `(DUP!)`, or a repeated sequence number. */
  duplicate: boolean;
}

/** One ICMP error line of iputils, e.g. `From 10.0.0.1 icmp_seq=1 Destination Host Unreachable`. */
export interface PingIcmpError {
  from: string;
  /** 0-based, like PingReply.seq. */
  seq: number;
  message: string;
}

/** ping's closing statistics. */
export interface PingSummary {
  transmitted: number;
  received: number;
  duplicates: number;
  /** iputils' `+N errors` (ICMP errors received). */
  errors: number;
  lossPct?: number;
  rtt?: { minMs: number; avgMs: number; maxMs: number; mdevMs?: number };
}

/** Everything recognised in one output. */
export interface ParsedPing {
  flavour?: PingFlavour;
  /** Host and address from the `PING host (address)` header. */
  host?: string;
  address?: string;
  /** Every reply line in order of arrival, duplicates included (and flagged). */
  replies: PingReply[];
  icmpErrors: PingIcmpError[];
  /** `ping: …` lines, without the `ping: ` prefix (the resolver's message included). */
  errors: string[];
  /** The resolver's message when the name did not resolve. */
  unresolved?: string;
  summary?: PingSummary;
  /** Lines that matched nothing, and reply lines with a number that failed validation. */
  unrecognized: string[];
}

/** Upper bounds beyond which a printed number is garbage rather than a measurement. */
const MAX_RTT_MS = 600_000;
const MAX_COUNT = 10_000_000;

/** A decimal number of `text`, if it is one and lies in [0, max]; otherwise undefined. */
function num(text: string | undefined, max: number, integer = false): number | undefined {
  if (text === undefined || !(integer ? /^\d+$/ : /^\d+(?:\.\d+)?$/).test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) && n >= 0 && n <= max ? n : undefined;
}

const int = (text: string | undefined, max = MAX_COUNT): number | undefined => num(text, max, true);

const RE = {
  // [timestamp] with -D, then "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.025 ms (DUP!)".
  reply: /^(?:\[\d+(?:\.\d+)?\] )?\d+ bytes from (.+?): (icmp_seq|seq)=(\S+?)(?= |$)(.*)$/,
  ttl: /\bttl=(\S+)/,
  time: /\btime=(\S+?) ?ms\b/,
  dup: /\(DUP!\)/,
  icmpError: /^From (\S+)(?: \([^)]*\))? icmp_seq=(\d+) (.+)$/,
  // "ping: …", "/usr/bin/ping: …", "ping6: …".
  error: /^(?:\S*\/)?ping6?: (.+)$/,
  headerBusybox: /^PING (\S+) \(([^)]*)\): \d+ data bytes$/,
  header: /^PING (\S+?) ?\(([^)]*)\)/,
  transmitted: /^(\d+) packets transmitted, (\d+) (?:packets )?received(.*)$/,
  rtt: /^(?:rtt|round-trip) min\/avg\/max(?:\/(?:mdev|stddev))? = ([\d.]+)\/([\d.]+)\/([\d.]+)(?:\/([\d.]+))? ?ms(?:, pipe \d+)?$/,
  ignore: /^(?:--- .* ping statistics ---|pipe \d+|WARNING: pinging broadcast address)$/,
};

/** Resolver messages: glibc (iputils on Debian), musl, old iputils, BusyBox, BSD. */
const UNRESOLVED = [
  /^.+: (?:Name or service not known|Temporary failure in name resolution|No address associated with hostname|Non-recoverable failure in name resolution|Address family for hostname not supported|Name does not resolve|Name has no usable address|Try again)$/,
  /^unknown host\b/i,
  /^bad address '.*'$/,
  /^cannot resolve .+: Unknown host$/,
];

/** Extracts everything ping printed. Never throws; what it cannot read goes to `unrecognized`. */
export function parsePingOutput(text: string): ParsedPing {
  const out: ParsedPing = { replies: [], icmpErrors: [], errors: [], unrecognized: [] };
  const seen = new Set<number>();

  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || RE.ignore.test(line)) continue;

    let m = RE.reply.exec(line);
    if (m) {
      const [, from = '', key, seqText, rest = ''] = m;
      const printed = int(seqText);
      const ttlText = RE.ttl.exec(rest)?.[1];
      const timeText = RE.time.exec(rest)?.[1];
      const ttl = int(ttlText, 255);
      const rttMs = num(timeText, MAX_RTT_MS);
      const iputils = key === 'icmp_seq';
      if (printed === undefined || (iputils && printed === 0) || (ttlText !== undefined && ttl === undefined) || (timeText !== undefined && rttMs === undefined)) {
        out.unrecognized.push(line);
        continue;
      }
      out.flavour ??= iputils ? 'iputils' : 'busybox';
      const seq = iputils ? printed - 1 : printed;
      const duplicate = RE.dup.test(rest) || seen.has(seq);
      seen.add(seq);
      const reply: PingReply = { seq, from, duplicate };
      if (rttMs !== undefined) reply.rttMs = rttMs;
      if (ttl !== undefined) reply.ttl = ttl;
      out.replies.push(reply);
      continue;
    }

    m = RE.icmpError.exec(line);
    if (m) {
      const seq = int(m[2]);
      if (seq === undefined || seq === 0) out.unrecognized.push(line);
      else out.icmpErrors.push({ from: m[1] ?? '', seq: seq - 1, message: m[3] ?? '' });
      continue;
    }

    m = RE.error.exec(line);
    if (m) {
      const message = m[1] ?? '';
      out.errors.push(message);
      if (out.unresolved === undefined && UNRESOLVED.some((re) => re.test(message))) out.unresolved = message;
      continue;
    }

    m = RE.headerBusybox.exec(line);
    if (m) {
      out.flavour ??= 'busybox';
      out.host = m[1];
      out.address = m[2];
      continue;
    }
    m = RE.header.exec(line);
    if (m) {
      out.flavour ??= 'iputils';
      out.host = m[1];
      out.address = m[2];
      continue;
    }

    m = RE.transmitted.exec(line);
    if (m) {
      const transmitted = int(m[1]);
      const received = int(m[2]);
      const rest = m[3] ?? '';
      if (transmitted === undefined || received === undefined) {
        out.unrecognized.push(line);
        continue;
      }
      const duplicates = int(/\+?(\d+) duplicates/.exec(rest)?.[1]) ?? 0;
      const summary: PingSummary = { transmitted, received, duplicates, errors: int(/\+(\d+) errors/.exec(rest)?.[1]) ?? 0 };
      const lossPct = num(/([\d.]+)% packet loss/.exec(rest)?.[1], 100);
      if (lossPct !== undefined) summary.lossPct = lossPct;
      out.summary = summary;
      continue;
    }

    m = RE.rtt.exec(line);
    if (m && out.summary) {
      const [minMs, avgMs, maxMs] = [num(m[1], MAX_RTT_MS), num(m[2], MAX_RTT_MS), num(m[3], MAX_RTT_MS)];
      const mdevMs = m[4] === undefined ? undefined : num(m[4], MAX_RTT_MS);
      if (minMs === undefined || avgMs === undefined || maxMs === undefined || (m[4] !== undefined && mdevMs === undefined)) {
        out.unrecognized.push(line);
        continue;
      }
      out.summary.rtt = mdevMs === undefined ? { minMs, avgMs, maxMs } : { minMs, avgMs, maxMs, mdevMs };
      continue;
    }

    out.unrecognized.push(line);
  }
  if (out.flavour === undefined && out.errors.some((e) => /^bad address '/.test(e))) out.flavour = 'busybox';
  return out;
}

/** `ping.result_code` values. */
export type PingResultCode = (typeof PING_RESULT)[keyof typeof PING_RESULT];

/** The numbers of one run, as the `ping` measurement carries them. */
export interface PingStats {
  resultCode: PingResultCode;
  /** Requests counted: the first `count`, or fewer when ping stopped early. */
  sent: number;
  /** Counted requests that got a reply (duplicates not counted). */
  received: number;
  /** 100 × (sent − received) / sent. */
  lossPct: number;
  /** From the per-reply RTTs; absent without replies. */
  rttMinMs?: number;
  rttAvgMs?: number;
  rttMaxMs?: number;
  /** Mean absolute difference of consecutive replies' RTTs; absent with fewer than 2 replies. */
  jitterMs?: number;
  /** Duplicate replies seen (to counted requests or not). */
  duplicates: number;
  /** Why the result is not 0 (error or resolver message), for logs. */
  reason?: string;
}

/** Rounds to the thousandth (for percentages). */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * Rounds an RTT in ms to the resolution iputils ping prints its replies in: 0.001 ms below 1 ms,
 * 0.01 ms below 10 ms, 0.1 ms from 10 ms up (iputils itself goes to whole ms from 100 ms; 0.1 is kept
 * so a GEO path's changes stay visible). BusyBox prints microseconds at every size, finer than a busy
 * router's timestamps really are; one rule for both keeps their series comparable, and the digits no
 * one can use are not sent over a metered link.
 */
export function roundRtt(ms: number): number {
  const scale = ms < 1 ? 1000 : ms < 10 ? 100 : 10;
  return Math.round(ms * scale) / scale;
}

/**
 * Jitter of a series of RTTs in sending order: the mean of |RTT(i) − RTT(i−1)|. Those differences
 * are RFC 3550's D(i−1, i) (the change in transit time between consecutive packets, A.8); this is
 * their plain mean over one run, not RFC 3550's running estimate J += (|D| − J)/16, which would
 * carry state from one run to the next. Undefined with fewer than 2 values.
 */
export function jitterMs(rtts: readonly number[]): number | undefined {
  if (rtts.length < 2) return undefined;
  let sum = 0;
  for (let i = 1; i < rtts.length; i++) sum += Math.abs((rtts[i] as number) - (rtts[i - 1] as number));
  return sum / (rtts.length - 1);
}

/** Options of computePingStats. */
export interface PingStatsOptions {
  /** Requests that count: the first `count` sequence numbers (the target's `count`). */
  count: number;
  /**
   * How long a request may wait for its reply, ms: a reply whose printed time is longer counts as
   * lost, whatever ping's summary says (iputils and BusyBox both count late replies as received when
   * they arrive before the `-w` deadline, so which late replies count would depend on their position
   * in the run and on the binary). Omitted: every reply counts.
   */
  timeoutMs?: number;
}

/**
 * Derives the measurement's numbers from parsed output. The result code:
 * 1 when the name did not resolve; 0 when a counted request got a reply; 2 when requests were sent
 * (ping's summary says so, or ICMP errors came back) and none was answered; 3 otherwise — ping
 * printed an error, or nothing it could read. Codes 1 and 3 report `sent = count`, `received = 0`,
 * `lossPct = 100` and no RTTs.
 */
export function computePingStats(p: ParsedPing, opts: PingStatsOptions): PingStats {
  const count = Math.max(1, Math.floor(opts.count));
  const duplicates = p.replies.filter((r) => r.duplicate).length;
  const failed = (resultCode: PingResultCode, reason: string | undefined): PingStats => ({
    resultCode,
    sent: count,
    received: 0,
    lossPct: 100,
    duplicates,
    ...(reason ? { reason } : {}),
  });

  if (p.unresolved !== undefined) return failed(PING_RESULT.unresolved, p.unresolved);

  const limit = opts.timeoutMs ?? Infinity;
  // A reply without a printed time (payloads under 16 bytes) cannot be judged late: it counts.
  const counted = p.replies.filter((r) => !r.duplicate && r.seq < count && (r.rttMs === undefined || r.rttMs <= limit)).sort((a, b) => a.seq - b.seq);
  // Requests ping actually sent, of the first `count`: fewer when it stopped early (ICMP errors with -w).
  const transmitted = p.summary ? Math.min(count, p.summary.transmitted) : count;

  if (counted.length > 0) {
    const sent = Math.max(transmitted, counted.length);
    const received = counted.length;
    const stats: PingStats = { resultCode: PING_RESULT.ok, sent, received, lossPct: round3((100 * (sent - received)) / sent), duplicates };
    const rtts = counted.flatMap((r) => (r.rttMs === undefined ? [] : [r.rttMs]));
    if (rtts.length > 0) {
      stats.rttMinMs = roundRtt(Math.min(...rtts));
      stats.rttMaxMs = roundRtt(Math.max(...rtts));
      stats.rttAvgMs = roundRtt(rtts.reduce((a, b) => a + b, 0) / rtts.length);
    }
    const j = jitterMs(rtts);
    if (j !== undefined) stats.jitterMs = roundRtt(j);
    return stats;
  }

  if ((p.summary && p.summary.transmitted > 0) || p.icmpErrors.length > 0) {
    const sent = transmitted > 0 ? transmitted : count;
    return { resultCode: PING_RESULT.noReply, sent, received: 0, lossPct: 100, duplicates, ...(p.icmpErrors[0] ? { reason: p.icmpErrors[0].message } : {}) };
  }

  const reason = p.errors.length ? p.errors.join('; ') : p.unrecognized.length ? `unrecognised ping output: ${p.unrecognized[0]}` : 'ping printed nothing';
  return failed(PING_RESULT.error, reason.slice(0, 500));
}

/** parsePingOutput then computePingStats. */
export function parsePing(text: string, opts: PingStatsOptions): PingStats {
  return computePingStats(parsePingOutput(text), opts);
}
