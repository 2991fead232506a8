import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createAlertsModule, type AlertsModule } from '../../../collector/alerts/module.js';
import { createCollectorMetrics } from '../../../collector/metrics/registry.js';
import { LiveRegistry } from '../../../collector/registry/index.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { freePort, startAlertmanager, startRecorder, waitFor, type PromServer, type Recorder } from '../../helpers/prom-servers.js';
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

describe('alerts → an Alertmanager that is slow or down', function () {
  this.timeout(30_000);
  const { registry, schools } = seededRegistry(36);

  /** An Alertmanager stand-in that holds every POST for `holdMs` before answering 200. */
  async function slowServer(holdMs: number): Promise<{ url: string; received: number[]; posts: { at: number; alerts: number }[]; close(): Promise<void> }> {
    const posts: { at: number; alerts: number }[] = [];
    const received: number[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const n = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]).length;
        received.push(n);
        setTimeout(() => {
          posts.push({ at: Date.now(), alerts: n });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        }, holdMs);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, posts, close: () => new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }) };
  }

  function moduleWith(urls: string[], timeoutMs: number) {
    const dir = mkdtempSync(join(tmpdir(), 'cl-alerts-am-slow-'));
    const state = openStateDb({ stateDir: dir });
    const metrics = createCollectorMetrics({ defaultMetrics: false });
    const mod = createAlertsModule(
      { config: {} as never, registry, liveRegistry: new LiveRegistry({ path: '(test)', initial: registry }), stateDir: dir, state, sink: new MemorySink(), influx: undefined as never, log: quiet, now: Date.now },
      { rules: rules('rules:\n  - { id: off, kind: school_offline, forMin: 30, schoolHoursOnly: false }\n'), settings: { alertmanager: { urls, resendIntervalS: 60, resolvedResendMin: 15, maxAlertsPerPost: 3, timeoutMs } }, metrics },
    );
    const dark = () => {
      const now = Date.now();
      for (const s of schools.slice(0, 6)) mod.onAccepted!({ school: s.id, receivedAtMs: now, reports: [report(s.id, now - 80 * MIN, [internet(100)], now)] });
    };
    const close = async () => {
      await mod.stop!();
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return { mod, metrics, dark, close };
  }

  it('a sweep does not wait for an Alertmanager that takes 1.5 s to answer: evaluate() returns at once and the alerts arrive afterwards', async () => {
    const slow = await slowServer(1500);
    const { mod, dark, close } = moduleWith([slow.url], 10_000);
    try {
      await mod.start!();
      dark();
      const t0 = Date.now();
      const r = await mod.evaluate();
      const tookMs = Date.now() - t0;
      expect(r.fired).to.have.length(6);
      expect(tookMs, 'evaluate() did not wait for the POST').to.be.below(1200);
      expect(slow.posts).to.have.length(0);
      await mod.delivered();
      expect(slow.posts.map((p) => p.alerts), 'every alert, 3 a POST').to.deep.equal([3, 3]);
    } finally {
      await close();
      await slow.close();
    }
  });

  it('an Alertmanager that times out gets none of the rest of that send (one timeout, not one per POST), is counted as an error, and the re-send tries it again', async () => {
    const slow = await slowServer(2000);
    const { mod, metrics, dark, close } = moduleWith([slow.url], 300);
    try {
      await mod.start!();
      dark();
      await mod.evaluate();
      const t0 = Date.now();
      await mod.delivered();
      expect(slow.received, 'the second POST of the send was not tried').to.deep.equal([3]);
      expect(Date.now() - t0, 'one 300 ms timeout, not two').to.be.below(2000);
      const errors = (await metrics.registry.getSingleMetricAsString('campuslink_alert_notifications_total')).match(/result="error"} (\d+)/)?.[1];
      expect(Number(errors)).to.equal(1);
      // The periodic re-send carries every firing alert again (and tries the Alertmanager despite the backoff).
      await mod.resend();
      expect(Number((await metrics.registry.getSingleMetricAsString('campuslink_alert_notifications_total')).match(/result="error"} (\d+)/)?.[1])).to.equal(2);
    } finally {
      await close();
      await slow.close();
    }
  });

  it('an Alertmanager that is down costs the sweep nothing and the collector keeps its alerts', async () => {
    const port = await freePort();
    const { mod, dark, close } = moduleWith([`http://127.0.0.1:${port}`], 5000);
    try {
      await mod.start!();
      dark();
      const r = await mod.evaluate();
      expect(r.fired).to.have.length(6);
      await mod.delivered();
      expect(mod.engine.active.size).to.equal(6);
      expect((await mod.evaluate()).fired, 'nothing raised twice').to.have.length(0);
    } finally {
      await close();
    }
  });
});
