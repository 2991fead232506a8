#!/usr/bin/env node
/**
 * `npm run sim -- gateway --port 16100` (also `switch`, `modem`): one simulated SNMP device on
 * loopback, for trying an agent by hand (config/agent.example.yaml points at 127.0.0.1:16100).
 * Prints the address as `… listening on udp://host:port` and serves until SIGINT/SIGTERM.
 */
import { Command, InvalidArgumentError } from 'commander';
import { resolveModemProfile } from '../agent/probes/modem/profile.js';
import { isLoopbackHost } from './snmp-agent.js';
import { startGateway } from './gateway.js';
import { startModem } from './modem.js';
import { startSwitch } from './switch.js';

function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError(`"${v}" is not a UDP port (0-65535; 0 picks a free one)`);
  return n;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${v}" is not a positive integer`);
  return n;
}

function loopback(v: string): string {
  if (!isLoopbackHost(v)) throw new InvalidArgumentError(`"${v}" is not a loopback address (127.0.0.0/8 or ::1); the simulators serve loopback only`);
  return v;
}

/** Field values a modem of each profile plausibly reports on a clear day. */
const MODEM_VALUES: Record<string, number> = { snr_db: 11.5, esno_db: 10.8, tx_power_dbm: -12, rx_power_dbm: -40.5, temperature_c: 38, locked: 1 };

interface Running {
  host: string;
  port: number;
  community: string;
  stop(): Promise<void>;
}

/** Prints where the device listens and stops it on a signal. */
function serve(kind: string, device: Running, extra: string): void {
  process.stdout.write(`sim ${kind} listening on udp://${device.host.includes(':') ? `[${device.host}]` : device.host}:${device.port} community "${device.community}"${extra ? ` (${extra})` : ''}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${signal}: stopping\n`);
    device.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

const common = (c: Command, defaultPort: string) =>
  c
    .option('--host <address>', 'loopback address to bind', loopback, '127.0.0.1')
    .option('--port <n>', 'UDP port (0: a free one)', port, port(defaultPort))
    .option('--community <name>', 'read community', 'public');

const program = new Command('campuslink-sim').description('Simulated school network devices answering SNMP on loopback.');

common(program.command('gateway').description('a school gateway: system group, IF-MIB, a default route via the WAN port'), '16100')
  .option('--interfaces <n>', 'interfaces besides lo0', positive, 4)
  .option('--name <sysName>', 'sysName', 'sim-gw')
  .action(async (o: { host: string; port: number; community: string; interfaces: number; name: string }) => {
    const gw = await startGateway({ host: o.host, port: o.port, community: o.community, interfaces: o.interfaces, name: o.name });
    serve('gateway', gw, `${gw.interfaces.map((i) => i.name).join(', ')}`);
  });

common(program.command('switch').description('a core switch: ARP (ipNetToPhysical/ipNetToMedia), LLDP and bridge tables'), '16101')
  .option('--devices <n>', 'devices on the school LAN', positive, 300)
  .option('--seed <n>', 'seed of the generated devices', positive, 1)
  .action(async (o: { host: string; port: number; community: string; devices: number; seed: number }) => {
    const sw = await startSwitch({ host: o.host, port: o.port, community: o.community, devices: o.devices, seed: o.seed });
    serve('switch', sw, `${o.devices} devices`);
  });

common(program.command('modem').description('a satellite modem answering one modem profile (config/snmp/modems)'), '16102')
  .option('--profile <name>', 'modem profile name or .yaml path', 'generic')
  .option('--index <n>', 'the {index} of the profile OIDs (e.g. the satellite ifIndex)', '1')
  .action(async (o: { host: string; port: number; community: string; profile: string; index: string }) => {
    const profile = resolveModemProfile({ profile: o.profile });
    const values = Object.fromEntries(profile.fields.filter((f) => MODEM_VALUES[f.field] !== undefined).map((f) => [f.field, MODEM_VALUES[f.field] as number]));
    const modem = await startModem({ profile, index: o.index, values, host: o.host, port: o.port, community: o.community });
    serve('modem', { ...modem, stop: () => modem.stop() }, `profile ${profile.name}, modemIndex ${o.index}`);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
