/**
 * `npm run build:agent`: bundles the agent into one ES module, `dist/agent-bundle/campuslink-agent.mjs`,
 * that runs with Node 20 and no node_modules. The OUI registry (5.6 MB of JSON from `oui-data`) ships as
 * a separate data file beside it, `oui-index.bin`: the compact sorted index the inventory probe
 * binary-searches on disk (agent/probes/inventory/oui-index.ts), built here so the agent never reads the
 * JSON; the bundle is rewritten to look for it there.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { buildOuiIndex } from '../agent/probes/inventory/oui-index.js';
import { OUI_INDEX_FILE } from '../agent/probes/inventory/oui.js';

const ROOT = resolve(import.meta.dirname, '..');

export interface BuildAgentBundleOptions {
  /** Output directory. Default `dist/agent-bundle` under the repository root. */
  outDir?: string;
  /** Minify (default true: smaller for routers; names are kept for stack traces). */
  minify?: boolean;
}

export interface AgentBundle {
  /** Path of the bundled agent. */
  file: string;
  bytes: number;
  /** Path of the OUI index beside it. */
  ouiFile: string;
  ouiBytes: number;
}

/** The declaration in agent/probes/inventory/oui.ts of the index shipped beside the bundle. */
const OUI_SHIPPED = 'const SHIPPED_INDEX: string | undefined = undefined;';
const OUI_BESIDE_BUNDLE = `const SHIPPED_INDEX: string | undefined = fileURLToPath(new URL('./${OUI_INDEX_FILE}', import.meta.url));`;

/** The local `require` CommonJS dependencies are loaded with; esbuild only bundles calls of the global one. */
const LOCAL_REQUIRE = 'const require = createRequire(import.meta.url);';

/**
 * Makes `require('net-snmp')` in agent/probes/snmp/net-snmp.ts bundleable (it loads the CommonJS module
 * through a local createRequire, which esbuild leaves alone), and points the OUI lookup at the index
 * beside the bundle. Fails the build if either piece of code moved.
 */
const agentForBundle: Plugin = {
  name: 'campuslink-agent-bundle',
  setup(b) {
    b.onLoad({ filter: /[\\/]agent[\\/]probes[\\/]snmp[\\/]net-snmp\.ts$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      if (!src.includes(LOCAL_REQUIRE)) {
        return { errors: [{ text: `${args.path} no longer contains ${LOCAL_REQUIRE}; update scripts/build-agent.ts so net-snmp is bundled` }] };
      }
      return { contents: src.replace(LOCAL_REQUIRE, ''), loader: 'ts' };
    });
    b.onLoad({ filter: /[\\/]agent[\\/]probes[\\/]inventory[\\/]oui\.ts$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      if (!src.includes(OUI_SHIPPED)) {
        return { errors: [{ text: `${args.path} no longer contains ${OUI_SHIPPED}; update scripts/build-agent.ts so the bundle finds ${OUI_INDEX_FILE}` }] };
      }
      const patched = `import { fileURLToPath } from 'node:url';\n${src.replace(OUI_SHIPPED, OUI_BESIDE_BUNDLE)}`;
      return { contents: patched, loader: 'ts' };
    });
  },
};

/** Builds the bundle and the OUI index beside it. */
export async function buildAgentBundle(options: BuildAgentBundleOptions = {}): Promise<AgentBundle> {
  const outDir = resolve(options.outDir ?? join(ROOT, 'dist', 'agent-bundle'));
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'campuslink-agent.mjs');
  await build({
    entryPoints: [join(ROOT, 'agent', 'cli.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: options.minify ?? true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [agentForBundle],
    // CommonJS dependencies (net-snmp, pino's helpers) call require(); give the ES module one.
    banner: { js: "import { createRequire as __campuslinkCreateRequire } from 'node:module';\nconst require = __campuslinkCreateRequire(import.meta.url);" },
  });
  const ouiFile = join(outDir, OUI_INDEX_FILE);
  const registry = createRequire(join(ROOT, 'package.json')).resolve('oui-data');
  const st = statSync(registry);
  writeFileSync(ouiFile, buildOuiIndex(registry, { size: st.size, mtimeMs: st.mtimeMs }));
  return { file, bytes: statSync(file).size, ouiFile, ouiBytes: statSync(ouiFile).size };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const outDir = process.argv[2];
  buildAgentBundle({ outDir }).then(
    (b) => process.stdout.write(`${b.file} ${(b.bytes / 1024).toFixed(0)} KiB\n${b.ouiFile} ${(b.ouiBytes / 1024).toFixed(0)} KiB (OUI index, searched on disk by vendor lookups)\n`),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
