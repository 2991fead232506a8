/**
 * When a school tests and how many bytes its tests used today. The China-time day is cut into
 * `testsPerDay` equal slots; each slot's test runs at a random instant of it, the same for one school
 * and day however often the agent restarts, and different between schools, so a province's agents do
 * not all hit the server at once. What ran and the bytes used are saved in the state directory, so a
 * restart neither tests twice nor forgets the day's budget.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurableAsync } from '../../../protocol/durable.js';

const DAY_MS = 86_400_000;
const CHINA_OFFSET_MS = 8 * 3_600_000;
/** A slot's test starts at least this long before the slot ends. */
const SLOT_TAIL_MS = 5 * 60_000;

/** China-time day number of `t`. */
export function chinaDay(t: number): number {
  return Math.floor((t + CHINA_OFFSET_MS) / DAY_MS);
}

/** The saved state: the day, its slots already done, the bytes they used. */
export interface ThroughputState {
  v: 1;
  day: number;
  done: number[];
  bytesUsed: number;
}

/** The state file in the agent's state directory. */
export function throughputStateFile(stateDir: string): string {
  return join(stateDir, 'throughput.json');
}

/** The start time of slot `k` on `day` for this `seed` (school and agent), ms. */
export function slotStartMs(seed: string, day: number, k: number, testsPerDay: number): number {
  const slotMs = DAY_MS / testsPerDay;
  const spread = Math.max(1, slotMs - SLOT_TAIL_MS);
  const h = createHash('sha256').update(`${seed}|${day}|${k}`).digest();
  const offset = h.readUInt32BE(0) % Math.floor(spread);
  return day * DAY_MS - CHINA_OFFSET_MS + k * slotMs + offset;
}

/** The slot due at `nowMs`: its time has come, it is not done, and it has not ended; undefined if none. */
export function dueSlot(state: ThroughputState, seed: string, nowMs: number, testsPerDay: number): number | undefined {
  const day = chinaDay(nowMs);
  const done = state.day === day ? state.done : [];
  const slotMs = DAY_MS / testsPerDay;
  const k = Math.floor((nowMs - (day * DAY_MS - CHINA_OFFSET_MS)) / slotMs);
  if (done.includes(k)) return undefined;
  return nowMs >= slotStartMs(seed, day, k, testsPerDay) ? k : undefined;
}

/** The state for `nowMs`'s day (a new day starts with nothing done and nothing used). */
export function stateForDay(state: ThroughputState, nowMs: number): ThroughputState {
  const day = chinaDay(nowMs);
  return state.day === day ? state : { v: 1, day, done: [], bytesUsed: 0 };
}

/**
 * Reads the saved state. A missing file starts the day with nothing used; a damaged one is reported as
 * a problem, and the caller counts the day's budget as spent (a metered link is not tested twice on a guess).
 */
export async function loadThroughputState(file: string, nowMs: number): Promise<{ state: ThroughputState; problem?: string }> {
  const fresh: ThroughputState = { v: 1, day: chinaDay(nowMs), done: [], bytesUsed: 0 };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? { state: fresh } : { state: fresh, problem: `cannot read ${file}: ${String(e)}; no more tests today` };
  }
  try {
    const s = JSON.parse(text) as Partial<ThroughputState>;
    if (s.v !== 1 || !Number.isInteger(s.day) || !Array.isArray(s.done) || !s.done.every(Number.isInteger) || typeof s.bytesUsed !== 'number' || !(s.bytesUsed >= 0)) {
      throw new Error('unexpected content');
    }
    return { state: stateForDay(s as ThroughputState, nowMs) };
  } catch (e) {
    return { state: fresh, problem: `${file} is damaged (${String(e)}); no more tests today` };
  }
}

/** Saves the state durably. */
export async function saveThroughputState(file: string, state: ThroughputState): Promise<void> {
  await writeFileDurableAsync(file, JSON.stringify(state));
}
