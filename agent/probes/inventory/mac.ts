/** MAC address helpers: formatting and the IEEE bits that say what kind of address it is. */

/** `aa:bb:cc:dd:ee:ff` from six bytes; undefined for any other length. */
export function macFromBytes(bytes: ArrayLike<number>): string | undefined {
  if (bytes.length !== 6) return undefined;
  let s = '';
  for (let i = 0; i < 6; i++) {
    const b = bytes[i] as number;
    if (!Number.isInteger(b) || b < 0 || b > 255) return undefined;
    s += (i ? ':' : '') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s;
}

/**
 * Normalises `00-1A-2B-3C-4D-5E`, `001a.2b3c.4d5e`, `001A2B3C4D5E` or `0:1a:2b:3c:4d:5e` to
 * `00:1a:2b:3c:4d:5e`; undefined when it is not a MAC.
 */
export function normalizeMac(text: string): string | undefined {
  const t = text.trim().toLowerCase();
  const parts = t.split(/[:-]/);
  if (parts.length === 6 && parts.every((p) => /^[0-9a-f]{1,2}$/.test(p))) return parts.map((p) => p.padStart(2, '0')).join(':');
  const hex = t.replace(/[.:-]/g, '');
  if (/^[0-9a-f]{12}$/.test(hex) && /^[0-9a-f.:-]+$/.test(t)) return hex.replace(/(..)(?!$)/g, '$1:');
  return undefined;
}

function firstOctet(mac: string): number {
  return parseInt(mac.slice(0, 2), 16);
}

/**
 * True when the U/L bit (0x02 of the first octet) is set: the address was not assigned by a vendor
 * from its OUI. Phones and laptops use such addresses as randomised privacy MACs; VMs and containers too.
 */
export function isLocallyAdministered(mac: string): boolean {
  return (firstOctet(mac) & 0x02) !== 0;
}

/** True for group addresses (I/G bit, 0x01 of the first octet), including broadcast: never a device. */
export function isMulticast(mac: string): boolean {
  return (firstOctet(mac) & 0x01) !== 0;
}

/** True for a MAC that can name one device: unicast and not all zeros. */
export function isDeviceMac(mac: string): boolean {
  return !isMulticast(mac) && mac !== '00:00:00:00:00:00';
}
