/** The interface every time-series sink implements (InfluxDB 1.x now, the v2 write API later). */
import type { LineBlock } from './line-protocol.js';

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

/**
 * A write the database stored except some points it named (InfluxDB 1.x's `partial write: … dropped=N`:
 * a field type conflict with another writer, a tag-value or series limit). The rest is stored: the
 * write is confirmed, short of these.
 */
export interface PartialWrite {
  droppedPoints: number;
  /** Values left out of points that were stored without them (a type conflict costs the value, not the point). */
  droppedFields: number;
  /** Why, as a short snake_case reason: `type_conflict`, `tag_values_limit`, `series_limit`, `invalid_field`, `refused`. */
  reason: string;
  /** The database's own words. */
  message: string;
}

export interface Sink {
  /**
   * Resolves only after the database confirmed every point, or every point but those a PartialWrite
   * names; rejects with a SinkError otherwise.
   */
  write(points: readonly Point[]): Promise<void | PartialWrite>;
  /**
   * The same for points already in InfluxDB line protocol with millisecond timestamps, one point per
   * string, exactly as `toLineProtocol` (line-protocol.ts) writes them. Optional: ingest builds lines
   * itself when a sink offers it (the hot path), and Point objects otherwise.
   */
  writeLines?(lines: readonly string[]): Promise<void | PartialWrite>;
  /**
   * The same for lines already as the bytes they are sent as (LineWriter, line-protocol.ts): the ingest hot
   * path's way, used before writeLines when a sink offers it. The sink owns the block from then on.
   */
  writeLineBlock?(block: LineBlock): Promise<void | PartialWrite>;
  /** True when the database answers its health check. */
  ready(): Promise<boolean>;
  /** Flushes what is queued and releases connections. */
  close(): Promise<void>;
}
