/** A fault-test agent as its own process (so it can be SIGKILLed): config from FAULT_AGENT (JSON), fast cycles. */
import { pino } from 'pino';
import { AgentRuntime } from '../../agent/runtime.js';
import { TypicalProbe, agentConfig, type AgentSetup } from './harness.js';

const setup = JSON.parse(process.env.FAULT_AGENT ?? '{}') as AgentSetup & { cycleEveryMs: number };
const runtime = new AgentRuntime({ config: agentConfig(setup), log: pino({ level: 'silent' }), probes: [new TypicalProbe()], cycleEveryMs: setup.cycleEveryMs });
runtime.run();
process.stdout.write(`ready ${runtime.spool.lastSeq()}\n`);
