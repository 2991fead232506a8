/**
 * What the dashboards tell a reader about bandwidth: tiers come from measured throughput, else the
 * contracted bandwidth, never the port speed (collector/views/coverage/tiers.ts).
 */
import { expect } from 'chai';
import { allPanels, loadDashboards } from './dashboards.js';

describe('dashboards/*.json texts', () => {
  const panels = loadDashboards().flatMap(({ file, dashboard }) => allPanels(dashboard).map((p) => ({ file, p })));

  it('no panel says bandwidth tiers come from the port speed (ifHighSpeed / ifSpeed)', () => {
    const tierPanels = panels.filter(({ p }) => /tier|bandwidth/i.test(p.title) || (p.targets ?? []).some((t) => /tier_/.test(t.query)));
    expect(tierPanels.length, 'panels about bandwidth tiers').to.be.greaterThan(0);
    for (const { file, p } of tierPanels) {
      const text = `${p.title} ${p.description ?? ''}`;
      expect(text, `${file}: "${p.title}"`).to.not.match(/ifHighSpeed|ifSpeed|port speed of|speed of the WAN port/i);
      expect(text, `${file}: "${p.title}"`).to.match(/throughput|iperf3|measured/i).and.match(/contracted/i);
    }
  });

  it('a panel over the port speed says the port speed is not the bandwidth', () => {
    const { p } = panels.find(({ p }) => p.title === 'WAN utilisation')!;
    expect(p.description).to.match(/port speed/).and.match(/not the school's bandwidth/);
  });

  it('the tier panel shows how many tiers were measured and how many schools are in no tier', () => {
    const { p } = panels.find(({ p }) => p.title === 'Bandwidth tiers')!;
    const q = p.targets?.[0]?.query ?? '';
    expect(q).to.include('"measured_speed"').and.include('"tier_unknown"');
  });
});
