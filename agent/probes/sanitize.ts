/**
 * Makes strings that come from devices (ifName, LLDP sysName, sysDescr, OUI vendor names…) fit what
 * `protocol/report.ts` allows, before a measurement or a device list is built: one odd value must never
 * make the agent's own schema refuse the whole report. Pure.
 *
 * What is changed: lone UTF-16 surrogates become U+FFFD (they cannot be encoded as UTF-8); control
 * characters (C0, DEL, C1), tabs and line breaks become one space per run; the text is trimmed and cut to the limit without splitting a surrogate pair. Tag values also lose
 * trailing backslashes (line protocol reads `\` before the separator as an escape, InfluxDB refuses
 * the line; Telegraf's serializer trims them too).
 */

/** Longest tag value the protocol allows (UTF-16 code units, as zod counts). */
export const MAX_TAG_CHARS = 256;

function wellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Cuts `s` to at most `max` code units, never leaving half a surrogate pair at the end. */
export function truncateText(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** A device string as a field value: well-formed, no control characters, trimmed, at most `maxChars`. */
export function cleanText(s: string, maxChars: number): string {
  // Runs of control characters (line and paragraph separators too) become one space; other spaces, the
  // ideographic space of Chinese names among them, stay as they are.
  // eslint-disable-next-line no-control-regex
  const flat = wellFormed(s).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return truncateText(flat, maxChars).trim();
}

/**
 * A device string as a tag value (or a name the collector stores as one): `cleanText` plus no trailing
 * backslash. Undefined when nothing is left, so the caller falls back to its own name.
 */
export function tagText(s: string | undefined, maxChars = MAX_TAG_CHARS): string | undefined {
  if (s === undefined) return undefined;
  const t = cleanText(s, maxChars).replace(/[\\\s]+$/, '');
  return t === '' ? undefined : t;
}
