#!/usr/bin/env node
/**
 * `campuslink-agent`: one cycle (`once`), cycles on a schedule (`run`), or a check of the setup
 * (`doctor`). Exit codes: 0 ok, 1 not delivered or a failed check or start-up, 2 invalid config.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { EXIT, errorText, isConfigProblem } from '../protocol/cli.js';
import { createLogger } from '../protocol/log.js';
import { configMode, loadAgentConfig, loadProxyConfig, type AgentConfig } from './config.js';
import { proxyEnroll, proxyOnce, proxyRun } from './proxy/cli.js';
import { formatChecks, runDoctor } from './doctor.js';
import { enrollAgent } from './identity/enroll.js';
import { AgentIdentity } from './identity/identity.js';
import { previewReport } from './preview.js';
import { AgentRuntime } from './runtime.js';
import { AGENT_VERSION } from './version.js';
import { errandSecureContext } from './transport/once.js';

function fail(e: unknown): never {
  process.stderr.write(`${errorText(e, { stack: !isConfigProblem(e) })}\n`);
  process.exit(isConfigProblem(e) ? EXIT.invalidConfig : EXIT.failed);
}

/** For a `mode: proxy` config (agent/proxy/), starts `command` in proxy mode and returns true; else false. */
function proxyMode(file: string | undefined, command: (config: ReturnType<typeof loadProxyConfig>, log: ReturnType<typeof createLogger>) => Promise<number> | void): boolean {
  if (configMode(file) !== 'proxy') return false;
  let config: ReturnType<typeof loadProxyConfig>;
  try {
    config = loadProxyConfig(file);
  } catch (e) {
    fail(e);
  }
  const log = createLogger({ name: 'proxy', level: config.logLevel });
  const done = command(config, log);
  if (done) done.then((code) => process.exit(code), fail);
  return true;
}

function load(file: string | undefined): { config: Readonly<AgentConfig>; log: ReturnType<typeof createLogger> } {
  try {
    const config = loadAgentConfig(file);
    return { config, log: createLogger({ name: 'agent', level: config.logLevel }) };
  } catch (e) {
    fail(e);
  }
}

const CONFIG_OPTION = ['-c, --config <file>', 'YAML config file; every key can also come from CAMPUSLINK_* variables'] as const;

const program = new Command('campuslink-agent')
  .description('Measures a school link and sends reports to the collector.')
  .version(AGENT_VERSION, '-V, --version', 'print the version and exit');

program
  .command('once')
  .description('Run one collection cycle; exit 0 only when its report was acknowledged (or printed with --print).')
  .option(...CONFIG_OPTION)
  .option('--print', 'write the report JSON to stdout; send and store nothing')
  .action(async (opts: { config?: string; print?: boolean }) => {
    if (opts.print && configMode(opts.config) === 'proxy') {
      // Refused rather than ignored: the proxy's cycle always spools, and --print promises to store nothing.
      process.stderr.write('--print is not available in proxy mode (mode: proxy): run `once` without it; its reports wait in the spool\n');
      process.exit(EXIT.invalidConfig);
    }
    if (proxyMode(opts.config, proxyOnce)) return;
    const { config, log } = load(opts.config);
    if (opts.print) {
      process.stdout.write(JSON.stringify(await previewReport({ config, log }), null, 2) + '\n');
      process.exit(EXIT.ok);
    }
    const runtime = new AgentRuntime({ config, log });
    const result = await runtime.once();
    const { report } = result;
    if (result.delivered) {
      process.stdout.write(`report ${report.seq} (${report.measurements.length} measurements) delivered to ${config.collector.url}\n`);
    } else {
      const why = result.flush?.stoppedBy?.message ?? (runtime.identity.current().token ? 'not acknowledged' : 'collector.token (CAMPUSLINK_TOKEN) is not set and the agent is not enrolled');
      process.stderr.write(`report ${report.seq} not delivered (${why}); it stays in the spool (${runtime.spool.waiting().length} waiting) and goes with the next delivery\n`);
    }
    runtime.close();
    process.exit(result.delivered ? EXIT.ok : EXIT.failed);
  });

program
  .command('run')
  .description('Run collection cycles on the configured schedule until SIGINT/SIGTERM.')
  .option(...CONFIG_OPTION)
  .action((opts: { config?: string }) => {
    if (proxyMode(opts.config, (config, log) => proxyRun(config, log, fail))) return;
    const { config, log } = load(opts.config);
    const handle = new AgentRuntime({ config, log }).run();
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      handle.stop().then(() => process.exit(EXIT.ok), fail);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

program
  .command('enroll')
  .description('Exchange an enrollment code (from campuslink-collector enroll issue) for this agent\'s own agent id and token, stored in stateDir/credential.json (0600). Run once per gateway; run/once use the credential from then on.')
  .requiredOption('--code <code>', 'the enrollment code (clke_…)')
  .option(...CONFIG_OPTION)
  .action(async (opts: { code: string; config?: string }) => {
    if (proxyMode(opts.config, (config, log) => proxyEnroll(config, log, opts.code))) return;
    const { config, log } = load(opts.config);
    try {
      const before = new AgentIdentity(config, resolve(config.stateDir), log).current();
      const secureContext = errandSecureContext(config.collector);
      const file = await enrollAgent({ url: config.collector.url, code: opts.code, stateDir: resolve(config.stateDir), timeoutMs: config.collector.timeoutMs, ...(secureContext && { secureContext }), before, log });
      process.stdout.write(`enrolled as agent ${file.current.agent} of school ${file.current.school}; credential stored in ${resolve(config.stateDir, 'credential.json')}\n`);
      process.exit(EXIT.ok);
    } catch (e) {
      process.stderr.write(`AGT_ERR_ENROLL_FAILED: ${(e as Error).message}\n`);
      process.exit(EXIT.failed);
    }
  });

program
  .command('doctor')
  .description('Check the setup against what the console needs: an internet target, the collector, the token, SNMP. Sends no data.')
  .option(...CONFIG_OPTION)
  .action(async (opts: { config?: string }) => {
    const { config } = load(opts.config);
    const { text, ok } = formatChecks(await runDoctor(config));
    process.stdout.write(text);
    process.exit(ok ? EXIT.ok : EXIT.failed);
  });

program.parseAsync(process.argv).catch(fail);
