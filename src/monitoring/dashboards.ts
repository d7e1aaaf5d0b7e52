/**
 * The Grafana dashboards of ops/grafana/dashboards/ (FR-8.5): loading, schema-level validation and
 * their PromQL, for the unit test (structure) and the integration test (every query against the
 * stack's Prometheus). Grafana itself is not needed for either.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../shared/paths.js';

export const DASHBOARD_DIR = join(REPO_ROOT, 'ops', 'grafana', 'dashboards');
export const DATASOURCE_UID = 'aepred-prometheus';

export interface DashboardFile {
  readonly file: string;
  readonly json: unknown;
}

export interface DashboardQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

export function loadDashboards(dir = DASHBOARD_DIR): DashboardFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown }));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

const PANEL_TYPES = new Set([
  'timeseries',
  'stat',
  'gauge',
  'bargauge',
  'barchart',
  'heatmap',
  'piechart',
  'table',
  'text',
  'row',
]);

function datasourceProblem(ds: unknown, where: string): string | undefined {
  if (!isObj(ds) || ds.type !== 'prometheus' || ds.uid !== DATASOURCE_UID) {
    return `${where}: datasource must be {type: prometheus, uid: ${DATASOURCE_UID}}`;
  }
  return undefined;
}

/** What is wrong with a dashboard, as readable lines; empty when it is valid. */
export function validateDashboard(d: unknown): string[] {
  const problems: string[] = [];
  if (!isObj(d)) return ['dashboard is not a JSON object'];
  for (const key of ['uid', 'title'] as const) {
    if (typeof d[key] !== 'string' || (d[key] as string).length === 0) problems.push(`missing ${key}`);
  }
  if (typeof d.uid === 'string' && !/^[a-zA-Z0-9_-]{1,40}$/.test(d.uid))
    problems.push(`uid ${d.uid} is not a valid Grafana uid`);
  if (!isInt(d.schemaVersion) || d.schemaVersion < 30)
    problems.push('schemaVersion must be an integer >= 30');
  if (!isObj(d.time) || typeof d.time.from !== 'string' || typeof d.time.to !== 'string')
    problems.push('time.from/to missing');
  if (!Array.isArray(d.panels) || d.panels.length === 0) return [...problems, 'no panels'];
  const ids = new Set<number>();
  const cells = new Set<string>();
  for (const [i, p] of d.panels.entries()) {
    const where = `panel[${i}]`;
    if (!isObj(p)) {
      problems.push(`${where} is not an object`);
      continue;
    }
    if (!isInt(p.id)) problems.push(`${where}: id must be an integer`);
    else if (ids.has(p.id)) problems.push(`${where}: duplicate id ${p.id}`);
    else ids.add(p.id);
    if (typeof p.title !== 'string' || p.title.length === 0) problems.push(`${where}: missing title`);
    if (typeof p.type !== 'string' || !PANEL_TYPES.has(p.type))
      problems.push(`${where}: unknown type ${String(p.type)}`);
    const g = p.gridPos;
    if (!isObj(g) || ![g.x, g.y, g.w, g.h].every(isInt)) {
      problems.push(`${where}: gridPos needs integer x, y, w, h`);
    } else {
      const [x, y, w, h] = [g.x, g.y, g.w, g.h] as number[] as [number, number, number, number];
      if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > 24)
        problems.push(`${where}: gridPos outside the 24-column grid`);
      for (let cx = x; cx < x + w; cx++) {
        for (let cy = y; cy < y + h; cy++) {
          const key = `${cx},${cy}`;
          if (cells.has(key)) {
            problems.push(`${where}: overlaps another panel at ${key}`);
            cx = x + w;
            break;
          }
          cells.add(key);
        }
      }
    }
    if (p.type === 'row' || p.type === 'text') continue;
    const dsProblem = datasourceProblem(p.datasource, where);
    if (dsProblem) problems.push(dsProblem);
    if (!Array.isArray(p.targets) || p.targets.length === 0) {
      problems.push(`${where}: no targets`);
      continue;
    }
    const refIds = new Set<string>();
    for (const [j, t] of p.targets.entries()) {
      const tw = `${where}.targets[${j}]`;
      if (!isObj(t)) {
        problems.push(`${tw} is not an object`);
        continue;
      }
      if (typeof t.refId !== 'string' || refIds.has(t.refId))
        problems.push(`${tw}: refId missing or repeated`);
      else refIds.add(t.refId);
      if (typeof t.expr !== 'string' || t.expr.trim().length === 0) problems.push(`${tw}: empty expr`);
      if (t.datasource !== undefined) {
        const tp = datasourceProblem(t.datasource, tw);
        if (tp) problems.push(tp);
      }
      if (typeof t.expr === 'string' && /patient/i.test(t.expr)) problems.push(`${tw}: queries by patient`);
    }
  }
  return problems;
}

export function dashboardQueries(files: readonly DashboardFile[]): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const { json } of files) {
    if (!isObj(json) || !Array.isArray(json.panels)) continue;
    for (const p of json.panels) {
      if (!isObj(p) || !Array.isArray(p.targets)) continue;
      for (const t of p.targets) {
        if (isObj(t) && typeof t.expr === 'string') {
          out.push({
            dashboard: String(json.title),
            panel: String(p.title),
            refId: String(t.refId),
            expr: t.expr,
          });
        }
      }
    }
  }
  return out;
}

/** Grafana's built-in interval variables, replaced so Prometheus can run the query directly. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h');
}
