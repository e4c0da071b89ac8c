import { differenceInCalendarDays, format, parseISO } from 'date-fns';
import { type Request, Router } from 'express';
import { loadDashboard } from '../../data/dashboard';
import {
  applyFilters, byEnvironment, byService as countByService, coming, communeMatrix, countByStatus, type DashFilters, groupCounts, isEnvironment,
  isStatusValue, lateFiches, openStrongEffects, reachOf, readiness, READINESS_WEIGHTS, stepsTrend,
} from '../../domain/dashboard';
import { ownersSummary } from '../../domain/fiche';
import { type EnvironmentRef, STATUS_LABELS, STATUSES } from '../../domain/statuses';
import { listAlerts } from '../../data/alerts';
import { barChart, lineChart, timeline } from '../charts';
import type { AppContext } from '../context';
import { type CsvValue, toCsv } from '../csv';
import { HttpError } from '../errors';
import { str } from '../forms/fields';
import { scopeOf } from '../scope';

const MATRIX_ROWS = 100;
const MATRIX_COLUMNS = 40;
const EXPORTS = ['statuts', 'retards', 'a-venir', 'equipes', 'services', 'environnements', 'communes', 'effets-forts', 'calendrier', 'tendance', 'indice'] as const;
type Export = (typeof EXPORTS)[number];

/** Reads the filters from the URL; an unknown value is an error, not an empty dashboard that looks like good news. */
function readFilters(req: Request, known: { teams: Set<number>; services: Set<number>; communes: Set<number>; environments: EnvironmentRef[] }): { filters: DashFilters; query: Record<string, string> } {
  const filters: DashFilters = {};
  const query: Record<string, string> = {};
  const id = (name: string, label: string, set: Set<number>) => {
    const v = str(req.query[name]);
    if (!v) return undefined;
    if (!/^\d{1,9}$/.test(v) || !set.has(Number(v))) throw new HttpError(400, `Filtre inconnu : ${label} « ${v} » n'existe pas. Choisissez une valeur dans la liste des filtres.`);
    query[name] = v;
    return Number(v);
  };
  filters.team = id('equipe', "l'équipe", known.teams);
  filters.service = id('service', 'le service', known.services);
  filters.commune = id('commune', 'la commune', known.communes);
  const env = str(req.query.environnement);
  if (env) {
    if (!isEnvironment(env, known.environments)) throw new HttpError(400, `Filtre inconnu : l'environnement « ${env} » n'existe pas (valeurs possibles : ${known.environments.map((e) => e.code).join(', ')}).`);
    filters.environment = env;
    query.environnement = env;
  }
  const status = str(req.query.avancement);
  if (status) {
    if (!isStatusValue(status)) throw new HttpError(400, `Filtre inconnu : l'avancement « ${status} » n'existe pas (valeurs possibles : ${STATUSES.join(', ')}).`);
    filters.status = status;
    query.avancement = status;
  }
  const exported = str(req.query.export);
  if (exported && !(EXPORTS as readonly string[]).includes(exported)) throw new HttpError(400, `Export inconnu : « ${exported} ».`);
  return { filters, query };
}

export function dashboardRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/tableau-de-bord', async (req, res) => {
    const { restriction, hom: plan, base } = scopeOf(res);
    const data = await loadDashboard(ctx.db, plan.id, restriction);
    const { filters, query } = readFilters(req, {
      teams: new Set(data.teams.map((t) => t.id)), services: new Set(data.services.map((s) => s.id)), communes: new Set(data.communes.map((c) => c.id)),
      environments: data.environments,
    });
    const today = format(ctx.now(), 'yyyy-MM-dd');
    const reach = reachOf(data.fiches, data.instances);
    const fiches = applyFilters(data.fiches, reach, filters);
    const ready = readiness(fiches, today);
    const statusCounts = countByStatus(fiches);
    const steps = fiches.flatMap((f) => f.steps);
    const late = lateFiches(fiches, today).map((l) => ({ ...l, daysLate: differenceInCalendarDays(parseISO(today), parseISO(l.fiche.targetDate!)), owner: ownersSummary(l.fiche.owners.map((o) => ({ ...o, serviceId: null, serviceName: null }))) }));
    const soon = coming(fiches, data.milestones, today);
    const teamNames = new Map(data.teams.map((t) => [t.id, t.name]));
    const byTeam = groupCounts(fiches, (f) => f.owners.map((o) => o.teamId), (id) => teamNames.get(id) ?? '?');
    const byService = countByService(fiches, reach);
    const byEnv = byEnvironment(fiches, reach, data.environments);
    const matrix = communeMatrix(fiches, data.instances, reach);
    const strong = openStrongEffects(fiches);
    const shown = new Set(fiches.map((f) => f.id));
    const trend = stepsTrend(data.stepEvents.filter((e) => shown.has(e.ficheId)), today);
    const calendar = [
      ...fiches.filter((f) => f.targetDate).map((f) => ({ label: `Fiche n°${f.number} : ${f.title}`, kind: 'fiche' as const, date: f.targetDate!, late: late.some((l) => l.fiche.id === f.id), done: f.status === 'fait', href: `${base}/fiches/${f.id}` })),
      ...data.milestones.map((m) => ({ label: m.title, kind: 'jalon' as const, date: m.dueDate, late: !m.done && m.dueDate < today, done: m.done, href: null })),
    ].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));

    const exported = str(req.query.export) as Export | '';
    if (exported) {
      const tables: Record<Export, () => CsvValue[][]> = {
        statuts: () => [['Avancement', 'Fiches'], ...STATUSES.map((s) => [STATUS_LABELS[s], statusCounts[s]])],
        retards: () => [['Fiche', 'Intitulé', 'Date cible', 'Jours de retard', 'Responsable', 'Actions non faites'], ...late.map((l) => [l.fiche.number, l.fiche.title, l.fiche.targetDate!, l.daysLate, l.owner, l.lateSteps.map((s) => s.label).join(' | ')])],
        'a-venir': () => [['Date', 'Type', 'Intitulé', 'Sous (jours)'], ...soon.map((c) => [c.date, c.kind === 'fiche' ? 'Date cible' : 'Jalon', c.label, c.window])],
        equipes: () => countsTable('Équipe', byTeam),
        services: () => countsTable('Service', byService),
        environnements: () => countsTable('Environnement', byEnv),
        communes: () => [['Commune', ...fiches.map((f) => `Fiche ${f.number}`)], ...matrix.map((r) => [r.communeName, ...r.cells.map((c) => (c ? STATUS_LABELS[c] : ''))])],
        'effets-forts': () => [['Fiche', 'Intitulé', 'Avancement', 'Effet de bord fort'], ...strong.map((e) => [e.fiche.number, e.fiche.title, STATUS_LABELS[e.fiche.status], e.description])],
        calendrier: () => [['Date', 'Type', 'Intitulé', 'État'], ...calendar.map((c) => [c.date, c.kind === 'fiche' ? 'Date cible' : 'Jalon', c.label, c.done ? 'Fait' : c.late ? 'En retard' : 'À venir'])],
        tendance: () => [['Mois', 'Actions faites'], ...trend.map((t) => [t.month, t.done])],
        indice: () => [['Composante', 'Part', 'Poids', 'Points'], ...ready.components.map((c) => [c.label, c.value.toFixed(3), c.weight, c.points.toFixed(2)]), ['Indice', '', '', ready.index.toFixed(2)]],
      };
      res.type('text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="tableau-de-bord-${exported}-${today}.csv"`)
        .send(toCsv(tables[exported]()));
      return;
    }

    // Late-fiche alerts are the Métropole teams' business: commune agents do not see them.
    const openAlerts = restriction === null ? await listAlerts(ctx.db, { open: true, planId: plan.id }) : [];
    const queryString = (extra: Record<string, string>) => new URLSearchParams({ ...query, ...extra }).toString();
    res.render('dashboard/index', {
      title: 'Tableau de bord',
      plan, restricted: restriction !== null, filters, query, queryString, data, fiches, today,
      ready, weights: READINESS_WEIGHTS, statusCounts, stepsDone: steps.filter((s) => s.status === 'fait').length, stepsTotal: steps.length,
      late, openAlerts, soon, byTeam, byService, byEnv, strong, trend, calendar,
      // the on-screen matrix stays readable at national scale; the CSV export has every row and column
      matrix: matrix.slice(0, MATRIX_ROWS).map((r) => ({ ...r, cells: r.cells.slice(0, MATRIX_COLUMNS) })), matrixTotal: matrix.length, MATRIX_ROWS,
      matrixFiches: fiches.slice(0, MATRIX_COLUMNS), MATRIX_COLUMNS,
      statusChart: barChart(STATUSES.map((s) => ({ label: STATUS_LABELS[s], value: statusCounts[s], css: `app-bar--${s}` }))),
      trendChart: lineChart(trend.map((t) => ({ month: t.month, value: t.done }))),
      timelineChart: timeline(calendar.slice(0, 60), today),
      environments: data.environments, STATUSES,
    });
  });

  return router;
}

function countsTable(label: string, groups: { label: string; counts: Record<string, number> }[]): CsvValue[][] {
  return [[label, ...STATUSES.map((s) => STATUS_LABELS[s]), 'Total'], ...groups.map((g) => [g.label, ...STATUSES.map((s) => g.counts[s] ?? 0), g.counts.total ?? 0])];
}
