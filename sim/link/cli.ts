#!/usr/bin/env node
/**
 * `tsx sim/link/cli.ts --target 127.0.0.1:8470 --profile geo --outage 10s+60s`: a link emulator in
 * front of a collector; prints its address, then the bytes that crossed it every few seconds.
 */
import { Command, InvalidArgumentError } from 'commander';
import { LINK_PROFILES, LinkEmulator, type Outage } from './emulator.js';

function duration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}" is not a duration like 500ms, 10s or 2m`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 } as const)[(m[2] ?? 'ms') as 'ms' | 's' | 'm'];
}

function hostPort(v: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  const port = Number(v.slice(i + 1));
  if (i < 1 || !Number.isInteger(port)) throw new InvalidArgumentError(`"${v}" is not host:port`);
  return { host: v.slice(0, i), port };
}

const program = new Command('campuslink-link')
  .description('TCP proxy emulating a school uplink: latency, bandwidth cap, resets, outages.')
  .requiredOption('--target <host:port>', 'where to forward (the collector)', hostPort)
  .option('--listen <host:port>', 'loopback address to listen on', hostPort, { host: '127.0.0.1', port: 0 })
  .option('--profile <name>', `preset: ${Object.keys(LINK_PROFILES).join(', ')}`, 'clean')
  .option('--latency <duration>', 'one-way latency (RTT is twice this)', duration)
  .option('--bandwidth-mbps <n>', 'bandwidth cap per direction, Mbit/s', Number)
  .option('--reset-prob <p>', 'probability a chunk resets its connection', Number)
  .option('--outage <at+for>', 'outage at a time for a duration, e.g. 10s+60s (repeatable)', (v: string, acc: Outage[]) => {
    const [at, dur] = v.split('+');
    if (!at || !dur) throw new InvalidArgumentError(`"${v}" is not like 10s+60s`);
    return [...acc, { atMs: duration(at), durationMs: duration(dur) }];
  }, [] as Outage[])
  .option('--report-every <duration>', 'print counters this often', duration, 5000)
  .action(async (o: { target: { host: string; port: number }; listen: { host: string; port: number }; profile: string; latency?: number; bandwidthMbps?: number; resetProb?: number; outage: Outage[]; reportEvery: number }) => {
    const preset = LINK_PROFILES[o.profile as keyof typeof LINK_PROFILES];
    if (!preset) throw new InvalidArgumentError(`unknown profile ${o.profile}`);
    const link = new LinkEmulator({
      ...preset,
      ...(o.latency !== undefined ? { latencyMs: o.latency } : {}),
      ...(o.bandwidthMbps !== undefined ? { bandwidthBitsPerSec: o.bandwidthMbps * 1e6 } : {}),
      ...(o.resetProb !== undefined ? { resetProbability: o.resetProb } : {}),
      target: o.target,
      host: o.listen.host,
      port: o.listen.port,
      outages: o.outage,
    });
    const addr = await link.start();
    process.stdout.write(`campuslink-link listening on ${addr.url} → ${o.target.host}:${o.target.port}\n`);
    const timer = setInterval(() => process.stdout.write(`${JSON.stringify({ down: link.isDown, ...link.counters })}\n`), o.reportEvery);
    const stop = () => {
      clearInterval(timer);
      void link.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

program.parseAsync(process.argv).catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(2);
});
