/**
 * The gaps module: keeps the collector's start/stop log and, for every accepted batch, writes a `gap`
 * point per hole found in the agent's data (tags: registry tags, agent, cause; fields duration_s,
 * missing_reports; time: start of the hole). State lives under `<stateDir>/gaps/`.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RegistryTags } from '../ingest/points.js';
import type { CollectorModule } from '../module.js';
import type { Point, Sink } from '../sink/sink.js';
import { emptyAgentGapState, observeBatch, type AgentGapState, type Gap } from './detector.js';
import { LifeLog } from './lifelog.js';

export interface GapsModuleOptions {
  stateDir: string;
  sink: Sink;
  /** Registry tags of a school (undefined: not registered, nothing written). */
  tagsFor: (school: string) => RegistryTags | undefined;
  /** Whether the collector holds a sequence (the dedupe state). */
  held: (school: string, agent: string, seq: number) => boolean;
  log: Logger;
  now: () => number;
  /** A report delivered later than this after collection marks a delivery hole, ms. Default 300000. */
  lateAfterMs?: number;
  /** Collector heartbeat interval for the start/stop log, ms. Default 2000. */
  heartbeatMs?: number;
}

/** The gaps module plus its start/stop log (exposed for tests). */
export interface GapsModule extends CollectorModule {
  readonly lifelog: LifeLog;
}

export function gapPoints(gaps: readonly Gap[], tags: RegistryTags, agent: string): Point[] {
  return gaps.map((g) => ({
    measurement: 'gap',
    tags: { ...tags, agent, cause: g.cause },
    fields: { duration_s: g.durationS, missing_reports: g.missingReports },
    timestampMs: Math.round(g.startMs),
  }));
}

export function createGapsModule(opts: GapsModuleOptions): GapsModule {
  const lifelog = new LifeLog({ stateDir: opts.stateDir, now: opts.now, heartbeatMs: opts.heartbeatMs });
  const path = join(opts.stateDir, 'gaps', 'agents.json');
  let states: Record<string, AgentGapState> = {};
  let saveTimer: NodeJS.Timeout | undefined;
  const save = () => {
    // Not fsynced: losing this only re-derives or misses a hole's point after a crash; data is unaffected.
    writeFileSync(`${path}.tmp`, JSON.stringify(states));
    renameSync(`${path}.tmp`, path);
  };
  return {
    name: 'gaps',
    lifelog,
    async start() {
      try {
        states = JSON.parse(readFileSync(path, 'utf8')) as Record<string, AgentGapState>;
      } catch {
        states = {};
      }
      lifelog.start();
      saveTimer = setInterval(save, 2000);
      saveTimer.unref();
    },
    async stop() {
      if (saveTimer) clearInterval(saveTimer);
      save();
      lifelog.stop();
    },
    async onAccepted(batch) {
      const tags = opts.tagsFor(batch.school);
      const first = batch.reports[0];
      if (!tags || !first) return;
      const key = `${batch.school}/${first.agent}`;
      const state = (states[key] ??= emptyAgentGapState());
      const gaps = observeBatch({
        state,
        reports: batch.reports,
        receivedAtMs: batch.receivedAtMs,
        held: (seq) => opts.held(batch.school, first.agent, seq),
        lateAfterMs: opts.lateAfterMs ?? 300_000,
        downWithin: (a, b) => lifelog.downWithin(a, b),
      });
      if (!gaps.length) return;
      opts.log.info({ school: batch.school, agent: first.agent, gaps }, 'gaps found');
      await opts.sink.write(gapPoints(gaps, tags, first.agent));
    },
  };
}
