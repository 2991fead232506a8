/**
 * Sorts a device into a class (ap, display, pc, …) by ordered rules: the first rule whose every
 * condition matches wins; no match is `unknown`. Rules come from the config, followed by
 * `DEFAULT_RULES` unless the config turns them off.
 */
import type { DeviceClass } from '../../../protocol/index.js';
import type { LldpCapability } from './tables.js';

/** What is known about a device when it is classified. */
export interface DeviceFacts {
  mac: string;
  /** IEEE OUI organisation name. */
  vendor?: string;
  /** LLDP or SNMP sysName. */
  name?: string;
  /** LLDP or SNMP sysDescr. */
  sysDescr?: string;
  /** LLDP enabled capabilities. */
  capabilities: readonly LldpCapability[];
}

/**
 * One rule as configured. Regexes are case-insensitive; every condition given must match,
 * and `capabilities` matches when the device has any of them.
 */
export interface ClassRule {
  class: DeviceClass;
  vendor?: string;
  name?: string;
  sysDescr?: string;
  capabilities?: LldpCapability[];
}

/** A rule ready to run. */
export interface CompiledRule {
  class: DeviceClass;
  vendor?: RegExp;
  name?: RegExp;
  sysDescr?: RegExp;
  capabilities?: readonly LldpCapability[];
}

/**
 * The default rule set, for school networks in China. Order matters: what a device says about itself
 * (LLDP capabilities, sysDescr) comes before what its MAC's vendor suggests.
 */
export const DEFAULT_RULES: readonly ClassRule[] = [
  { class: 'phone', capabilities: ['telephone'] },
  { class: 'ap', capabilities: ['wlanAccessPoint'] },
  { class: 'ap', sysDescr: String.raw`access point|\bAP\d|\bWA\d{4}|AirEngine|RG-AP|RG-RAP|\bUAP\b|wireless AP` },
  { class: 'printer', sysDescr: String.raw`printer|laserjet|officejet|deskjet|imageRUNNER|imageCLASS|\bMFP\b|ECOSYS|bizhub|WorkCentre|Epson .*Series` },
  { class: 'display', sysDescr: String.raw`projector|interactive (flat )?panel|smart board|whiteboard|digital signage` },
  { class: 'camera', sysDescr: String.raw`\bIPC\b|network camera|\bNVR\b|\bDVR\b|IP camera` },
  { class: 'router', capabilities: ['router'] },
  { class: 'switch', capabilities: ['bridge', 'repeater'] },
  { class: 'switch', sysDescr: String.raw`switch|\bS\d{4}|Ruijie.*RG-S|Comware` },
  // Surveillance vendors.
  { class: 'camera', vendor: String.raw`Hikvision|Dahua|Uniview|Axis Communications|Hanwha|Tiandy|Ezviz` },
  // Interactive panels and projectors of multimedia classrooms: Seewo (Guangzhou Shiyuan), HiteVision,
  // Honghe, Epson (schools' Epson devices are projectors far more often than printers), BenQ, Optoma,
  // ViewSonic, NEC Display, Sharp NEC, Hisense Visual.
  { class: 'display', vendor: String.raw`Shiyuan|Seewo|HiteVision|Honghe|Seiko Epson|BenQ|Optoma|Coretronic|ViewSonic|NEC Display|Sharp NEC|Hisense Visual` },
  { class: 'phone', vendor: String.raw`Yealink|Polycom|Grandstream|Avaya|Snom|Fanvil|Mitel` },
  { class: 'printer', vendor: String.raw`Brother Industries|Canon|Ricoh|Kyocera Document|Xerox|Lexmark|Konica Minolta|Pantum|Fuji Xerox|FUJIFILM Business` },
  { class: 'ap', vendor: String.raw`Ubiquiti|Aruba|Ruckus|Aerohive|Meraki` },
  { class: 'switch', vendor: String.raw`Ruijie|New H3C|Hangzhou H3C|Cisco|Juniper|Maipu|Routerboard|MikroTik|Netgear|D-Link|TP-LINK` },
  { class: 'iot', vendor: String.raw`Espressif|Tuya|Shelly|ITEAD|Silicon Labs|Texas Instruments|Raspberry Pi|Nordic Semiconductor|Telink` },
  { class: 'phone', vendor: String.raw`Xiaomi Communications|OPPO|vivo Mobile|Honor Device|OnePlus|Samsung Electronics` },
  { class: 'pc', vendor: String.raw`Intel Corporate|Dell|Lenovo|LCFC|Hewlett Packard|HP Inc|ASUSTek|Micro-Star|GIGA-BYTE|Tongfang|Great Wall|Apple|Realtek|Liteon|AzureWave|Hon Hai` },
  { class: 'pc', sysDescr: String.raw`Windows|Linux|Darwin|Kylin|UOS|Deepin` },
];

/** Compiles rules; throws on an invalid regex (the config schema checks them first). */
export function compileRules(rules: readonly ClassRule[]): CompiledRule[] {
  return rules.map((r) => ({
    class: r.class,
    ...(r.vendor !== undefined && { vendor: new RegExp(r.vendor, 'i') }),
    ...(r.name !== undefined && { name: new RegExp(r.name, 'i') }),
    ...(r.sysDescr !== undefined && { sysDescr: new RegExp(r.sysDescr, 'i') }),
    ...(r.capabilities !== undefined && { capabilities: r.capabilities }),
  }));
}

function matches(re: RegExp | undefined, value: string | undefined): boolean {
  return re === undefined || (value !== undefined && re.test(value));
}

/** The class of the first matching rule, else `unknown`. */
export function classify(facts: DeviceFacts, rules: readonly CompiledRule[]): DeviceClass {
  for (const r of rules) {
    if (!matches(r.vendor, facts.vendor) || !matches(r.name, facts.name) || !matches(r.sysDescr, facts.sysDescr)) continue;
    if (r.capabilities && !r.capabilities.some((c) => facts.capabilities.includes(c))) continue;
    return r.class;
  }
  return 'unknown';
}
