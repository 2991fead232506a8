/**
 * The Grafana dashboard JSON model as a zod schema, for the schema test.
 *
 * No JSON Schema of the dashboard model ships in any npm package we can install: `@grafana/schema`
 * (devDependency) ships it only as TypeScript types generated from Grafana's CUE kind, in
 * `node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts` (interfaces Dashboard,
 * Panel, RowPanel, GridPos, FieldConfigSource, FieldConfig, VariableModel, DataSourceRef,
 * DataTransformerConfig, ThresholdsConfig). This file mirrors those interfaces field by field, with
 * the same optional/required split and value sets, and is strict about keys so a misspelt key fails.
 * The prose reference is https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/.
 */
import { z } from 'zod';

/** DataSourceRef: `{ type?, uid? }`. */
export const dataSourceRef = z.strictObject({ type: z.string().optional(), uid: z.string().optional() });

/** GridPos: h, w, x, y required; the grid is 24 columns wide. */
export const gridPos = z.strictObject({
  h: z.number().int().positive(),
  w: z.number().int().min(1).max(24),
  x: z.number().int().min(0).max(23),
  y: z.number().int().min(0),
  static: z.boolean().optional(),
});

const matcherConfig = z.strictObject({ id: z.string(), options: z.unknown().optional(), scope: z.enum(['series', 'nested', 'annotation', 'exemplar']).optional() });

const thresholdsConfig = z.strictObject({
  mode: z.enum(['absolute', 'percentage']),
  steps: z.array(z.strictObject({ color: z.string(), value: z.number().nullable(), valueExpr: z.string().optional() })),
});

/** FieldConfig (fieldConfig.defaults). */
export const fieldConfig = z.strictObject({
  actions: z.array(z.unknown()).optional(),
  color: z.strictObject({ mode: z.string(), fixedColor: z.string().optional(), seriesBy: z.enum(['min', 'max', 'last']).optional() }).optional(),
  custom: z.record(z.string(), z.unknown()).optional(),
  decimals: z.number().optional(),
  description: z.string().optional(),
  displayName: z.string().optional(),
  displayNameFromDS: z.string().optional(),
  filterable: z.boolean().optional(),
  links: z.array(z.unknown()).optional(),
  mappings: z.array(z.unknown()).optional(),
  max: z.number().optional(),
  min: z.number().optional(),
  noValue: z.string().optional(),
  path: z.string().optional(),
  thresholds: thresholdsConfig.optional(),
  unit: z.string().optional(),
  writeable: z.boolean().optional(),
});

export const fieldConfigSource = z.strictObject({
  defaults: fieldConfig,
  overrides: z.array(z.strictObject({ matcher: matcherConfig, properties: z.array(z.strictObject({ id: z.string(), value: z.unknown().optional() })) })),
});

const dataTransformerConfig = z.strictObject({
  disabled: z.boolean().optional(),
  filter: matcherConfig.optional(),
  id: z.string(),
  options: z.unknown(),
  topic: z.enum(['series', 'annotations', 'alertStates']).optional(),
});

const dashboardLink = z.strictObject({
  title: z.string(),
  type: z.enum(['link', 'dashboards']),
  icon: z.string(),
  tooltip: z.string(),
  url: z.string().optional(),
  tags: z.array(z.string()),
  asDropdown: z.boolean(),
  targetBlank: z.boolean(),
  includeVars: z.boolean(),
  keepTime: z.boolean(),
  placement: z.literal('inControlsMenu').optional(),
});

/** Panel (not a row). `targets` are data-source specific records. */
export const panel = z.strictObject({
  autoMigrateFrom: z.string().optional(),
  cacheTimeout: z.string().optional(),
  datasource: dataSourceRef.optional(),
  description: z.string().optional(),
  fieldConfig: fieldConfigSource.optional(),
  gridPos: gridPos.optional(),
  hideTimeOverride: z.boolean().optional(),
  id: z.number().int().optional(),
  interval: z.string().optional(),
  libraryPanel: z.strictObject({ name: z.string(), uid: z.string() }).optional(),
  links: z.array(dashboardLink).optional(),
  maxDataPoints: z.number().optional(),
  maxPerRow: z.number().optional(),
  options: z.record(z.string(), z.unknown()).optional(),
  pluginVersion: z.string().optional(),
  queryCachingTTL: z.number().optional(),
  repeat: z.string().optional(),
  repeatDirection: z.enum(['h', 'v']).optional(),
  targets: z.array(z.record(z.string(), z.unknown())).optional(),
  timeCompare: z.string().optional(),
  timeFrom: z.string().optional(),
  timeShift: z.string().optional(),
  title: z.string().optional(),
  transformations: z.array(dataTransformerConfig).optional(),
  transparent: z.boolean().optional(),
  type: z.string().refine((t) => t !== 'row', 'a row must use the RowPanel shape'),
});

export const rowPanel = z.strictObject({
  collapsed: z.boolean(),
  datasource: dataSourceRef.optional(),
  gridPos: gridPos.optional(),
  id: z.number().int(),
  panels: z.array(panel),
  repeat: z.string().optional(),
  title: z.string().optional(),
  type: z.literal('row'),
});

const variableOption = z.strictObject({
  selected: z.boolean().optional(),
  text: z.union([z.string(), z.array(z.string())]),
  value: z.union([z.string(), z.array(z.string())]),
  properties: z.record(z.string(), z.unknown()).optional(),
});

/**
 * VariableModel. `definition` is not in the generated type but Grafana writes it for query variables
 * (the query as text for the variable list), so it is allowed here too.
 */
export const variableModel = z.strictObject({
  allValue: z.string().optional(),
  allowCustomValue: z.boolean().optional(),
  current: z.union([variableOption, z.strictObject({})]).optional(),
  datasource: dataSourceRef.optional(),
  definition: z.string().optional(),
  description: z.string().optional(),
  enableGroupBy: z.boolean().optional(),
  hide: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).optional(),
  includeAll: z.boolean().optional(),
  label: z.string().optional(),
  multi: z.boolean().optional(),
  name: z.string().regex(/^\w+$/),
  options: z.array(variableOption).optional(),
  query: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  refresh: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  regex: z.string().optional(),
  regexApplyTo: z.enum(['value', 'text']).optional(),
  skipUrlSync: z.boolean().optional(),
  sort: z.number().int().min(0).max(8).optional(),
  staticOptions: z.array(variableOption).optional(),
  staticOptionsOrder: z.enum(['before', 'after', 'sorted']).optional(),
  type: z.enum(['query', 'adhoc', 'groupby', 'constant', 'datasource', 'interval', 'textbox', 'custom', 'system', 'snapshot', 'switch']),
  valuesFormat: z.enum(['csv', 'json']).optional(),
});

const annotationQuery = z.object({ name: z.string(), enable: z.boolean(), iconColor: z.string(), datasource: dataSourceRef.optional() }).loose();

/** Dashboard: only schemaVersion is required by the type. */
export const dashboardSchema = z.strictObject({
  annotations: z.strictObject({ list: z.array(annotationQuery).optional() }).optional(),
  description: z.string().optional(),
  editable: z.boolean().optional(),
  fiscalYearStartMonth: z.number().int().min(0).max(11).optional(),
  gnetId: z.number().optional(),
  graphTooltip: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  id: z.number().nullable().optional(),
  links: z.array(dashboardLink).optional(),
  liveNow: z.boolean().optional(),
  panels: z.array(z.union([rowPanel, panel])).optional(),
  preload: z.boolean().optional(),
  refresh: z.string().optional(),
  revision: z.number().optional(),
  schemaVersion: z.number().int(),
  snapshot: z.unknown().optional(),
  tags: z.array(z.string()).optional(),
  templating: z.strictObject({ list: z.array(variableModel).optional() }).optional(),
  time: z.strictObject({ from: z.string(), to: z.string() }).optional(),
  timepicker: z.strictObject({ hidden: z.boolean().optional(), nowDelay: z.string().optional(), quick_ranges: z.array(z.unknown()).optional(), refresh_intervals: z.array(z.string()).optional() }).optional(),
  timezone: z.string().optional(),
  title: z.string().optional(),
  uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'Grafana uids are at most 40 characters of A-Z a-z 0-9 _ -').optional(),
  version: z.number().optional(),
  weekStart: z.string().optional(),
});

