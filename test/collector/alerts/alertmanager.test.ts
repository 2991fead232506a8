import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createAlertsModule, type AlertsModule } from '../../../collector/alerts/module.js';
import { createCollectorMetrics } from '../../../collector/metrics/registry.js';
import { LiveRegistry } from '../../../collector/registry/index.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { startAlertmanager, startRecorder, waitFor, type PromServer, type Recorder } from '../../helpers/prom-servers.js';
import { internet, MIN, quiet, report, rules, seededRegistry } from './fixtures.js';

interface WebhookBody {
  status: string;
  groupLabels: Record<string, string>;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; generatorURL: string }[];
}

describe('alerts → the real Alertmanager (v2 API)', function () {
  this.timeout(60_000);
  const { registry, schools } = seededRegistry(36);
  let hook: Recorder;
  let am: PromServer;
  let state: StateDb;
  let dir: string;
  let mod: AlertsModule;

  before(async () => {
    hook = await startRecorder();
    am = await startAlertmanager(`
route:
  receiver: hook
  group_by: ['alertname', 'county']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: ${hook.url}/hook
        send_resolved: true
`);
    dir = mkdtempSync(join(tmpdir(), 'cl-alerts-am-'));
    state = openStateDb({ stateDir: dir });
    mod = createAlertsModule(
      { config: {} as never, registry, liveRegistry: new LiveRegistry({ path: '(test)', initial: registry }), stateDir: dir, state, sink: new MemorySink(), influx: undefined as never, log: quiet, now: Date.now },
      { rules: rules('rules:\n  - { id: school-offline, kind: school_offline, forMin: 30 }\n'), settings: { alertmanager: { urls: [am.url], resendIntervalS: 60, resolvedResendMin: 15, maxAlertsPerPost: 1000, timeoutMs: 5000 } }, metrics: createCollectorMetrics({ defaultMetrics: false }) },
    );
    await mod.start!();
  });

  after(async () => {
    await mod?.stop?.();
    await state?.close();
    await am?.stop();
    await hook?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('three schools of one county going offline give exactly one grouped notification, and one resolved notification when they are back', async () => {
    // Fibre, cellular and a GEO school (its built-in forMin is 60): all dark for 80 minutes.
    const county = schools[0]!.county;
    const dark = schools.filter((s) => s.county === county).slice(0, 3);
    const now = Date.now();
    for (const s of schools) {
      mod.onAccepted!({ school: s.id, receivedAtMs: now, reports: [report(s.id, now - 80 * MIN, [internet(0)], now)] });
      const back = dark.includes(s) ? [report(s.id, now - 79 * MIN, [internet(100)], now)] : [report(s.id, now - MIN, [internet(0)], now)];
      mod.onAccepted!({ school: s.id, receivedAtMs: now, reports: back });
    }
    const r = await mod.evaluate();
    expect(r.fired.map((a) => a.labels.school).sort()).to.deep.equal(dark.map((s) => s.id).sort());

    await waitFor(() => hook.posts.length >= 1, 'the firing notification', 20_000);
    // Re-sends of the same alerts (as every resend interval does) must not notify again.
    await mod.resend();
    await new Promise((res) => setTimeout(res, 3000));
    expect(hook.posts, `notifications: ${hook.posts.map((p) => p.raw).join('\n')}\n${am.log()}`).to.have.length(1);
    const firing = hook.posts[0]!.body as WebhookBody;
    expect(firing.status).to.equal('firing');
    expect(firing.groupLabels).to.deep.equal({ alertname: 'CampuslinkSchoolOffline', county });
    expect(firing.alerts.map((a) => a.labels.school).sort()).to.deep.equal(dark.map((s) => s.id).sort());
    const a0 = firing.alerts[0]!;
    expect(a0.labels).to.include({ rule: 'school-offline', severity: 'critical', province: '640000', county });
    expect(a0.annotations.summary).to.include('offline');
    expect(a0.annotations.summary_zh).to.include('离线');
    expect(a0.generatorURL).to.match(/\/console\/school\.html\?id=\d{10}$/);

    const later = Date.now();
    for (const s of dark) mod.onAccepted!({ school: s.id, receivedAtMs: later, reports: [report(s.id, later, [internet(0)])] });
    const back = await mod.evaluate();
    expect(back.resolved).to.have.length(3);
    await waitFor(() => hook.posts.length >= 2, 'the resolved notification', 20_000);
    await new Promise((res) => setTimeout(res, 2500));
    expect(hook.posts).to.have.length(2);
    const resolved = hook.posts[1]!.body as WebhookBody;
    expect(resolved.status).to.equal('resolved');
    expect(resolved.alerts.map((a) => a.status)).to.deep.equal(['resolved', 'resolved', 'resolved']);
    // The state database no longer holds them.
    expect((state.db.prepare('SELECT COUNT(*) AS n FROM alerts_active').get() as { n: number }).n).to.equal(0);
  });
});
