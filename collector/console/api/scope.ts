/** Which schools a console request covers: a region of the hierarchy, walked without touching the rest. */
import type { Registry } from '../../registry/index.js';
import type { School } from '../../registry/schema.js';

/** The code the national level is known by in the API (as in the views API). */
export const NATIONAL = '000000';

/** The level of a region code, or undefined when no school is under it. */
export function levelOf(reg: Registry, code: string): 'national' | 'province' | 'city' | 'county' | undefined {
  if (code === NATIONAL) return 'national';
  return reg.region(code)?.level;
}

/**
 * The schools under `code` (every school for the national code), in registry order per county.
 * A generator, so a caller that stops early (a page) does not walk the rest.
 */
export function* schoolsUnder(reg: Registry, code: string): Generator<School> {
  if (code === NATIONAL) {
    yield* reg.schools.values();
    return;
  }
  const counties: string[] = [];
  const r = reg.region(code);
  if (!r) return;
  if (r.level === 'county') counties.push(r.code);
  else if (r.level === 'city') counties.push(...r.children);
  // A province's children are cities and folded counties (municipal districts, 仙桃, 东莞).
  else for (const child of r.children) counties.push(...(reg.cities.get(child)?.children ?? (reg.counties.has(child) ? [child] : [])));
  for (const c of counties) {
    for (const id of reg.counties.get(c)?.children ?? []) {
      const s = reg.get(id);
      if (s) yield s;
    }
  }
}

/** Names of a school's county, city and province, for list rows. */
export function placeOf(reg: Registry, s: School): { county: string; city: string; province: string } {
  return {
    county: reg.counties.get(s.countyCode)?.name ?? s.countyCode,
    // A folded county is its own city level (cityCode = countyCode).
    city: reg.region(s.cityCode)?.name ?? s.cityCode,
    province: reg.provinces.get(s.provinceCode)?.name ?? s.provinceCode,
  };
}

/** The breadcrumb of a region or school: national first, then each level down to `code`'s parent chain. */
export function trail(reg: Registry, code: string): { level: string; code: string; name: string }[] {
  const out = [{ level: 'national', code: NATIONAL, name: reg.national.name as string }];
  const r = reg.region(code);
  if (!r) return out;
  const chain: { level: string; code: string; name: string }[] = [];
  let cur: { level: string; code: string; name: string; parent: string | null } | undefined = r;
  while (cur) {
    chain.unshift({ level: cur.level, code: cur.code, name: cur.name });
    cur = cur.parent ? reg.region(cur.parent) : undefined;
  }
  return [...out, ...chain];
}
