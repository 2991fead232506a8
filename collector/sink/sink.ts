/** The interface every time-series sink implements (InfluxDB 1.x now, the v2 write API later). */

/** One point as the sink writes it. Numbers are stored as floats, strings as strings. */
export interface Point {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number | string>;
  /** Milliseconds since the epoch; the point is written with millisecond precision. */
  timestampMs: number;
}

/** A write the database did not confirm. */
export class SinkError extends Error {
  constructor(
    message: string,
    /** Whether retrying the same write later can succeed (database down, overloaded). */
    readonly retryable: boolean,
    /** How long the database asked us to wait, when it said. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SinkError';
  }
}

export interface Sink {
  /** Resolves only after the database confirmed every point; rejects with a SinkError otherwise. */
  write(points: readonly Point[]): Promise<void>;
  /**
   * The same for points already in InfluxDB line protocol with millisecond timestamps, one point per
   * string, exactly as `toLineProtocol` (line-protocol.ts) writes them. Optional: ingest builds lines
   * itself when a sink offers it (the hot path), and Point objects otherwise.
   */
  writeLines?(lines: readonly string[]): Promise<void>;
  /** True when the database answers its health check. */
  ready(): Promise<boolean>;
  /** Flushes what is queued and releases connections. */
  close(): Promise<void>;
}
