/** An in-memory Sink for HTTP-level unit tests; integration tests use the real InfluxDB. */
import { SinkError, type Point, type Sink } from '../../collector/sink/sink.js';

export class MemorySink implements Sink {
  points: Point[] = [];
  /** When set, writes fail with this error. */
  failWith?: SinkError;

  async write(points: readonly Point[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.points.push(...points);
  }
  async ready(): Promise<boolean> {
    return !this.failWith;
  }
  async close(): Promise<void> {}
}
