/** Reads one iperf3 `--json` run into a direction's result. Pure. */
import { THROUGHPUT_RESULT } from '../../../protocol/index.js';
import type { IperfRunResult } from './runner.js';

/** The `result_code` values of the throughput measurement. */
export type ThroughputResultCode = (typeof THROUGHPUT_RESULT)[keyof typeof THROUGHPUT_RESULT];

/** One direction of a test, as read from iperf3's output. */
export interface DirectionResult {
  resultCode: ThroughputResultCode;
  /** Received rate, bit/s (only when resultCode is 0). */
  bps?: number;
  /** Bytes moved, warm-up included (0 when nothing could be read). */
  bytes: number;
  /** Mean sender-side TCP RTT, ms (iperf3 knows it only where it sends: the upload). */
  rttMs?: number;
  retransmits?: number;
  /** Why resultCode is not 0. */
  reason?: string;
}

interface IperfJson {
  intervals?: { sum?: { bytes?: unknown } }[];
  end?: {
    sum_sent?: { bytes?: unknown; retransmits?: unknown };
    sum_received?: { bytes?: unknown; bits_per_second?: unknown; seconds?: unknown };
    streams?: { sender?: { mean_rtt?: unknown; sender?: unknown } }[];
  };
  error?: unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

/** The result code an iperf3 error message stands for. */
export function classifyIperfError(message: string): ThroughputResultCode {
  if (/server is busy/i.test(message)) return THROUGHPUT_RESULT.busy;
  if (/unable to connect|connection refused|name or service not known|unable to resolve|no address associated|temporary failure in name resolution|no route to host|network is unreachable|timed out|timeout/i.test(message)) {
    return THROUGHPUT_RESULT.unreachable;
  }
  return THROUGHPUT_RESULT.error;
}

/** Bytes moved: every interval (warm-up included) or the totals, whichever is larger. */
function bytesOf(j: IperfJson): number {
  let intervals = 0;
  for (const i of j.intervals ?? []) intervals += num(i.sum?.bytes) ?? 0;
  return Math.max(intervals, num(j.end?.sum_sent?.bytes) ?? 0, num(j.end?.sum_received?.bytes) ?? 0);
}

/**
 * The result of one run. A run that did not start or was killed is an error (3); iperf3's own
 * `error` is classified by classifyIperfError; a run with no readable received rate is an error too.
 */
export function parseIperfRun(run: IperfRunResult): DirectionResult {
  if (run.error !== undefined && run.stdout.trim() === '') return { resultCode: THROUGHPUT_RESULT.error, bytes: 0, reason: run.error };
  let j: IperfJson;
  try {
    j = JSON.parse(run.stdout) as IperfJson;
  } catch {
    const text = `${run.stderr} ${run.stdout}`.trim().slice(0, 300);
    return { resultCode: text ? classifyIperfError(text) : THROUGHPUT_RESULT.error, bytes: 0, reason: run.error ?? `iperf3 output is not JSON: ${text || '(empty)'}` };
  }
  const bytes = bytesOf(j);
  if (typeof j.error === 'string') return { resultCode: classifyIperfError(j.error), bytes, reason: j.error };
  if (run.error !== undefined) return { resultCode: THROUGHPUT_RESULT.error, bytes, reason: run.error };
  const bps = num(j.end?.sum_received?.bits_per_second);
  if (bps === undefined) return { resultCode: THROUGHPUT_RESULT.error, bytes, reason: 'iperf3 gave no received rate' };
  const sender = j.end?.streams?.map((s) => s.sender).find((s) => s?.sender === true);
  const rttUs = num(sender?.mean_rtt);
  const retransmits = num(j.end?.sum_sent?.retransmits);
  return {
    resultCode: THROUGHPUT_RESULT.ok,
    bps,
    bytes,
    ...(rttUs !== undefined && rttUs > 0 && { rttMs: rttUs / 1000 }),
    ...(retransmits !== undefined && sender && { retransmits }),
  };
}
