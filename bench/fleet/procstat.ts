/** What /proc says about a process: resident memory, CPU time, children. Linux only. */
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100;

/** Resident set size in bytes (VmRSS), or NaN when the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resident memory by kind (/proc/PID/status), bytes: anonymous (heap, stacks: what a leak grows) and file-backed (mapped files such as influxd's TSM files: the kernel may drop them again); NaN when gone. */
export interface RssParts {
  anon: number;
  file: number;
  shmem: number;
}

/** RssAnon, RssFile and RssShmem of a process (together VmRSS), or NaN each when the process is gone. */
export function rssParts(pid: number): RssParts {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => {
      const m = new RegExp(`${name}:\\s+(\\d+) kB`).exec(status);
      return m ? Number(m[1]) * 1024 : NaN;
    };
    return { anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
  } catch {
    return { anon: NaN, file: NaN, shmem: NaN };
  }
}

/** User + system CPU time in ms (all threads), or NaN when the process is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * CPU time (user + system, ms) of a process by thread name (`comm`: node's main thread has the process's name,
 * then `V8 Worker` (GC helpers), `libuv-worker` (the thread pool: fdatasync, …), a Worker thread's `WorkerThread`…),
 * threads of one name summed; {} when the process is gone.
 */
export function threadCpuMs(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
        const name = Number(t) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out[name] = (out[name] ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
      } catch {
        /* the thread ended meanwhile */
      }
    }
  } catch {
    /* gone */
  }
  return out;
}

/** Pids of the direct children of a process. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const c = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (c) out.push(...c.split(/\s+/).map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** The command line of a process, or '' when gone. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}
