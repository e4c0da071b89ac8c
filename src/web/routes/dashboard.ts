import { format } from 'date-fns';
import { Router } from 'express';
import { READINESS_WEIGHTS } from '../../domain/dashboard';
import { STATUS_LABELS, STATUSES } from '../../domain/statuses';
import {
  ALERTS_SHOWN, CALENDAR_SHOWN, COMMUNE_LIST_MAX, dashboardAlerts, dashboardOf, dashboardTable, LATE_SHOWN, LATE_STEPS_SHOWN, MATRIX_COLUMNS, MATRIX_ROWS,
  ROLLOUTS_SHOWN, STRONG_SHOWN,
} from '../../services/dashboard';
import { dashboardRisks } from '../../services/risk-committee';
import { barChart, lineChart, timeline } from '../charts';
import type { AppContext } from '../context';
import { toCsv } from '../csv';
import { HttpError } from '../errors';
import { str } from '../forms/fields';
import { scopeOf } from '../scope';

export function dashboardRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/tableau-de-bord', async (req, res) => {
    const { restriction, hom: plan, base } = scopeOf(res);
    const q = (name: string) => str(req.query[name]);
    const today = format(ctx.now(), 'yyyy-MM-dd');
    const result = await dashboardOf(ctx.db, {
      planId: plan.id, communeId: restriction, today, base,
      query: { equipe: q('equipe'), service: q('service'), commune: q('commune'), environnement: q('environnement'), avancement: q('avancement'), export: q('export') },
    });
    if (!result.ok) throw new HttpError(400, result.message);
    const { model: m, filters, query, exported } = result;

    if (exported) {
      res.type('text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="tableau-de-bord-${exported}-${today}.csv"`)
        .send(toCsv(dashboardTable(m, exported)));
      return;
    }

    const [alerts, risks] = await Promise.all([dashboardAlerts(ctx.db, plan.id, restriction), dashboardRisks(ctx.db, plan.id, restriction, today)]);
    const queryString = (extra: Record<string, string>) => new URLSearchParams({ ...query, ...extra }).toString();
    res.render('dashboard/index', {
      title: 'Tableau de bord',
      plan, restricted: restriction !== null, filters, query, queryString, data: m.data, fiches: m.fiches, today,
      // too many communes for a list: the filter is a field for the commune's name, showing the chosen one's
      communeField: m.data.communes.length > COMMUNE_LIST_MAX,
      communeName: filters.commune === undefined ? '' : m.data.communes.find((c) => c.id === filters.commune)?.name ?? '',
      ready: m.ready, weights: READINESS_WEIGHTS, statusCounts: m.statusCounts, stepsDone: m.stepsDone, stepsTotal: m.stepsTotal,
      late: m.late, screenLate: m.screenLate, LATE_SHOWN, LATE_STEPS_SHOWN,
      openAlerts: alerts.shown, alertCount: alerts.total, ALERTS_SHOWN,
      soon: m.soon, byTeam: m.byTeam, byService: m.byService, byEnv: m.byEnv,
      strong: m.strong, screenStrong: m.screenStrong, trend: m.trend, calendar: m.calendar, screenCalendar: m.screenCalendar,
      rollouts: m.rollouts, screenRollouts: m.screenRollouts,
      matrix: m.screenMatrix, matrixTotal: m.standings.length, MATRIX_ROWS, matrixFiches: m.matrixFiches, MATRIX_COLUMNS,
      statusChart: barChart(STATUSES.map((s) => ({ label: STATUS_LABELS[s], value: m.statusCounts[s], css: `app-bar--${s}` }))),
      trendChart: lineChart(m.trend.map((t) => ({ month: t.month, value: t.done }))),
      timelineChart: timeline(m.screenCalendar, today),
      environments: m.data.environments, STATUSES, risks, ROLLOUTS_SHOWN, STRONG_SHOWN, CALENDAR_SHOWN,
    });
  });

  return router;
}
