import { differenceInCalendarDays, parseISO } from 'date-fns';
import { rolloutPhrase } from '../domain/rollout';
import type { Knex } from 'knex';
import { type Alert, countAlerts, listAlerts } from '../data/alerts';
import { type DashboardData, lateStepsOf, loadDashboard } from '../data/dashboard';
import {
  applyFilters, byEnvironment, rolloutFiches, byService as countByService, coming, communeMatrix, communeStandings, countByStatus, type DashFiche, type DashFilters,
  groupCounts, isEnvironment, isStatusValue, lateFiches, lateStepsDue, type MatrixRow, matrixRows, openStrongEffects, reachOf, readiness, stepsTrend, totalStepCounts,
} from '../domain/dashboard';
import { ownersSummary } from '../domain/fiche';
import { STATUS_LABELS, STATUSES } from '../domain/statuses';
import { frenchCollator } from '../domain/words';

/** The tables of the dashboard that export to CSV, by the name in the URL (?export=…). */
export const DASHBOARD_EXPORTS = [
  'statuts', 'retards', 'a-venir', 'equipes', 'services', 'environnements', 'communes', 'effets-forts', 'calendrier', 'tendance', 'indice', 'deploiements',
] as const;
export type DashboardExport = (typeof DASHBOARD_EXPORTS)[number];

/**
 * What the screen shows of the long tables, so that the page stays one a person reads at national scale (and weighs
 * the same for 50 fiches or 500, for 20 communes or 1,000); each table's CSV export has every row and column.
 * The commune matrix: the communes with the most late, then not done, fiches first, and the first fiches.
 */
export const MATRIX_ROWS = 20;
export const MATRIX_COLUMNS = 40;
/** The late fiches: the oldest first, each with its first late actions. */
export const LATE_SHOWN = 20;
export const LATE_STEPS_SHOWN = 5;
/** The fiches followed per instance, and the open strong side effects. */
export const ROLLOUTS_SHOWN = 30;
export const STRONG_SHOWN = 30;
/** The calendar's chart and its table of dates. */
export const CALENDAR_SHOWN = 60;
/** Above this many communes, the commune filter is a field where one types the commune's name, not a list of them all. */
export const COMMUNE_LIST_MAX = 100;

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
  const ids = (name: 'equipe' | 'service' | 'commune', label: string, known: { id: number }[], v = raw[name]): number | undefined | string => {
    if (!v) return undefined;
    if (!/^\d{1,9}$/.test(v) || !known.some((k) => k.id === Number(v))) return `Filtre inconnu : ${label} « ${v} » n'existe pas. Choisissez une valeur dans la liste des filtres.`;
    query[name] = v;
    return Number(v);
  };
  const team = ids('equipe', "l'équipe", data.teams);
  if (typeof team === 'string') return team;
  const service = ids('service', 'le service', data.services);
  if (typeof service === 'string') return service;
  // a commune may also be given by its name, typed in the filter's field when the communes are too many for a list
  let communeValue = raw.commune.trim();
  if (communeValue && !/^\d{1,9}$/.test(communeValue)) {
    const named = data.communes.find((c) => frenchCollator.compare(c.name, communeValue) === 0);
    if (!named) return `Filtre inconnu : la commune « ${communeValue} » n'existe pas. Vérifiez son nom, ou laissez le champ vide pour voir toutes les communes.`;
    communeValue = String(named.id);
  }
  const commune = ids('commune', 'la commune', data.communes, communeValue);
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

/** Calendar days from one date (yyyy-MM-dd) to another, as differenceInCalendarDays, without a Date per call in local time. */
function daysBetween(from: string, to: string): number {
  const day = (iso: string) => Date.UTC(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)) - 1, Number(iso.slice(8, 10))) / 86_400_000;
  return /^\d{4}-\d{2}-\d{2}$/.test(from) && /^\d{4}-\d{2}-\d{2}$/.test(to) ? day(to) - day(from) : differenceInCalendarDays(parseISO(to), parseISO(from));
}

function buildModel(data: DashboardData, filters: DashFilters, today: string, base: string) {
  const reach = reachOf(data.fiches, data.instances, data.perimeter);
  const fiches = applyFilters(data.fiches, reach, filters);
  const { done: stepsDone, total: stepsTotal } = totalStepCounts(fiches);
  const late = lateFiches(fiches, today).map((l) => ({
    ...l, daysLate: daysBetween(l.since, today),
    owner: ownersSummary(l.fiche.owners.map((o) => ({ ...o, serviceId: null, serviceName: null }))),
  }));
  const lateIds = new Set(late.map((l) => l.fiche.id));
  const teamNames = new Map(data.teams.map((t) => [t.id, t.name]));
  const shown = new Set(fiches.map((f) => f.id));
  const calendar = [
    ...fiches.filter((f) => f.targetDate).map((f) => ({ label: `Fiche n°${f.number} : ${f.title}`, kind: 'fiche' as const, date: f.targetDate!, late: lateIds.has(f.id), done: f.status === 'fait', href: `${base}/fiches/${f.id}` as string | null })),
    ...data.milestones.map((m) => ({ label: m.title, kind: 'jalon' as const, date: m.dueDate, late: !m.done && m.dueDate < today, done: m.done, href: null })),
  ].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const standings = communeStandings(fiches, data.perimeter, reach, today);
  // the commune filtered on comes first, whatever its standing
  const shownStandings = [
    ...standings.filter((c) => c.communeId === filters.commune), ...standings.filter((c) => c.communeId !== filters.commune),
  ].slice(0, MATRIX_ROWS);
  const matrixFiches = fiches.slice(0, MATRIX_COLUMNS) as DashFiche[];
  const strong = openStrongEffects(fiches);
  const rollouts = rolloutFiches(fiches).map((r) => ({ ...r, phrase: rolloutPhrase(r.counts) }));
  // the whole matrix (communes × fiches) is drawn for its CSV export only, when asked for
  let matrix: MatrixRow[] | undefined;
  return {
    data, fiches, today,
    ready: readiness(fiches, today),
    statusCounts: countByStatus(fiches),
    stepsDone,
    stepsTotal,
    late,
    /** The late fiches as shown on screen: the oldest LATE_SHOWN (the same entries as `late`'s first). */
    screenLate: late.slice(0, LATE_SHOWN),
    soon: coming(fiches, data.milestones, today),
    byTeam: groupCounts(fiches, (f) => f.owners.map((o) => o.teamId), (id) => teamNames.get(id) ?? '?'),
    byService: countByService(fiches, reach),
    byEnv: byEnvironment(fiches, reach, data.environments),
    /** Every commune's row of the matrix, every fiche (the CSV export's). */
    get matrix(): MatrixRow[] {
      matrix ??= communeMatrix(fiches, data.perimeter, reach);
      return matrix;
    },
    /** The communes with their counts, the most late first (all of them: the count of the matrix's rows). */
    standings,
    /**
     * The matrix as shown on screen: the MATRIX_ROWS communes with the most late, then not done, fiches (the commune
     * filtered on first), on the first MATRIX_COLUMNS fiches, with their counts over all the fiches.
     */
    screenMatrix: matrixRows(shownStandings, matrixFiches, reach)
      .map((r, i) => ({ ...r, late: shownStandings[i]!.late, open: shownStandings[i]!.open, concerned: shownStandings[i]!.fiches })),
    matrixFiches,
    strong,
    screenStrong: strong.slice(0, STRONG_SHOWN),
    rollouts,
    screenRollouts: rollouts.slice(0, ROLLOUTS_SHOWN),
    trend: stepsTrend(data.stepEvents.filter((e) => shown.has(e.ficheId)), today),
    calendar,
    screenCalendar: calendar.slice(0, CALENDAR_SHOWN),
  };
}

/**
 * The dashboard of a homologation as a user sees it (a commune's agents: their own instances), filtered by the
 * query: the readiness index, counts, late and coming fiches, groups, the commune matrix, the trend and the calendar.
 */
export async function dashboardOf(
  db: Knex, input: { planId: number; communeId: number | null; query: DashboardQuery; today: string; base: string },
): Promise<DashboardResult> {
  // the late steps: all of them for their export; else counted, and read for the late fiches the screen shows only
  const every = input.query.export === 'retards';
  const data = await loadDashboard(db, input.planId, input.communeId, { today: input.today, lateSteps: every ? 'all' : 'summary' });
  const read = readFilters(input.query, data);
  if (typeof read === 'string') return { ok: false, message: read };
  const model = buildModel(data, read.filters, input.today, input.base);
  if (!every) {
    const steps = await lateStepsOf(db, model.screenLate.map((l) => l.fiche.id), input.today);
    for (const l of model.screenLate) l.lateSteps = lateStepsDue(l.fiche, steps.get(l.fiche.id) ?? [], input.today);
  }
  return { ok: true, model, ...read };
}

/** The open alerts the dashboard lists, the latest first; the alerts page has them all. */
export const ALERTS_SHOWN = 20;

/**
 * Late-fiche alerts still open, the latest ALERTS_SHOWN and how many in all: the Métropole teams' business, commune
 * agents do not see them.
 */
export async function dashboardAlerts(db: Knex, planId: number, communeId: number | null): Promise<{ shown: Alert[]; total: number }> {
  if (communeId !== null) return { shown: [], total: 0 };
  const [shown, total] = await Promise.all([listAlerts(db, { open: true, planId, limit: ALERTS_SHOWN }), countAlerts(db, { open: true, planId })]);
  return { shown, total };
}

function countsTable(label: string, groups: { label: string; counts: Record<string, number> }[]): Cell[][] {
  return [[label, ...STATUSES.map((s) => STATUS_LABELS[s]), 'Total'], ...groups.map((g) => [g.label, ...STATUSES.map((s) => g.counts[s] ?? 0), g.counts.total ?? 0])];
}

/**
 * One table of the dashboard as CSV rows (header first), every row and column. The late fiches' actions ('retards')
 * are all there when the model was read for that export (dashboardOf with export 'retards').
 */
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
    case 'deploiements': return [['Fiche', 'Intitulé', 'Instances faites', 'Instances', 'Détail'], ...m.rollouts.map((r) => [r.fiche.number, r.fiche.title, r.counts.done, r.counts.total, r.phrase])];
    case 'indice': return [['Composante', 'Part', 'Poids', 'Points'], ...m.ready.components.map((c) => [c.label, c.value.toFixed(3), c.weight, c.points.toFixed(2)]), ['Indice', '', '', m.ready.index.toFixed(2)]];
  }
}
