import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { AlertFactory, type Alert } from '../../../collector/alerts/alert.js';
import { AlertBoard, MAX_RESOLVED } from '../../../collector/alerts/board.js';
import { openStateDb } from '../../../collector/state/db.js';
import { provinceRegistry, rules } from './fixtures.js';

const T = Date.parse('2026-11-23T09:00:00+08:00');

describe('alerts/board: a storm resolving', () => {
  it(`keeps the newest ${MAX_RESOLVED} of 6,000 resolved alerts with their acknowledgements, drops every acknowledgement of the rest, and a timer keeps ticking meanwhile`, async function () {
    this.timeout(60_000);
    const reg = provinceRegistry(6000);
    const rule = rules('rules:\n  - { id: off, kind: school_offline, forMin: 30 }\n')[0]!;
    const factory = new AlertFactory('http://127.0.0.1:8470');
    const active = new Map<string, Alert>();
    let i = 0;
    for (const s of reg.schools.values()) {
      const a = factory.school(rule, reg, s, { value: '42 min', threshold: '', forMin: 30 }, T + i++ * 1000);
      active.set(a.key, a);
    }
    const dir = mkdtempSync(join(tmpdir(), 'cl-board-'));
    const state = openStateDb({ stateDir: dir });
    try {
      const clock = { now: T + 7_200_000 };
      const board = new AlertBoard(state, () => active, () => clock.now);
      const alerts = [...active.values()];
      // One acknowledged among the dropped (the oldest), one among the kept (the newest).
      await board.acknowledge(alerts[0]!.key, 'noc-a');
      await board.acknowledge(alerts.at(-1)!.key, 'noc-b');
      for (const a of alerts) a.endsAtMs = clock.now;
      active.clear();
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      board.note([], alerts);
      await board.flushed();
      clearInterval(timer);
      expect(ticks, 'the event loop ran between the chunks').to.be.greaterThan(5);
      const db = state.db;
      expect(db.prepare('SELECT count(*) FROM alert_resolved').pluck().get()).to.equal(MAX_RESOLVED);
      expect(db.prepare('SELECT min(starts_ms) FROM alert_resolved').pluck().get(), 'the newest kept').to.equal(alerts[alerts.length - MAX_RESOLVED]!.startsAtMs);
      expect(db.prepare('SELECT count(*) FROM alert_acks').pluck().get(), 'no acknowledgement left behind').to.equal(0);
      expect(db.prepare('SELECT acked_by FROM alert_resolved WHERE acked_by IS NOT NULL').pluck().all()).to.deep.equal(['noc-b']);
      const page = await board.items({ region: '000000', state: 'resolved', limit: 2, scope: '000000' });
      expect(page.items[0]!.summary, 'summaries written with the row').to.include('offline');
      expect(page.items[0]!.labels).to.include({ rule: 'off', alertname: 'CampuslinkSchoolOffline' });
    } finally {
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
