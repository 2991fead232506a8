/**
 * The simple directory spool: one JSON file per report, named by its zero-padded sequence.
 * Each file is written durably (temp + fsync + rename), so a crash leaves whole reports only.
 * The store-and-forward work replaces it with segment files.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Report } from '../../protocol/index.js';
import { writeFileDurable } from '../state/atomic.js';
import type { Spool, SpoolStats } from './spool.js';

const NAME = /^(\d{16})\.json$/;

function fileName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.json`;
}

export class DirSpool implements Spool {
  private readonly quarantineDir: string;

  constructor(private readonly dir: string) {
    this.quarantineDir = join(dir, 'quarantine');
    mkdirSync(this.quarantineDir, { recursive: true });
  }

  private names(): string[] {
    return readdirSync(this.dir)
      .filter((n) => NAME.test(n))
      .sort();
  }

  async append(report: Report): Promise<void> {
    writeFileDurable(join(this.dir, fileName(report.seq)), JSON.stringify(report));
  }

  async pending(limit: number): Promise<Report[]> {
    const out: Report[] = [];
    for (const name of this.names().slice(0, limit)) {
      try {
        out.push(JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as Report);
      } catch {
        // A file that cannot be parsed is moved aside rather than blocking delivery for ever.
        renameSync(join(this.dir, name), join(this.quarantineDir, `${name}.corrupt`));
      }
    }
    return out;
  }

  async remove(seqs: readonly number[]): Promise<void> {
    for (const seq of seqs) rmSync(join(this.dir, fileName(seq)), { force: true });
  }

  async quarantine(seqs: readonly number[], reason: string): Promise<void> {
    for (const seq of seqs) {
      const name = fileName(seq);
      try {
        renameSync(join(this.dir, name), join(this.quarantineDir, name));
        writeFileSync(join(this.quarantineDir, `${name}.reason`), `${reason}\n`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }

  async stats(): Promise<SpoolStats> {
    const names = this.names();
    let bytes = 0;
    for (const n of names) bytes += statSync(join(this.dir, n)).size;
    return { reports: names.length, bytes };
  }
}
