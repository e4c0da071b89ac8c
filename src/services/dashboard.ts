import { differenceInCalendarDays, parseISO } from 'date-fns';
import { rolloutPhrase } from '../domain/rollout';
import type { Knex } from 'knex';
import { listAlerts } from '../data/alerts';
import { type DashboardData, loadDashboard } from '../data/dashboard';
import {
  applyFilters, byEnvironment, rolloutFiches, byService as countByService, coming, communeMatrix, countByStatus, type DashFiche, type DashFilters, groupCounts,
  isEnvironment, isStatusValue, lateFiches, openStrongEffects, reachOf, readiness, stepsTrend,
} from '../domain/dashboard';
import { ownersSummary } from '../domain/fiche';
import { STATUS_LABELS, STATUSES } from '../domain/statuses';

/** The tables of the dashboard that export to CSV, by the name in the URL (?export=…). */
export const DASHBOARD_EXPORTS = ['statuts', 'retards', 'a-venir', 'equipes', 'services', 'environnements', 'communes', 'effets-forts', 'calendrier', 'tendance', 'indice'] as const;
export type DashboardExport = (typeof DASHBOARD_EXPORTS)[number];

/** The on-screen commune matrix stays readable at national scale; the CSV export has every row and column. */
export const MATRIX_ROWS = 100;
export const MATRIX_COLUMNS = 40;

/** A CSV cell: a text, or a number that stays a number. */
export type Cell = string | number | null;

/** The dashboard's query string as typed: filters and the export asked for (empty: none). */
export interface DashboardQuery {
  equipe: string;
  service: string;
  commune: string;
  environnement: string;
  avancement: string;
  export: string;
}

export type DashboardModel = ReturnType<typeof buildModel>;

export type DashboardResult =
  /** An unknown filter value or export: an error, not an empty dashboard that looks like good news. */
  | { ok: false; message: string }
  /** `query`: the filters kept in the URL (known values only); `exported`: the table asked for as CSV, if any. */
  | { ok: true; model: DashboardModel; filters: DashFilters; query: Record<string, string>; exported: DashboardExport | '' };

/** "Non démarré, En cours, Bloqué ou Fait": the labels a reader knows, never the codes in the URL. */
const orList = (labels: string[]) => (labels.length > 1 ? `${labels.slice(0, -1).join(', ')} ou ${labels.at(-1)}` : labels.join(''));

/** Reads the filters from the query; an unknown value is refused with the message to show. */
function readFilters(raw: DashboardQuery, data: DashboardData): { filters: DashFilters; query: Record<string, string>; exported: DashboardExport | '' } | string {
  const filters: DashFilters = {};
  const query: Record<string, string> = {};
  const ids = (name: 'equipe' | 'service' | 'commune', label: string, known: { id: number }[]): number | undefined | string => {
    const v = raw[name];
    if (!v) return undefined;
    if (!/^\d{1,9}$/.test(v) || !known.some((k) => k.id === Number(v))) return `Filtre inconnu : ${label} « ${v} » n'existe pas. Choisissez une valeur dans la liste des filtres.`;
    query[name] = v;
    return Number(v);
  };
  const team = ids('equipe', "l'équipe", data.teams);
  if (typeof team === 'string') return team;
  const service = ids('service', 'le service', data.services);
  if (typeof service === 'string') return service;
  const commune = ids('commune', 'la commune', data.communes);
  if (typeof commune === 'string') return commune;
  filters.team = team;
  filters.service = service;
  filters.commune = commune;
  const env = raw.environnement;
  if (env) {
    if (!isEnvironment(env, data.environments)) return `Filtre inconnu : l'environnement « ${env} » n'existe pas. Choisissez-en un dans la liste des filtres : ${orList(data.environments.map((e) => e.label))}.`;
    filters.environment = env;
    query.environnement = env;
  }
  const status = raw.avancement;
  if (status) {
    if (!isStatusValue(status)) return `Filtre inconnu : l'avancement « ${status} » n'existe pas. Choisissez-en un dans la liste des filtres : ${orList(STATUSES.map((st) => STATUS_LABELS[st]))}.`;
    filters.status = status;
    query.avancement = status;
  }
  const exported = raw.export;
  if (exported && !(DASHBOARD_EXPORTS as readonly string[]).includes(exported)) return `Export inconnu : « ${exported} ».`;
  return { filters, query, exported: exported as DashboardExport | '' };
}

function buildModel(data: DashboardData, filters: DashFilters, today: string, base: string) {
  const reach = reachOf(data.fiches, data.instances);
  const fiches = applyFilters(data.fiches, reach, filters);
  const steps = fiches.flatMap((f) => f.steps);
  const late = lateFiches(fiches, today).map((l) => ({
    ...l, daysLate: differenceInCalendarDays(parseISO(today), parseISO(l.since)),
    owner: ownersSummary(l.fiche.owners.map((o) => ({ ...o, serviceId: null, serviceName: null }))),
  }));
  const teamNames = new Map(data.teams.map((t) => [t.id, t.name]));
  const matrix = communeMatrix(fiches, data.instances, reach);
  const shown = new Set(fiches.map((f) => f.id));
  const calendar = [
    ...fiches.filter((f) => f.targetDate).map((f) => ({ label: `Fiche n°${f.number} : ${f.title}`, kind: 'fiche' as const, date: f.targetDate!, late: late.some((l) => l.fiche.id === f.id), done: f.status === 'fait', href: `${base}/fiches/${f.id}` as string | null })),
    ...data.milestones.map((m) => ({ label: m.title, kind: 'jalon' as const, date: m.dueDate, late: !m.done && m.dueDate < today, done: m.done, href: null })),
  ].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  return {
    data, fiches, today,
    ready: readiness(fiches, today),
    statusCounts: countByStatus(fiches),
    stepsDone: steps.filter((s) => s.status === 'fait').length,
    stepsTotal: steps.length,
    late,
    soon: coming(fiches, data.milestones, today),
    byTeam: groupCounts(fiches, (f) => f.owners.map((o) => o.teamId), (id) => teamNames.get(id) ?? '?'),
    byService: countByService(fiches, reach),
    byEnv: byEnvironment(fiches, reach, data.environments),
    matrix,
    /** The matrix as shown on screen: at most MATRIX_ROWS communes and MATRIX_COLUMNS fiches. */
    screenMatrix: matrix.slice(0, MATRIX_ROWS).map((r) => ({ ...r, cells: r.cells.slice(0, MATRIX_COLUMNS), counts: r.counts.slice(0, MATRIX_COLUMNS) })),
    matrixFiches: fiches.slice(0, MATRIX_COLUMNS) as DashFiche[],
    strong: openStrongEffects(fiches),
    rollouts: rolloutFiches(fiches).map((r) => ({ ...r, phrase: rolloutPhrase(r.counts) })),
    trend: stepsTrend(data.stepEvents.filter((e) => shown.has(e.ficheId)), today),
    calendar,
  };
}

/**
 * The dashboard of a homologation as a user sees it (a commune's agents: their own instances), filtered by the
 * query: the readiness index, counts, late and coming fiches, groups, the commune matrix, the trend and the calendar.
 */
export async function dashboardOf(
  db: Knex, input: { planId: number; communeId: number | null; query: DashboardQuery; today: string; base: string },
): Promise<DashboardResult> {
  const data = await loadDashboard(db, input.planId, input.communeId);
  const read = readFilters(input.query, data);
  if (typeof read === 'string') return { ok: false, message: read };
  return { ok: true, model: buildModel(data, read.filters, input.today, input.base), ...read };
}

/** Late-fiche alerts still open: the Métropole teams' business, commune agents do not see them. */
export async function dashboardAlerts(db: Knex, planId: number, communeId: number | null) {
  return communeId === null ? listAlerts(db, { open: true, planId }) : [];
}

function countsTable(label: string, groups: { label: string; counts: Record<string, number> }[]): Cell[][] {
  return [[label, ...STATUSES.map((s) => STATUS_LABELS[s]), 'Total'], ...groups.map((g) => [g.label, ...STATUSES.map((s) => g.counts[s] ?? 0), g.counts.total ?? 0])];
}

/** One table of the dashboard as CSV rows (header first), every row and column. */
export function dashboardTable(m: DashboardModel, name: DashboardExport): Cell[][] {
  switch (name) {
    case 'statuts': return [['Avancement', 'Fiches'], ...STATUSES.map((s) => [STATUS_LABELS[s], m.statusCounts[s]])];
    case 'retards': return [['Fiche', 'Intitulé', 'Date cible', 'Jours de retard', 'Responsable', 'Actions en retard'], ...m.late.map((l) => [l.fiche.number, l.fiche.title, l.fiche.targetDate ?? '', l.daysLate, l.owner, l.lateSteps.map((s) => `${s.label} (${s.due}${s.assigneeName ? `, ${s.assigneeName}` : ''})`).join(' | ')])];
    case 'a-venir': return [['Date', 'Type', 'Intitulé', 'Sous (jours)'], ...m.soon.map((c) => [c.date, c.kind === 'fiche' ? 'Date cible' : 'Jalon', c.label, c.window])];
    case 'equipes': return countsTable('Équipe', m.byTeam);
    case 'services': return countsTable('Service', m.byService);
    case 'environnements': return countsTable('Environnement', m.byEnv);
    case 'communes': return [['Commune', ...m.fiches.map((f) => `Fiche ${f.number}`)], ...m.matrix.map((r) => [r.communeName, ...r.cells.map((c, i) => (c ? `${STATUS_LABELS[c]}${r.counts[i] ? ` (${r.counts[i]!.done}/${r.counts[i]!.total})` : ''}` : ''))])];
    case 'effets-forts': return [['Fiche', 'Intitulé', 'Avancement', 'Effet de bord fort'], ...m.strong.map((e) => [e.fiche.number, e.fiche.title, STATUS_LABELS[e.fiche.status], e.description])];
    case 'calendrier': return [['Date', 'Type', 'Intitulé', 'État'], ...m.calendar.map((c) => [c.date, c.kind === 'fiche' ? 'Date cible' : 'Jalon', c.label, c.done ? 'Fait' : c.late ? 'En retard' : 'À venir'])];
    case 'tendance': return [['Mois', 'Actions faites'], ...m.trend.map((t) => [t.month, t.done])];
    case 'indice': return [['Composante', 'Part', 'Poids', 'Points'], ...m.ready.components.map((c) => [c.label, c.value.toFixed(3), c.weight, c.points.toFixed(2)]), ['Indice', '', '', m.ready.index.toFixed(2)]];
  }
}
