import { type Response, Router } from 'express';
import { acknowledgeReminder, CLOSED_REASON_TEXT, type ExpiryReminder, getReminder, thresholdText } from '../../data/expiry-reminders';
import { daysLeft, validityPhrase } from '../../domain/homologation';
import { isCommuneRole } from '../../domain/roles';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { forbidden, idParam } from '../errors';
import { belongs, scopeOf } from '../scope';

/**
 * A homologation's expiry reminders (the link of the e-mail) and their acknowledgement, under its scope. Commune
 * agents have none (the reminders go to the Métropole's project team); acknowledging is for those who may edit it,
 * and stays possible once it has expired (it is read-only then, but the reminder still has to be answered).
 */
export function expiryRemindersRouter(ctx: AppContext): Router {
  const router = Router({ mergeParams: true });
  router.use('/rappels', (req, _res, next) => next(isCommuneRole(actor(req).role) ? forbidden() : undefined));

  const load = async (id: string | string[] | undefined, res: Response) =>
    belongs(res, await getReminder(ctx.db, idParam(id, 'Ce rappel')), 'Ce rappel');

  const render = (res: Response, reminder: ExpiryReminder, status = 200, notice: { kind: 'success' | 'info'; text: string } | null = null) => {
    const scope = scopeOf(res);
    res.status(status).render('expiry-reminders/show', {
      title: `Rappel d'échéance : ${thresholdText(reminder.monthsBefore)}`,
      reminder, notice, mayAcknowledge: scope.editor,
      threshold: thresholdText(reminder.monthsBefore),
      validity: validityPhrase(reminder.endsOn, scope.today), daysLeft: daysLeft(reminder.endsOn, scope.today),
      closedReason: reminder.closedReason ? CLOSED_REASON_TEXT[reminder.closedReason] : null,
    });
  };

  router.get('/rappels/:id', async (req, res) => {
    const reminder = await load(req.params.id, res);
    render(res, reminder, 200, req.query.acquitte === '1' && reminder.acknowledgedAt ? { kind: 'success', text: 'Accusé de réception enregistré.' } : null);
  });

  router.post('/rappels/:id/acquitter', async (req, res) => {
    const reminder = await load(req.params.id, res);
    const scope = scopeOf(res);
    if (!scope.editor) throw forbidden();
    const result = await acknowledgeReminder(ctx.db, reminder.id, actor(req), ctx.now());
    if (result === 'acknowledged') return res.redirect(303, `${scope.base}/rappels/${reminder.id}?acquitte=1`);
    const now = (await getReminder(ctx.db, reminder.id))!;
    return render(res, now, 409, {
      kind: 'info',
      text: result === 'already'
        ? `Ce rappel a déjà été acquitté${now.acknowledgedByName ? ` par ${now.acknowledgedByName}` : ''} : rien n'a été changé.`
        : "Ce rappel est clos : il n'y a plus rien à acquitter.",
    });
  });

  return router;
}
