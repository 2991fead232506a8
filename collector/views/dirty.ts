/** The schools whose state changed since the last save, for the periodic flush into the state database. */
export class DirtySchools {
  private set = new Set<string>();

  add(school: string): void {
    this.set.add(school);
  }

  /** The schools changed since the last call, and forgets them. */
  take(): Set<string> {
    const d = this.set;
    this.set = new Set();
    return d;
  }

  /** Marks schools changed again (their save failed). */
  again(schools: Iterable<string>): void {
    for (const s of schools) this.set.add(s);
  }
}
