/**
 * Modem profiles: YAML files that map a satellite modem's OIDs to `modem` fields, with scale, unit and
 * type. The bundled ones live in `config/snmp/modems/<name>.yaml`; an operator can point at their own file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

/** Fields the probe itself writes; a profile may not define them. */
export const MODEM_OWN_FIELDS = ['result_code', 'errors', 'missing_fields'] as const;

const oid = z.string().regex(/^\.?\d+(\.(\d+|\{index\}))+$/, 'must be a numeric OID, optionally with {index}, e.g. 1.3.6.1.4.1.5835.5.2.3300.1.5.1.4.{index}');
const fieldName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be snake_case, at most 64 characters')
  .refine((f) => !(MODEM_OWN_FIELDS as readonly string[]).includes(f), `must not be one of the probe's own fields (${MODEM_OWN_FIELDS.join(', ')})`);

const common = {
  field: fieldName,
  oid,
  /** Unit of the emitted value (after scaling), for the README and dashboards. */
  unit: z.string().min(1),
  /** A firmware may lack it: logged at info, not warn, when missing. */
  optional: z.boolean().default(false),
  /** Where the OID comes from (MIB object, document); required so every OID can be checked. */
  source: z.string().min(1),
  /** false when the OID could not be checked against a public MIB or document. */
  verified: z.boolean(),
  /** The object's SYNTAX on the wire: integer (default), gauge, or string (a DisplayString holding a number). */
  syntax: z.enum(['integer', 'gauge', 'string']).default('integer'),
};

/** A numeric object: value × scale + offset. OctetStrings holding a decimal number are accepted (iDirect). */
const numberField = z.strictObject({ ...common, type: z.literal('number'), scale: z.number().finite().default(1), offset: z.number().finite().default(0) });
/** An enumerated object mapped to numbers (e.g. lock state → 0/1); unmapped values are skipped. */
const enumField = z.strictObject({ ...common, type: z.literal('enum'), map: z.record(z.string().regex(/^-?\d+$/), z.number().finite()) });

/** The profile file's schema. */
export const modemProfileSchema = z
  .strictObject({
    /** The `profile` tag; must equal the file name without `.yaml` for bundled profiles. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 of a-z 0-9 _ - starting with a letter or digit'),
    vendor: z.string().min(1),
    description: z.string().min(1),
    /** Where the profile's OIDs come from, overall. */
    source: z.string().min(1),
    fields: z.array(z.discriminatedUnion('type', [numberField, enumField])).min(1).max(64),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.fields.forEach((f, i) => {
      if (seen.has(f.field)) ctx.addIssue({ code: 'custom', path: ['fields', i, 'field'], message: `"${f.field}" is defined twice` });
      seen.add(f.field);
    });
  });

export type ModemProfileFile = z.output<typeof modemProfileSchema>;
export type ModemFieldSpec = ModemProfileFile['fields'][number];

/** A loaded profile. */
export interface ModemProfile extends ModemProfileFile {
  /** The file it came from. */
  file: string;
  /** True when some OID contains `{index}` (the device config must give `modemIndex`). */
  needsIndex: boolean;
}

function bundledDir(): string {
  const candidates = ['../../../config/snmp/modems', '../../../../config/snmp/modems'].map((rel) => fileURLToPath(new URL(`${rel}/`, import.meta.url)));
  return candidates.find((d) => existsSync(d)) ?? (candidates[0] as string);
}

/** The directory of the bundled profiles (`config/snmp/modems`). */
export const BUNDLED_PROFILES_DIR = bundledDir();

/** Parses and validates a profile's YAML text; throws listing every problem. */
export function parseModemProfile(text: string, file: string): ModemProfile {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new Error(`modem profile ${file}: invalid YAML: ${(e as Error).message}`);
  }
  const r = modemProfileSchema.safeParse(raw);
  if (!r.success) throw new Error(`modem profile ${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return { ...r.data, fields: r.data.fields.map((f) => ({ ...f, oid: f.oid.replace(/^\./, '') })), file, needsIndex: r.data.fields.some((f) => f.oid.includes('{index}')) };
}

const cache = new Map<string, ModemProfile>();

/** Options of `resolveModemProfile`. */
export interface ResolveModemProfileOptions {
  /** A bundled profile's name (`generic`, `idirect`…) or a path to a YAML file (contains `/` or ends in .yaml/.yml). */
  profile: string;
  /** Directory of named profiles (default the bundled `config/snmp/modems`). */
  dir?: string;
}

/** Loads (once per file) and validates a profile; throws naming the file and every problem. */
export function resolveModemProfile({ profile, dir = BUNDLED_PROFILES_DIR }: ResolveModemProfileOptions): ModemProfile {
  const isPath = profile.includes('/') || /\.ya?ml$/i.test(profile);
  if (!isPath && !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(profile)) throw new Error(`unknown modem profile "${profile}": give a bundled profile name or a path to a .yaml file`);
  const file = isPath ? (isAbsolute(profile) ? profile : resolve(profile)) : resolve(dir, `${profile}.yaml`);
  const hit = cache.get(file);
  if (hit) return hit;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(isPath ? `modem profile ${file} cannot be read: ${(e as Error).message}` : `unknown modem profile "${profile}" (no ${file})`);
  }
  const p = parseModemProfile(text, file);
  if (!isPath && p.name !== profile) throw new Error(`modem profile ${file}: name is "${p.name}", expected "${profile}"`);
  cache.set(file, p);
  return p;
}

/** The OID of a field for one device: `{index}` replaced by `index`. */
export function fieldOid(spec: ModemFieldSpec, index: string | undefined): string {
  if (!spec.oid.includes('{index}')) return spec.oid;
  if (index === undefined) throw new Error(`OID ${spec.oid} of field ${spec.field} needs an index (modemIndex)`);
  return spec.oid.replaceAll('{index}', index);
}
