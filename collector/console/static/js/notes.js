// The parts of a compliance judgement that the engine writes in English — the note on a value, why a
// rule is unknown or not applicable, and the window — in the page's language. Notes are matched
// exactly (a test keeps this table in step with the engine's texts); one the table does not know is
// shown as the engine wrote it rather than not at all.
import { lang } from './common.js';

/** Engine note (English) → Chinese. */
export const NOTES_ZH = {
  'contracted bandwidth from the registry (no throughput test in the window)': '登记的合同带宽（时间窗内没有吞吐量测试）',
  'measured: highest download of the throughput tests (iperf3) in the window': '实测：时间窗内吞吐量测试（iperf3）的最高下行速率',
  'no device of the class: no ratio can be met': '没有该类设备：比例无法达到',
  'evidence being rebuilt from InfluxDB; judged once this school is done': '正在从 InfluxDB 重建证据；完成后再评判该校',
  'no IPv6 internet target configured (ping targets with an IPv6 address)': '未配置 IPv6 互联网探测目标（带 IPv6 地址的 ping 目标）',
  'no WAN interface speed in the window': '时间窗内没有 WAN 接口速率',
  'no inventory measurement from this school in the window': '时间窗内该校没有设备清单数据',
  'no measured WAN rate in the window': '时间窗内没有实测 WAN 速率',
  'no ping to an internet target in the window': '时间窗内没有对互联网目标的 ping',
  'no ping to the hub school (role=peer) in the window': '时间窗内没有对中心校的 ping（role=peer）',
  'no probe measures this yet': '尚无探针测量此项',
  'no throughput test in the window and no contracted bandwidth in the registry': '时间窗内没有吞吐量测试，登记信息中也没有合同带宽',
  'some of the values were not measured in the window': '时间窗内部分数值未测到',
  'the registry has 0 classrooms for this school': '登记信息中该校教室数为 0',
  'the registry has 0 students for this school': '登记信息中该校学生数为 0',
  'the rule does not apply to this school (appliesTo)': '该规则不适用于该校（appliesTo）',
  'no data': '无数据',
};

/** Notes with a variable part: [pattern, Chinese with $1…]. */
const PATTERNS_ZH = [
  [/^the rule is not in force yet at this time \(first version (\d{4}-\d{2}-\d{2})\)$/, '该规则此时尚未生效（首个版本 $1）'],
  // The school-hours online rate without school hours (collector/views/coverage/availability.ts).
  [/^no school hours in the last (\d+) days since (\d{4}-\d{2}-\d{2}) \(weekends, holidays, term breaks, or counting started only today\)$/, '自 $2 起的最近 $1 天没有上学时段（周末、节假日、寒暑假，或今天才开始统计）'],
];

/** A judgement's note in the page's language. */
export function noteText(note) {
  if (!note || lang !== 'zh-CN') return note ?? '';
  if (NOTES_ZH[note]) return NOTES_ZH[note];
  for (const [re, zh] of PATTERNS_ZH) if (re.test(note)) return note.replace(re, zh);
  return note;
}

/** A rule window (`{ lastDays }` or `{ schoolDays, from, to }`) in the page's language. */
export function windowText(spec, fallback) {
  if (!spec) return fallback ?? '';
  const zh = lang === 'zh-CN';
  if (!zh && fallback) return fallback;
  if (spec.lastDays !== undefined) return zh ? `此前 ${spec.lastDays} 个整天（自北京时间零点起）及今天至今` : `last ${spec.lastDays} day${spec.lastDays === 1 ? '' : 's'}, around the clock`;
  if (spec.schoolDays !== undefined) return zh ? `最近 ${spec.schoolDays} 个上学日的 ${spec.from}–${spec.to}（北京时间）` : `last ${spec.schoolDays} school day${spec.schoolDays === 1 ? '' : 's'}, ${spec.from}–${spec.to} China time`;
  return fallback ?? '';
}

/** Units the engine gives judgements, in Chinese. */
const UNITS_ZH = { devices: '台', '0/1': '（1 为是，0 为否）', 'loss %, jitter ms, RTT ms': '（丢包 %、抖动 ms、往返时延 ms）', '% of classrooms': '%（占教室数）', 'students per device': '名学生/台', Mbps: 'Mbps', 'Mbit/s': 'Mbit/s', ms: 'ms', '%': '%' };

/** A judgement's unit in the page's language. */
export function unitText(unit) {
  return lang === 'zh-CN' ? (UNITS_ZH[unit] ?? unit) : unit;
}
