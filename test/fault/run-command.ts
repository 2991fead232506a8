/** Starts a tsx script, waits for a stdout line matching `ready`, returns it and stops the process. */
import { spawn } from 'node:child_process';
import { repoPath } from '../helpers/cli.js';

export function runCommand(args: string[], ready: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', repoPath(args[0] as string), ...args.slice(1)], { cwd: repoPath(''), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ready line in time\n${err}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => ready.test(l));
      if (line) {
        clearTimeout(timer);
        child.kill('SIGTERM');
        resolve(line);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before ready\n${err}`));
    });
  });
}
