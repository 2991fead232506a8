import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import YAML from 'yaml';
import { loadAgentConfig } from '../../agent/config.js';

const FILE = join(import.meta.dirname, '..', '..', 'config', 'agent.minimal.yaml');

describe('config/agent.minimal.yaml', () => {
  it('validates with loadAgentConfig and takes every other key from the defaults', () => {
    const config = loadAgentConfig(FILE, {});
    expect(config.school).to.equal('1640104001');
    expect(config.collector.url).to.equal('https://collector.example.edu.cn');
    expect(config.collector.token).to.equal('REPLACE_WITH_TOKEN');
    expect(config.snmp.host).to.equal('192.168.1.1');
    expect(config.schedule).to.equal('* * * * *');
  });

  it('sets only the collector URL, school id, token and gateway address', () => {
    const raw = YAML.parse(readFileSync(FILE, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(raw).sort()).to.deep.equal(['collector', 'school', 'snmp']);
    expect(Object.keys(raw.collector!).sort()).to.deep.equal(['token', 'url']);
    expect(Object.keys(raw.snmp!)).to.deep.equal(['host']);
  });

  it('lets CAMPUSLINK_TOKEN replace the placeholder token', () => {
    expect(loadAgentConfig(FILE, { CAMPUSLINK_TOKEN: 'clk1_from_env' }).collector.token).to.equal('clk1_from_env');
  });
});
