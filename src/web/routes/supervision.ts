import { type Response, Router } from 'express';
import { subMonths } from 'date-fns/subMonths';
import { getSecuritySettings } from '../../data/security-settings';
import {
  daysBefore, freezeHistory, frozenUsers, inactiveUsers, loginFailuresByDay, mostActiveUsers, mostFrozen, signInMethods,
} from '../../data/supervision';
import { accountService } from '../../services/accounts';
import { ROLE_LABELS } from '../../domain/roles';
import { actor, requirePermission } from '../auth';
import { barChart } from '../charts';
import { type AppContext, servicesOf } from '../context';
import { HttpError, idParam, notFound } from '../errors';
import { str } from '../forms/fields';

/** The look-back periods of "most active users", in days. */
export const PERIODS = { '30': '30 derniers jours', '90': '3 derniers mois (90 jours)', '180': '6 derniers mois (180 jours)' } as const;
type Period = keyof typeof PERIODS;

const FAILURE_DAYS = 30;
const HISTORY_MONTHS = 6;

const DONE: Record<string, string> = {
  suspendu: 'Le compte est suspendu : il ne peut plus se connecter. Réactivez-le depuis la liste des utilisateurs si besoin.',
  debloque: 'Le compte est débloqué : son titulaire peut de nouveau se connecter.',
  inchange: "Rien n'a changé : le compte était déjà dans cet état (un autre administrateur l'a peut-être traité).",
};

const REFUSED = {
  self: 'Vous ne pouvez pas suspendre votre propre compte.',
  last_admin: "C'est le dernier compte administrateur actif : le suspendre rendrait l'administration impossible. Désignez d'abord un autre administrateur.",
};

function periodOf(value: unknown, strict: boolean): Period {
  const text = str(value);
  if (!text) return '30';
  if (text in PERIODS) return text as Period;
  if (strict) throw new HttpError(400, "La période demandée n'existe pas : choisissez 30, 90 ou 180 jours.");
  return '30';
}

/** Supervision of accounts (seed 003's dashboards), admins only. Mounted at /admin. */
export function supervisionRouter(ctx: AppContext): Router {
  const router = Router();
  router.use('/supervision', requirePermission('admin'));
  const accounts = accountService(servicesOf(ctx));

  const render = async (res: Response, period: Period, status = 200, extra: { error?: string; done?: string } = {}) => {
    const now = ctx.now();
    const settings = await getSecuritySettings(ctx.db);
    const since = subMonths(now, HISTORY_MONTHS);
    const [inactive, frozen, history, frequent, active, failures, methods] = await Promise.all([
      inactiveUsers(ctx.db, now, settings.inactiveMonths),
      frozenUsers(ctx.db, now),
      freezeHistory(ctx.db, since),
      mostFrozen(ctx.db, since),
      mostActiveUsers(ctx.db, daysBefore(now, Number(period))),
      loginFailuresByDay(ctx.db, now, FAILURE_DAYS, ctx.config.mail.timeZone),
      signInMethods(ctx.db),
    ]);
    const label = (day: string) => `${day.slice(8, 10)}/${day.slice(5, 7)}`;
    res.status(status).render('supervision/index', {
      title: 'Supervision des comptes',
      settings, inactive, frozen, history, frequent, active, failures, methods, providerLabel: ctx.config.oidc?.label ?? 'ProConnect',
      failuresTotal: failures.reduce((n, f) => n + f.count, 0),
      failuresChart: barChart(failures.map((f) => ({ label: label(f.day), value: f.count, css: 'app-mark--late' }))),
      dayLabel: label,
      period, PERIODS, ROLE_LABELS, HISTORY_MONTHS, FAILURE_DAYS,
      error: extra.error ?? null, done: extra.done ?? null,
    });
  };

  router.get('/supervision', async (req, res) => {
    await render(res, periodOf(req.query.periode, true), 200, { done: DONE[str(req.query.fait)] });
  });

  const back = (period: Period, done: string) => `/admin/supervision?${new URLSearchParams({ ...(period === '30' ? {} : { periode: period }), fait: done })}`;

  router.post('/supervision/utilisateurs/:id/suspendre', async (req, res) => {
    const period = periodOf(req.body?.periode, false);
    const r = await accounts.suspend(actor(req), idParam(req.params.id, 'Ce compte'), ctx.now());
    if (r.ok) return res.redirect(303, back(period, 'suspendu'));
    if (r.reason === 'not_found') throw notFound('Ce compte');
    if (r.reason === 'unchanged') return res.redirect(303, back(period, 'inchange'));
    return render(res, period, 422, { error: REFUSED[r.reason] });
  });

  router.post('/supervision/utilisateurs/:id/debloquer', async (req, res) => {
    const period = periodOf(req.body?.periode, false);
    const r = await accounts.unfreeze(actor(req), idParam(req.params.id, 'Ce compte'), ctx.now());
    if (r.ok) return res.redirect(303, back(period, 'debloque'));
    if (r.reason === 'not_found') throw notFound('Ce compte');
    return res.redirect(303, back(period, 'inchange'));
  });

  return router;
}
