// Texts of the national hub's pages (zh-CN and en), added to the console's dictionary: a hub shows
// provinces' roll-ups, their staleness, the provinces' feeds and the national alerts.
import { DICT } from './i18n.js';

const zh = {
  hubName: '全国汇总', provincesFeeds: '各省数据汇报', feedCollector: '省级采集端', feedAsOf: '数据截至', feedReceived: '最近接收', feedStatus: '状态',
  stale: '过期', current: '正常', staleSince: '数据过期，截至 {t}', staleTile: '过期 · 截至 {t}',
  staleBanner: '{n} 个省份的汇总数据已过期（超过 {m} 分钟未收到）：全国合计按其最后已知数字计入，不按零在线计算。',
  staleRegion: '本地区所在省份的汇总数据已过期：以下为截至 {t} 的最后已知数字（{r} 收到）。',
  provinceConsole: '学校名单在省级平台', openProvinceConsole: '在省级平台查看本地区学校',
  nationalAlerts: '全国告警', noAlerts: '当前没有告警', alertSince: '自 {t}',
  'kind.province_stale': '省份数据过期', 'kind.province_online': '省份在线率偏低',
  hubNote: '全国平台只接收各省按区县、地市、省汇总的数字，不接收学校级原始数据。',
  hoursNational: '各省 7 天上学时段在线率按登记学校数加权平均',
  provincesReporting: '省份：{r} 个正常，{s} 个过期', historyCarried: '折线中缺少汇报的时段按该省最后已知数字计入',
  alertStale: '自 {t} 起未收到汇总数据，数字截至 {a}', alertOnline: '学校在线率 {v}，连续 {m} 分钟低于 {th}',
  noRollup: '未接入（未收到汇总）', noRollupShort: '未接入', staleLegend: '数据过期：显示最后已知数字及其时间',
  consoleLink: '打开', noProvinces: '尚未收到任何省份的汇总数据',
};

const en = {
  hubName: 'National hub', provincesFeeds: 'Provinces reporting', feedCollector: 'Province collector', feedAsOf: 'Data as of', feedReceived: 'Last received', feedStatus: 'Status',
  stale: 'stale', current: 'current', staleSince: 'stale since {t}', staleTile: 'stale · as of {t}',
  staleBanner: '{n} provinces are stale (no roll-up for more than {m} min): the national totals include their last known figures, never zero online.',
  staleRegion: "This region's province is stale: the figures below are its last known ones, as of {t} (received {r}).",
  provinceConsole: "School lists are on the province's console", openProvinceConsole: "Open this region's schools on the province's console",
  nationalAlerts: 'National alerts', noAlerts: 'No alerts firing', alertSince: 'since {t}',
  'kind.province_stale': 'province stale', 'kind.province_online': 'province online share low',
  hubNote: "The national hub receives each province's aggregates by county, city and province, never school-level raw data.",
  hoursNational: "the provinces' 7-day school-hours rates, weighted by registered schools",
  provincesReporting: 'Provinces: {r} current, {s} stale', historyCarried: 'buckets without a roll-up from a province carry its last known figures',
  alertStale: 'no roll-up since {t}; figures as of {a}', alertOnline: '{v} of schools online, below {th} for {m} min',
  noRollup: 'not connected (no roll-up)', noRollupShort: 'not connected', staleLegend: 'stale: its last known figures, with their time',
  consoleLink: 'open', noProvinces: 'No province has sent a roll-up yet',
};

Object.assign(DICT['zh-CN'], zh);
Object.assign(DICT.en, en);
