/** Helpers for code that takes either an open state database or a state directory (the CLI, tests). */
import { openStateDb, type StateDb } from './db.js';

/** Runs `work` with `opts.state`, or with the database of `opts.stateDir` opened for it and closed after. */
export function withStateDb<T>(opts: { state: StateDb } | { stateDir: string }, work: (state: StateDb) => T): T {
  if ('state' in opts) return work(opts.state);
  const state = openStateDb({ stateDir: opts.stateDir });
  try {
    return work(state);
  } finally {
    void state.close();
  }
}
