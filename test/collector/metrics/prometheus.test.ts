import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createAlertsModule, type AlertsModule } from '../../../collector/alerts/module.js';
import { createApp } from '../../../collector/http/app.js';
import { createMetricsModule } from '../../../collector/metrics/module.js';
import { METRIC_NAMES } from '../../../collector/metrics/registry.js';
import type { CollectorModule } from '../../../collector/module.js';
import { LiveRegistry } from '../../../collector/registry/index.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { startPrometheus, waitFor, type PromServer } from '../../helpers/prom-servers.js';
import { internet, quiet, report, rules, seededRegistry } from '../alerts/fixtures.js';

interface PromQuery {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('/metrics scraped by the real Prometheus', function () {
  this.timeout(60_000);
  const { registry, schools } = seededRegistry(36);
  const school = schools[0]!.id;
  let server: Server;
  let base: string;
  let prom: PromServer;
  let state: StateDb;
  let dir: string;
  let modules: CollectorModule[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cl-metrics-'));
    state = openStateDb({ stateDir: dir });
    const ctx = { config: {} as never, registry, liveRegistry: new LiveRegistry({ path: '(test)', initial: registry }), stateDir: dir, state, sink: new MemorySink(), influx: undefined as never, log: quiet, now: Date.now };
    const alerts: AlertsModule = createAlertsModule(ctx, { rules: rules('rules:\n  - { id: school-offline, kind: school_offline }\n') });
    modules = [alerts, createMetricsModule(ctx)];
    for (const m of modules) await m.start?.();
    const app = createApp({
      sink: ctx.sink,
      tokens: { verify: (t) => (t === 'clk1_good' ? { id: 'abc', school, sha256: '', issuedAt: '' } : undefined) },
      schools: registry,
      log: quiet,
      maxBodyBytes: 1 << 20,
      retryAfterS: 1,
      modules,
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    prom = await startPrometheus(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: campuslink
    static_configs:
      - targets: ['${base.replace('http://', '')}']
`);
  });

  after(async () => {
    await prom?.stop();
    await new Promise((r) => server?.close(r));
    for (const m of modules ?? []) await m.stop?.();
    await state?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const query = async (q: string): Promise<PromQuery['data']['result']> => {
    const res = await fetch(`${prom.url}/api/v1/query?${new URLSearchParams({ query: q })}`);
    const body = (await res.json()) as PromQuery;
    expect(body.status).to.equal('success');
    return body.data.result;
  };

  it('Prometheus scrapes ingest answers by status and code, batches, points, alert evaluations, the state-DB size and event-loop delay, with no per-school label', async () => {
    const post = (token: string) =>
      fetch(`${base}/api/v1/reports`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ reports: [report(school, Date.now(), [internet(0)])] }) });
    expect((await post('clk1_bad')).status).to.equal(401);
    expect((await post('clk1_good')).status).to.equal(200);
    await (modules[0] as AlertsModule).evaluate();

    const text = await (await fetch(`${base}/metrics`)).text();
    for (const name of METRIC_NAMES) expect(text, name).to.include(`# HELP ${name}`);

    await waitFor(async () => (await query('campuslink_ingest_batches_total')).length > 0 && (await query('campuslink_alert_evaluations_total')).length > 0, 'Prometheus to scrape the collector', 20_000);
    const answers = await query('campuslink_ingest_requests_total');
    const byStatus = new Map(answers.map((r) => [`${r.metric.status} ${r.metric.code}`, Number(r.value[1])]));
    expect(byStatus.get('200 ok')).to.be.at.least(1);
    expect([...byStatus.keys()].some((k) => k.startsWith('401 COL_ERR_'))).to.equal(true);
    expect(Number((await query('campuslink_ingest_points_total'))[0]!.value[1])).to.be.greaterThan(0);
    expect((await query('campuslink_alert_evaluations_total{rule="school-offline"}'))).to.have.length(1);
    expect(Number((await query('campuslink_state_db_bytes'))[0]!.value[1])).to.be.greaterThan(0);
    expect(await query('nodejs_eventloop_lag_p99_seconds')).to.have.length(1);
    expect(await query('{__name__=~"campuslink_.*", school!=""}'), 'no metric carries a school label').to.have.length(0);
    expect((await query('up{job="campuslink"}'))[0]!.value[1]).to.equal('1');
  });
});
