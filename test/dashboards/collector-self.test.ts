import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { METRIC_NAMES } from '../../collector/metrics/registry.js';
import { dashboardSchema } from './grafana-schema.js';

describe('dashboards/prometheus/collector-self.json', () => {
  const d = JSON.parse(readFileSync(new URL('../../dashboards/prometheus/collector-self.json', import.meta.url), 'utf8'));

  it('matches the Grafana dashboard JSON model and queries Prometheus through $datasource', () => {
    const r = dashboardSchema.safeParse(d);
    expect(r.success, r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')).to.equal(true);
    expect(d.templating.list[0]).to.include({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    for (const p of d.panels) {
      expect(p.datasource, p.title).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
      expect(p.description, p.title).to.have.length.greaterThan(20);
      expect(p.fieldConfig.defaults.unit, p.title).to.be.a('string');
    }
  });

  it('queries only metrics the collector exports, and shows every campuslink metric', () => {
    const exprs: string[] = d.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));
    const used = new Set(exprs.flatMap((e) => e.match(/\b(campuslink|nodejs|process)_[a-z0-9_]+/g) ?? []).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    for (const n of used) if (n.startsWith('campuslink_')) expect(METRIC_NAMES as readonly string[], n).to.include(n);
    for (const n of METRIC_NAMES) expect([...used], n).to.include(n);
  });
});
