import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createAlertsModule } from '../../../collector/alerts/module.js';
import { createApp } from '../../../collector/http/app.js';
import { createCollectorMetrics } from '../../../collector/metrics/registry.js';
import { LiveRegistry } from '../../../collector/registry/index.js';
import { openStateDb } from '../../../collector/state/db.js';
import { jsonOf } from '../../helpers/http.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { internet, MIN, quiet, report, rules, seededRegistry } from './fixtures.js';

describe('alerts module', () => {
  it('GET /api/v1/alerts lists what fires, filtered by rule and by region at any level; /api/v1/alerts/rules the rules in force', async () => {
    const { registry, schools } = seededRegistry(36);
    const dir = mkdtempSync(join(tmpdir(), 'cl-alerts-mod-'));
    const state = openStateDb({ stateDir: dir });
    const now = Date.now();
    const ctx = { config: {} as never, registry, liveRegistry: new LiveRegistry({ path: '(t)', initial: registry }), stateDir: dir, state, sink: new MemorySink(), influx: undefined as never, log: quiet, now: () => now };
    const mod = createAlertsModule(ctx, { rules: rules('rules:\n  - { id: off, kind: school_offline, forMin: 30, schoolHoursOnly: false }\n'), metrics: createCollectorMetrics({ defaultMetrics: false }) });
    await mod.start!();
    const dark = schools.filter((s) => s.link === 'fiber').slice(0, 2);
    for (const s of dark) mod.onAccepted!({ school: s.id, receivedAtMs: now, reports: [report(s.id, now - 45 * MIN, [internet(0)], now)] });
    await mod.evaluate();
    const app = createApp({ sink: ctx.sink, tokens: { verify: () => undefined }, schools: registry, log: quiet, maxBodyBytes: 1 << 20, retryAfterS: 1, modules: [mod] });
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const all = await jsonOf(await fetch(`${base}/api/v1/alerts`));
      expect(all.firing).to.equal(2);
      expect(all.alerts[0]).to.include.keys('key', 'rule', 'labels', 'summary', 'summaryZh', 'consoleUrl', 'startsAt');
      const inCounty = await jsonOf(await fetch(`${base}/api/v1/alerts?region=${dark[0]!.county}`));
      expect(inCounty.alerts.map((a: { labels: { school: string } }) => a.labels.school)).to.deep.equal([dark[0]!.id]);
      expect((await jsonOf(await fetch(`${base}/api/v1/alerts?region=640000&rule=off`))).firing).to.equal(2);
      expect((await jsonOf(await fetch(`${base}/api/v1/alerts?rule=other`))).firing).to.equal(0);
      expect((await jsonOf(await fetch(`${base}/api/v1/alerts/rules`))).rules.map((r: { id: string }) => r.id)).to.deep.equal(['off']);
    } finally {
      await new Promise((r) => server.close(r));
      await mod.stop!();
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
