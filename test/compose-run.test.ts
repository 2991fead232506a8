/**
 * docker-compose.yml read as Docker would, without Docker (the build machines have no engine and no
 * compose plugin, so `docker compose config` cannot run): every bind-mount source, every path an
 * entrypoint or command names, and every file the Dockerfile copies must exist in the repository; no
 * file is mounted into a read-only bind mount (moby/moby#39587); and the collector's and the sim's
 * start-up commands run as their containers would — the Dockerfile's ENTRYPOINT + the compose
 * command, its environment, the image's WORKDIR — with the container paths mapped onto this checkout
 * (`/app` → the checkout, bind mounts → their sources, named volumes → temp dirs, `influxdb:8086` → a
 * real influxd on loopback). Needs `npm run build` (dist/), like the image.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { startTestInfluxd, type TestInfluxd } from './helpers/influxd.js';

const ROOT = join(import.meta.dirname, '..');

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test: string[] };
}

interface Stage {
  name: string;
  from: string;
  workdir: string;
  entrypoint: string[];
  cmd: string[];
  env: Record<string, string>;
  copies: { from?: string; src: string[]; dest: string }[];
}

/** The stages of a Dockerfile, each with what it inherits from the stage it starts FROM. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let cur: Stage | undefined;
  for (const line of lines) {
    const [instr = '', ...rest] = line.split(/\s+/);
    const arg = line.slice(instr.length).trim();
    switch (instr.toUpperCase()) {
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(arg);
        const base = stages.find((s) => s.name === m?.[1]);
        cur = { name: m?.[2] ?? `#${stages.length}`, from: m?.[1] ?? '', workdir: base?.workdir ?? '/', entrypoint: base?.entrypoint ?? [], cmd: base?.cmd ?? [], env: { ...base?.env }, copies: [...(base?.copies ?? [])] };
        stages.push(cur);
        break;
      }
      case 'WORKDIR':
        cur!.workdir = arg;
        break;
      case 'ENTRYPOINT':
        cur!.entrypoint = JSON.parse(arg) as string[];
        cur!.cmd = [];
        break;
      case 'CMD':
        cur!.cmd = JSON.parse(arg) as string[];
        break;
      case 'ENV':
        for (const m of arg.matchAll(/(\w+)=("[^"]*"|\S+)/g)) cur!.env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '');
        break;
      case 'COPY': {
        const from = /--from=(\S+)/.exec(arg)?.[1];
        const parts = rest.filter((p) => !p.startsWith('--'));
        cur!.copies.push({ ...(from && { from }), src: parts.slice(0, -1), dest: parts.at(-1) as string });
        break;
      }
    }
  }
  return stages;
}

/** `${VAR:-default}` / `${VAR:?msg}` / `${VAR}` as compose interpolates them from `env`. */
function interpolate(s: string, env: Record<string, string | undefined>): string {
  return s.replace(/\$\{(\w+)(?:(:-|:\?)([^}]*))?\}/g, (_m, name: string, op: string | undefined, rest: string | undefined) => {
    const v = env[name];
    if (v) return v;
    if (op === ':?') throw new Error(`${name} must be set: ${rest}`);
    return op === ':-' ? (rest ?? '') : '';
  });
}

const compose = YAML.parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));

/** The stage a service's image is built from (`build.target`, or the Dockerfile's last stage). */
function stageOf(s: Service): Stage {
  const st = s.build?.target ? stages.find((x) => x.name === s.build?.target) : stages.at(-1);
  if (!st) throw new Error(`no Dockerfile stage ${s.build?.target}`);
  return st;
}

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  bind: boolean;
}

function mountsOf(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    const [source = '', target = '', mode] = v.split(':');
    return { source, target, readOnly: mode === 'ro', bind: source.startsWith('.') || source.startsWith('/') };
  });
}

/**
 * Where a container path lives on this machine: under a bind mount its source, under a named volume
 * `volumes[name]`, under the image's WORKDIR the checkout (the Dockerfile copies the checkout there).
 */
function hostPath(p: string, a: { service: Service; stage: Stage; volumes: Record<string, string> }): string | undefined {
  const mounts = mountsOf(a.service).sort((x, y) => y.target.length - x.target.length);
  for (const m of mounts) {
    if (p === m.target || p.startsWith(`${m.target}/`)) return join(m.bind ? join(ROOT, m.source) : (a.volumes[m.source] as string), p.slice(m.target.length));
  }
  const wd = a.stage.workdir;
  if (p.startsWith(`${wd}/`)) return join(ROOT, p.slice(wd.length + 1));
  if (!p.startsWith('/')) return join(ROOT, p);
  return undefined;
}

/** Mounts that lie inside a read-only bind mount of the same service, as `inner → outer` strings. */
function nestedInReadOnly(mounts: readonly Mount[]): string[] {
  return mounts.flatMap((m) => mounts.filter((o) => o !== m && o.readOnly && o.bind && m.target.startsWith(`${o.target}/`)).map((o) => `${m.source} at ${m.target} → inside read-only ${o.target}`));
}

const looksLikePath = (s: string) => /^(\/|dist\/|\.\/)/.test(s) || /\.(js|ya?ml|csv)$/.test(s);

describe('docker-compose.yml against the repository', () => {
  it('every bind-mount source exists, and no mount lies inside a read-only bind mount of the same service', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      const mounts = mountsOf(s);
      for (const m of mounts) {
        if (m.bind) expect(existsSync(join(ROOT, m.source)), `${name}: ${m.source}`).to.equal(true);
        else expect(compose.volumes, `${name}: named volume ${m.source}`).to.have.property(m.source);
      }
      expect(nestedInReadOnly(mounts), `${name} (fails on Docker, moby/moby#39587)`).to.deep.equal([]);
    }
  });

  it('the nesting check can fail: a file mounted into the read-only config mount is refused', () => {
    const bad: Service = { volumes: ['./config:/etc/campuslink:ro', './config/collector.example.yaml:/etc/campuslink/collector.yaml:ro'] };
    expect(nestedInReadOnly(mountsOf(bad))).to.deep.equal(['./config/collector.example.yaml at /etc/campuslink/collector.yaml → inside read-only /etc/campuslink']);
  });

  it('every file the Dockerfile copies from the build context exists', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter(Boolean);
    for (const st of stages) {
      for (const c of st.copies.filter((x) => !x.from)) {
        for (const src of c.src) {
          expect(ignored.includes(src.replace(/\/$/, '')), `${st.name}: COPY ${src} is in .dockerignore`).to.equal(false);
          expect(existsSync(join(ROOT, src)), `${st.name}: COPY ${src}`).to.equal(true);
        }
      }
    }
  });

  it('every path an entrypoint or a command names exists where the container would look for it', () => {
    const volumes = Object.fromEntries(Object.keys(compose.volumes ?? {}).map((v) => [v, join(tmpdir(), v)]));
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.build) continue;
      const stage = stageOf(s);
      const argv = [...(s.entrypoint ?? stage.entrypoint), ...(s.command ?? stage.cmd)].map((a) => interpolate(a, {}));
      expect(argv.length, name).to.be.greaterThan(1);
      const env = { ...stage.env, ...Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), {})])) };
      for (const p of [...argv.slice(1), ...Object.values(env)].filter(looksLikePath)) {
        if (/^\/(tmp|var\/lib)\//.test(p) && !mountsOf(s).some((m) => p.startsWith(m.target))) continue; // made at run time
        const host = hostPath(p, { service: s, stage, volumes });
        if (host && Object.values(volumes).some((v) => host.startsWith(v))) continue; // a named volume: starts empty
        expect(host && existsSync(host), `${name}: ${p} (→ ${host}); run npm run build first for dist/`).to.equal(true);
      }
    }
  });
});

/** Runs `argv` with container paths mapped; resolves once `ready` matches stdout, with a stop(). */
function start(a: { argv: string[]; env: Record<string, string>; ready: RegExp; timeoutMs: number }) {
  const child = spawn(a.argv[0] as string, a.argv.slice(1), { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...a.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise<{ match: RegExpExecArray; out: () => string; stop: () => Promise<number | null> }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`not ready in ${a.timeoutMs} ms:\n${out}\n${err}`));
    }, a.timeoutMs);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const m = a.ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ match: m, out: () => out, stop: async () => (child.exitCode === null && child.kill('SIGTERM'), exited) });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before it was ready:\n${out}\n${err}`));
    });
  });
}

describe('docker-compose.yml services started as their containers would', function () {
  this.timeout(180_000);
  let influx: TestInfluxd;
  const volumeRoot = mkdtempSync(join(tmpdir(), 'cl-compose-'));
  const volumes = Object.fromEntries(Object.keys(compose.volumes ?? {}).map((v) => [v, join(volumeRoot, v)]));

  before(async () => {
    influx = await startTestInfluxd();
  });
  after(async () => {
    await influx?.cleanup();
    rmSync(volumeRoot, { recursive: true, force: true });
  });

  /** The service's argv and environment with container paths and service names mapped onto this machine. */
  const asContainer = (name: string, overrides: Record<string, string>) => {
    const s = compose.services[name] as Service;
    const stage = stageOf(s);
    const map = (v: string) => {
      const x = interpolate(v, {}).replace('http://influxdb:8086', influx.url);
      if (!x.startsWith('/')) return x;
      return hostPath(x, { service: s, stage, volumes }) ?? (x.startsWith('/tmp/') ? join(volumeRoot, x.slice(5)) : x);
    };
    const argv = [...(s.entrypoint ?? stage.entrypoint), ...(s.command ?? stage.cmd)].map(map);
    if (argv[0] === 'node') argv[0] = process.execPath;
    const env = Object.fromEntries(Object.entries({ ...stage.env, ...s.environment }).map(([k, v]) => [k, map(String(v))]));
    return { argv, env: { ...env, ...overrides }, s };
  };

  it('collector: serve with the mounted config answers its healthcheck and ingest refuses an unknown token', async () => {
    // Only the port differs from the container: 8470 may be taken on a shared machine.
    const { argv, env, s } = asContainer('collector', { CAMPUSLINK_LISTEN: '127.0.0.1:0' });
    expect(argv.slice(1)).to.deep.equal(['--max-semi-space-size=64', 'dist/collector/cli.js', 'serve', '--config', join(ROOT, 'config', 'collector.example.yaml')]);
    const c = await start({ argv, env, ready: /listening on http:\/\/127\.0\.0\.1:(\d+)/, timeoutMs: 60_000 });
    try {
      const port = c.match[1] as string;
      const check = (s.healthcheck?.test ?? []).slice(1).map((a) => a.replace('127.0.0.1:8470', `127.0.0.1:${port}`));
      expect(check[0]).to.equal('node');
      const code = await new Promise<number | null>((r) => spawn(process.execPath, check.slice(1), { stdio: 'ignore' }).on('exit', r));
      expect(code, 'healthcheck').to.equal(0);
      const refused = await fetch(`http://127.0.0.1:${port}/api/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nope' }, body: '{}' });
      expect(refused.status).to.equal(401);
      expect(c.out()).to.include(`writing to InfluxDB ${influx.url} database campuslink`);
      expect(statSync(volumes['collector-state'] as string).isDirectory()).to.equal(true);
    } finally {
      expect(await c.stop()).to.equal(0);
    }
  });

  it('sim: the demo entrypoint finds its registry and binaries from dist/ and gets schools writing', async () => {
    const { argv, env } = asContainer('sim', {});
    expect(argv.slice(1, 2)).to.deep.equal(['dist/scripts/demo.js']);
    const c = await start({ argv, env, ready: /schools writing: [1-9]\d*\/20/, timeoutMs: 150_000 });
    expect(await c.stop()).to.equal(0);
    expect(c.out()).to.include('demo stopped cleanly.');
  });
});
