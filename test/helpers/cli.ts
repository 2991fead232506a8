/** Runs the project's CLIs from source (through tsx), as a user would run the built bins. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Absolute path of a file in the repository. */
export function repoPath(rel: string): string {
  return ROOT + rel;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin args…` (bin = 'agent' | 'collector') to completion with the given environment additions. */
export function runCli(bin: 'agent' | 'collector', args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', repoPath(`${bin}/cli.ts`), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} timed out after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running CLI process, started and waited for until a line of stdout matches `ready`. */
export interface CliProcess {
  child: ChildProcess;
  /** The stdout line that matched `ready`. */
  readyLine: string;
  stderr(): string;
  /** SIGTERM, then waits for exit. */
  stop(): Promise<number | null>;
}

export function startCli(bin: 'agent' | 'collector', args: string[], opts: { env?: Record<string, string>; ready: RegExp; timeoutMs?: number }): Promise<CliProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', repoPath(`${bin}/cli.ts`), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} did not become ready in time\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      const line = stdout.split('\n').find((l) => opts.ready.test(l));
      if (line) {
        clearTimeout(timer);
        resolve({
          child,
          readyLine: line,
          stderr: () => stderr,
          async stop() {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited with ${code} before it was ready\n${stderr}`));
    });
  });
}
