/**
 * `once --print`: one cycle's report as it would be sent, storing nothing. The probes keep state
 * (counter readings, the device list, the OUI index) and the spool recovers itself when opened, so
 * the cycle runs on a throw-away copy of the state and spool directories, removed afterwards.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import type { Report } from '../protocol/index.js';
import type { AgentConfig } from './config.js';
import type { Probe } from './probes/probe.js';
import { AgentRuntime } from './runtime.js';

export interface PreviewOptions {
  config: Readonly<AgentConfig>;
  log: Logger;
  /** Probes to use instead of those the config describes (tests). */
  probes?: Probe[];
  /** Where the throw-away copy goes (default the system temp directory). */
  scratchDir?: string;
}

function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

/** Collects one report without writing to the configured state or spool directories. */
export async function previewReport(opts: PreviewOptions): Promise<Report> {
  const stateDir = resolve(opts.config.stateDir);
  const spoolDir = resolve(opts.config.spool.dir);
  const scratch = mkdtempSync(join(opts.scratchDir ?? tmpdir(), 'campuslink-preview-'));
  try {
    const scratchState = join(scratch, 'state');
    const scratchSpool = join(scratch, 'spool');
    if (existsSync(stateDir)) cpSync(stateDir, scratchState, { recursive: true, filter: (src) => !inside(resolve(src), spoolDir) || resolve(src) === stateDir });
    if (existsSync(spoolDir)) cpSync(spoolDir, scratchSpool, { recursive: true });
    const config: AgentConfig = { ...opts.config, stateDir: scratchState, spool: { ...opts.config.spool, dir: scratchSpool } };
    const runtime = new AgentRuntime({ config, log: opts.log, ...(opts.probes && { probes: opts.probes }) });
    try {
      return await runtime.preview();
    } finally {
      runtime.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
