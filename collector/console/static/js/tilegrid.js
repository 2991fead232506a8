// The map's tile-grid cartogram: one equal tile per region instead of borders. No boundary data set
// with a stated licence ships in a maintained npm package, and a map of China published without a
// 审图号 (map review number) is not allowed, so the console draws no borders at all: at national level
// each of the 34 provincial units has a fixed tile whose place approximates its geography (like the
// well-known China tile-grid maps); inside a province or city the tiles are ordered by division code.

/** Provincial units: code → [column, row, short zh name, short en name] on an 8 × 8 grid. */
export const PROVINCE_TILES = {
  230000: [7, 0, '黑龙江', 'Heilongjiang'],
  150000: [3, 1, '内蒙古', 'Inner Mongolia'], 110000: [4, 1, '北京', 'Beijing'], 210000: [6, 1, '辽宁', 'Liaoning'], 220000: [7, 1, '吉林', 'Jilin'],
  650000: [0, 2, '新疆', 'Xinjiang'], 620000: [1, 2, '甘肃', 'Gansu'], 640000: [2, 2, '宁夏', 'Ningxia'], 140000: [3, 2, '山西', 'Shanxi'], 130000: [4, 2, '河北', 'Hebei'], 120000: [5, 2, '天津', 'Tianjin'],
  540000: [0, 3, '西藏', 'Tibet'], 630000: [1, 3, '青海', 'Qinghai'], 610000: [2, 3, '陕西', 'Shaanxi'], 410000: [3, 3, '河南', 'Henan'], 370000: [4, 3, '山东', 'Shandong'],
  510000: [1, 4, '四川', 'Sichuan'], 500000: [2, 4, '重庆', 'Chongqing'], 420000: [3, 4, '湖北', 'Hubei'], 340000: [4, 4, '安徽', 'Anhui'], 320000: [5, 4, '江苏', 'Jiangsu'], 310000: [6, 4, '上海', 'Shanghai'],
  530000: [1, 5, '云南', 'Yunnan'], 520000: [2, 5, '贵州', 'Guizhou'], 430000: [3, 5, '湖南', 'Hunan'], 360000: [4, 5, '江西', 'Jiangxi'], 330000: [5, 5, '浙江', 'Zhejiang'],
  450000: [2, 6, '广西', 'Guangxi'], 440000: [3, 6, '广东', 'Guangdong'], 350000: [4, 6, '福建', 'Fujian'], 710000: [5, 6, '台湾', 'Taiwan'],
  460000: [2, 7, '海南', 'Hainan'], 820000: [3, 7, '澳门', 'Macao'], 810000: [4, 7, '香港', 'Hong Kong'],
};
export const NATIONAL_COLUMNS = 8;

/**
 * Where each region's tile goes: `[{ code, col, row }]` (0-based). National: the fixed layout, with any
 * code it does not know appended on a row below; otherwise row by row in code order, `columns` wide.
 */
export function layout(codes, level, columns) {
  if (level === 'national') {
    const extra = codes.filter((c) => !PROVINCE_TILES[c]);
    const placed = codes.filter((c) => PROVINCE_TILES[c]).map((code) => ({ code, col: PROVINCE_TILES[code][0], row: PROVINCE_TILES[code][1] }));
    return [...placed, ...extra.sort().map((code, i) => ({ code, col: i % NATIONAL_COLUMNS, row: 8 + Math.floor(i / NATIONAL_COLUMNS) }))];
  }
  return [...codes].sort().map((code, i) => ({ code, col: i % columns, row: Math.floor(i / columns) }));
}

/** Columns for a code-ordered grid of `n` tiles: near square, a little wider than tall, 2 to 8. */
export function columnsFor(n) {
  return Math.max(2, Math.min(8, Math.ceil(Math.sqrt(n * 1.5))));
}

/** The short name of a provincial unit in `lang` (the registry's full name for anything else). */
export function shortName(code, fullName, lang) {
  const p = PROVINCE_TILES[code];
  if (!p) return fullName;
  return lang === 'en' ? p[3] : p[2];
}

/**
 * Shading classes of a share (0..1): the same bins for online share, the school-hours rate and a
 * rule's pass share. The lowest bin is red; one offline school never makes a region red.
 */
export const BINS = [
  { min: 0.95, cls: 'b4' },
  { min: 0.9, cls: 'b3' },
  { min: 0.8, cls: 'b2' },
  { min: 0.6, cls: 'b1' },
  { min: 0, cls: 'b0' },
];

/** The bin class of a share, or `nodata` when there is no share (no schools, nothing known). */
export function binOf(share) {
  if (share == null || Number.isNaN(share)) return 'nodata';
  return (BINS.find((b) => share >= b.min) ?? BINS[BINS.length - 1]).cls;
}
