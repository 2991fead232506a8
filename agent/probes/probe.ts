/** The small interface every probe implements. */
import type { Logger } from 'pino';
import type { DeviceEvents, Measurement } from '../../protocol/index.js';

/** What a probe gets from the cycle that runs it. */
export interface ProbeContext {
  /** Injected clock: milliseconds since the epoch. */
  now: () => number;
  log: Logger;
}

/**
 * A source of measurements. `collect()` never throws for a network or device failure:
 * it records the failure as data (`result_code`, an error count) and returns.
 */
export interface Probe {
  readonly name: string;
  collect(ctx: ProbeContext): Promise<Measurement[]>;
  /**
   * Device-list changes found by the last `collect()`, if this probe keeps a device list (inventory).
   * The cycle puts them into the report, so they are spooled and delivered like everything else.
   */
  deviceEvents?(): DeviceEvents | undefined;
}
