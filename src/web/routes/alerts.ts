import { Router } from 'express';
import { acknowledge, canAcknowledge, getAlert, listAlerts } from '../../data/alerts';
import { listReminders, thresholdText } from '../../data/expiry-reminders';
import { validityPhrase } from '../../domain/homologation';
import { localDate } from '../../domain/schedule';
import { isCommuneRole } from '../../domain/roles';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { forbidden, idParam, notFound } from '../errors';
import { notify } from '../notice';

/**
 * Late-fiche alerts and their acknowledgement, with the open expiry reminders of the homologations above them;
 * commune agents have none (they are the Métropole's teams').
 */
export function alertsRouter(ctx: AppContext): Router {
  const router = Router();
  router.use('/alertes', (req, _res, next) => next(isCommuneRole(actor(req).role) ? forbidden() : undefined));

  router.get('/alertes', async (req, res) => {
    const [alerts, reminders] = await Promise.all([listAlerts(ctx.db, { limit: 200 }), listReminders(ctx.db, { open: true })]);
    const today = localDate(ctx.now(), ctx.config.mail.timeZone);
    res.render('alerts/index', {
      title: "Alertes et rappels d'échéance", alerts, open: alerts.filter((a) => !a.acknowledgedAt && !a.resolvedAt),
      reminders: reminders.map((r) => ({ ...r, threshold: thresholdText(r.monthsBefore), validity: validityPhrase(r.endsOn, today) })),
    });
  });
  const load = async (id: string | string[] | undefined) => {
    const alert = await getAlert(ctx.db, idParam(id, 'Cette alerte'));
    if (!alert) throw notFound('Cette alerte');
    return alert;
  };
  router.get('/alertes/:id', async (req, res) => {
    const alert = await load(req.params.id);
    res.render('alerts/show', { title: `Alerte : fiche n°${alert.ficheNumber} en retard`, alert, mayAcknowledge: await canAcknowledge(ctx.db, actor(req), alert) });
  });
  router.post('/alertes/:id/acquitter', async (req, res) => {
    const alert = await load(req.params.id);
    const user = actor(req);
    if (!(await canAcknowledge(ctx.db, user, alert))) throw forbidden();
    await acknowledge(ctx.db, alert.id, user, ctx.now());
    notify(req, 'Alerte acquittée.');
    res.redirect(303, `/alertes/${alert.id}`);
  });
  return router;
}
