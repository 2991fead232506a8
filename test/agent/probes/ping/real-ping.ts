/** What the tests that run the real ping need from the machine. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const LO_DISABLE_IPV6 = '/proc/sys/net/ipv6/conf/lo/disable_ipv6';
let ipv6Ready: boolean | undefined;

/**
 * Makes sure ::1 answers: true when IPv6 is enabled on lo, or was disabled and could be enabled
 * (as root; it is switched back off when the process exits). False when the kernel has no IPv6,
 * or IPv6 is off and we may not switch it on: the IPv6 tests then skip.
 */
export function ensureIpv6Loopback(): boolean {
  if (ipv6Ready !== undefined) return ipv6Ready;
  try {
    if (readFileSync(LO_DISABLE_IPV6, 'utf8').trim() === '0') return (ipv6Ready = true);
    writeFileSync(LO_DISABLE_IPV6, '0');
    process.once('exit', () => {
      try {
        writeFileSync(LO_DISABLE_IPV6, '1');
      } catch {
        /* best effort */
      }
    });
    return (ipv6Ready = true);
  } catch {
    return (ipv6Ready = false);
  }
}

/** Whether `busybox ping` can be run (the Debian package `busybox`). */
export function hasBusybox(): boolean {
  const r = spawnSync('busybox', ['--list'], { encoding: 'utf8' });
  return r.status === 0 && /^ping$/m.test(r.stdout);
}
