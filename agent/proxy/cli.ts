/** The `once`, `run` and `enroll` commands of `campuslink-agent` for a `mode: proxy` config. */
import type { Logger } from 'pino';
import { EXIT } from '../../protocol/cli.js';
import { EnrollError } from '../identity/enroll.js';
import { errandSecureContext } from '../transport/once.js';
import type { ProxyConfig } from './config.js';
import { ProxyRuntime } from './runtime.js';

/** One cycle over every school and one upload round; exit 0 only when nothing is left waiting. */
export async function proxyOnce(config: Readonly<ProxyConfig>, log: Logger): Promise<number> {
  const runtime = new ProxyRuntime({ config, log });
  const { cycle, flush } = await runtime.once();
  const waiting = runtime.spool.waitingReports();
  process.stdout.write(`proxy ${runtime.identity.current().agent}: ${cycle.schools} schools in ${cycle.durationMs} ms (${cycle.late} cut off by their deadline, ${cycle.failed} not stored); ${flush.acked} reports delivered to ${config.collector.url}, ${waiting} waiting${flush.stoppedBy ? ` (${flush.stoppedBy})` : ''}\n`);
  await runtime.close();
  return waiting === 0 && cycle.failed === 0 ? EXIT.ok : EXIT.failed;
}

/** Cycles until SIGINT/SIGTERM. */
export function proxyRun(config: Readonly<ProxyConfig>, log: Logger, fail: (e: unknown) => never): void {
  const runtime = new ProxyRuntime({ config, log });
  const handle = runtime.run();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    handle
      .stop()
      .then(() => runtime.close())
      .then(() => process.exit(EXIT.ok), fail);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Exchanges an enrollment code for the proxy's credential. */
export async function proxyEnroll(config: Readonly<ProxyConfig>, log: Logger, code: string): Promise<number> {
  const runtime = new ProxyRuntime({ config, log });
  try {
    const secureContext = errandSecureContext(config.collector);
    const c = await runtime.identity.enroll({ url: config.collector.url, code, timeoutMs: config.collector.timeoutMs, ...(secureContext && { secureContext }) });
    process.stdout.write(`enrolled as proxy ${c.agent}${c.schools ? ` for ${c.schools.length} schools` : ''}; credential stored in ${config.stateDir}/proxy-credential.json\n`);
    return EXIT.ok;
  } catch (e) {
    process.stderr.write(`AGT_ERR_ENROLL_FAILED: ${e instanceof EnrollError ? e.message : String(e)}\n`);
    return EXIT.failed;
  } finally {
    await runtime.close();
  }
}
