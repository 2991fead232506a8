/**
 * Checks every dashboard against the Grafana dashboard model (test/dashboards/grafana-schema.ts,
 * mirrored from @grafana/schema's generated types) and against the project's rules: every panel has
 * a title, a unit and a description; raw InfluxQL through the data-source variable; nothing
 * hard-coded to one school; panels inside the 24-column grid without overlaps.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { allPanels, DASHBOARD_DIR, loadDashboards } from './dashboards.js';
import { dashboardSchema } from './grafana-schema.js';

describe('dashboards/*.json', () => {
  const dashboards = loadDashboards();

  it('has a unique uid and title per dashboard', () => {
    expect(new Set(dashboards.map((d) => d.dashboard.uid)).size).to.equal(dashboards.length);
    expect(new Set(dashboards.map((d) => d.dashboard.title)).size).to.equal(dashboards.length);
  });

  it('rejects a dashboard with a misspelt panel key (the schema check can fail)', () => {
    const d = structuredClone(dashboards[0]!.dashboard) as unknown as { panels: Record<string, unknown>[] };
    d.panels[0]!.titel = 'x';
    expect(dashboardSchema.safeParse(d).success).to.equal(false);
  });

  for (const { file, dashboard } of dashboards) {
    describe(file, () => {
      it('matches the Grafana dashboard JSON model', () => {
        const r = dashboardSchema.safeParse(dashboard);
        expect(r.success, r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')).to.equal(true);
      });

      it('gives every panel a title, a description and a unit, and unique ids', () => {
        const panels = allPanels(dashboard);
        expect(panels.length).to.be.greaterThan(0);
        for (const p of panels) {
          expect(p.title, `panel ${p.id}`).to.be.a('string').and.not.equal('');
          expect(p.description, `description of "${p.title}"`).to.be.a('string').with.length.greaterThan(20);
          expect(p.fieldConfig?.defaults?.unit, `unit of "${p.title}"`).to.be.a('string').and.not.equal('');
        }
        expect(new Set(panels.map((p) => p.id)).size).to.equal(panels.length);
      });

      it('queries raw InfluxQL through the $datasource variable only', () => {
        const dsVar = dashboard.templating.list.find((v) => v.name === 'datasource');
        expect(dsVar).to.include({ type: 'datasource', query: 'influxdb' });
        for (const p of allPanels(dashboard)) {
          expect(p.datasource, p.title).to.deep.equal({ type: 'influxdb', uid: '${datasource}' });
          expect(p.targets, p.title).to.be.an('array').that.is.not.empty;
          for (const t of p.targets ?? []) {
            expect(t.rawQuery, `${p.title} ${t.refId}`).to.equal(true);
            expect(t.datasource, `${p.title} ${t.refId}`).to.deep.equal({ type: 'influxdb', uid: '${datasource}' });
            expect(t.query, `${p.title} ${t.refId}`).to.match(/^(SELECT|SHOW) /);
          }
        }
      });

      it('hard-codes no school, region or agent in any query', () => {
        const queries = [
          ...allPanels(dashboard).flatMap((p) => (p.targets ?? []).map((t) => t.query)),
          ...dashboard.templating.list.map((v) => v.query ?? ''),
        ];
        for (const q of queries) {
          expect(q, q).not.to.match(/\b\d{6,10}\b(?!s\b|ms\b)/);
          expect(q, q).not.to.match(/"(school|province|city|county|agent)"\s*=\s*'/);
        }
      });

      it('keeps panels inside the 24-column grid without overlaps', () => {
        const panels = allPanels(dashboard);
        for (const a of panels) {
          const g = (a as unknown as { gridPos: { x: number; y: number; w: number; h: number } }).gridPos;
          expect(g.x + g.w, a.title).to.be.at.most(24);
          for (const b of panels) {
            if (a === b) continue;
            const h = (b as unknown as { gridPos: { x: number; y: number; w: number; h: number } }).gridPos;
            const overlap = g.x < h.x + h.w && h.x < g.x + g.w && g.y < h.y + h.h && h.y < g.y + g.h;
            expect(overlap, `"${a.title}" overlaps "${b.title}"`).to.equal(false);
          }
        }
      });
    });
  }
});

describe('dashboards/provisioning', () => {
  it('provisions one InfluxQL data source with the uid the push command uses, password from the environment', () => {
    const doc = YAML.parse(readFileSync(join(DASHBOARD_DIR, 'provisioning/datasources/campuslink.yaml'), 'utf8')) as {
      apiVersion: number;
      datasources: { name: string; uid: string; type: string; access: string; url: string; jsonData: Record<string, unknown>; secureJsonData?: Record<string, string> }[];
    };
    expect(doc.apiVersion).to.equal(1);
    expect(doc.datasources).to.have.length(1);
    const ds = doc.datasources[0]!;
    expect(ds).to.include({ name: 'campuslink', uid: 'campuslink-influxdb', type: 'influxdb', access: 'proxy' });
    expect(ds.jsonData.dbName).to.be.a('string');
    for (const v of Object.values(ds.secureJsonData ?? {})) expect(v).to.match(/^\$\{?[A-Z_]+\}?$/);
  });

  it('provisions the dashboards folder from a file provider', () => {
    const doc = YAML.parse(readFileSync(join(DASHBOARD_DIR, 'provisioning/dashboards/campuslink.yaml'), 'utf8')) as {
      apiVersion: number;
      providers: { name: string; type: string; folder: string; folderUid?: string; options: { path: string } }[];
    };
    expect(doc.apiVersion).to.equal(1);
    expect(doc.providers[0]).to.include({ type: 'file', folder: 'campuslink', folderUid: 'campuslink' });
    expect(doc.providers[0]!.options.path).to.be.a('string');
  });
});
