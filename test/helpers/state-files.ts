import { existsSync, readFileSync } from 'node:fs';
import { stateDbPath } from '../../collector/state/db.js';

/**
 * Every byte the state database has on disk (state.db, its -wal and -shm) as latin1 text, for tests that prove
 * what is and is not stored. WAL checkpoints run on a worker thread, so a committed row may sit in the -wal
 * for a while. The -wal is read before the main file: a checkpoint that runs between the two reads has already
 * copied the row into the main file, so a committed row is always in the result.
 */
export function storedStateText(stateDir: string): string {
  const db = stateDbPath(stateDir);
  const read = (p: string) => (existsSync(p) ? readFileSync(p).toString('latin1') : '');
  const wal = read(`${db}-wal`);
  const shm = read(`${db}-shm`);
  return `${wal}\n${shm}\n${read(db)}`;
}
