/** Child processes a script owns: every one tracked from spawn, all stopped together, none left behind. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Tracks children; once `stopAll()` began, no new child is started. */
export class ChildGroup {
  private readonly children = new Set<ChildProcess>();
  private closed = false;

  /** Spawns and tracks; throws when the group is already stopping. */
  spawn(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
    if (this.closed) throw new Error('stopping: no new process is started');
    const child = spawn(command, args, options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  get stopping(): boolean {
    return this.closed;
  }

  /** SIGTERM to every child still running, SIGKILL to those still there after `graceMs`; resolves when all exited. */
  async stopAll(graceMs = 15_000): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
            c.once('exit', () => (clearTimeout(timer), resolve()));
            c.kill('SIGTERM');
          }),
      ),
    );
  }
}
