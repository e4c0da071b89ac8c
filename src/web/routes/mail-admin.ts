import { type Request, type Response, Router } from 'express';
import { contactCounts } from '../../data/contacts';
import { lastDigests } from '../../data/digests';
import { getMailSettings, saveMailSettings } from '../../data/mail-settings';
import { getMessage, listOutbox, type MessageKind, type OutboxStatus, outboxCounts } from '../../data/outbox';
import { communes } from '../../data/referentials';
import {
  describeSchedule, FREQUENCIES, FREQUENCY_LABELS, nextOccurrence, periodLabel, periodOf, WEEK_LABELS, WEEKDAY_LABELS, WEEKS,
} from '../../domain/schedule';
import { retryFailedMessage, sendDigestsByHand } from '../../services/mail-admin';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { HttpError, idParam, notFound } from '../errors';
import type { FieldErrors } from '../forms/fields';
import { readDigestSendForm, readMailSettingsForm } from '../forms/mail-settings';
import { readOutboxQuery } from '../forms/outbox';
import { sendMailHtml } from './contacts';
import { notify } from '../notice';

export const STATUS_TEXT: Record<OutboxStatus, string> = { pending: 'En attente', sending: 'En cours d’envoi', sent: 'Envoyé', failed: 'Échec' };
export const KIND_TEXT: Record<MessageKind, string> = {
  digest: "Point d'avancement", alert: 'Alerte de retard', reminder: "Rappel d'alerte", account: 'Lien de mot de passe', security: 'Alerte de sécurité',
  expiry: "Rappel d'échéance d'homologation", step: 'Action confiée (rappel)',
};

const PAGE = 50;

/** Administration of e-mails: the send log (outbox), the digest schedule and alert settings, sending digests by hand. */
export function mailAdminRouter(ctx: AppContext): Router {
  const router = Router();
  router.use(requirePermission('admin'));

  router.get('/courriels', async (req, res) => {
    const query = readOutboxQuery(req.query, Object.keys(KIND_TEXT) as MessageKind[]);
    if (!query.ok) throw new HttpError(400, query.message);
    const { status, kind, page } = query;
    const [list, counts] = await Promise.all([
      listOutbox(ctx.db, { status: status || undefined, kind: kind || undefined, limit: PAGE, offset: (page - 1) * PAGE }),
      outboxCounts(ctx.db),
    ]);
    res.render('outbox/index', {
      title: 'Courriels envoyés et en attente', list, counts, status, kind, page, pages: Math.max(1, Math.ceil(list.total / PAGE)),
      STATUS_TEXT, KIND_TEXT, smtp: Boolean(ctx.config.mail.smtpUrl),
    });
  });
  const loadMessage = async (req: Request) => {
    const m = await getMessage(ctx.db, idParam(req.params.id, 'Ce message'));
    if (!m) throw notFound('Ce message');
    return m;
  };
  router.get('/courriels/:id', async (req, res) => {
    const message = await loadMessage(req);
    res.render('outbox/show', { title: message.subject, message, STATUS_TEXT, KIND_TEXT, smtp: Boolean(ctx.config.mail.smtpUrl) });
  });
  router.get('/courriels/:id/courriel.html', async (req, res) => sendMailHtml(res, (await loadMessage(req)).html));
  router.post('/courriels/:id/relancer', async (req, res) => {
    const message = await loadMessage(req);
    if (await retryFailedMessage(ctx.db, message, actor(req), ctx.now())) {
      notify(req, `Le message à ${message.toAddress} repart : il sera envoyé de nouveau.`);
      ctx.wake?.();
    }
    res.redirect(303, `/admin/courriels/${message.id}`);
  });

  const renderDigests = async (res: Response, status = 200, extra: { values?: Record<string, string>; errors?: FieldErrors; sendValues?: Record<string, string>; sendErrors?: FieldErrors; outcomes?: unknown } = {}) => {
    const now = ctx.now();
    const settings = await getMailSettings(ctx.db);
    const [communeList, counts, lastDigests_] = await Promise.all([
      communes.list(ctx.db), contactCounts(ctx.db),
      lastDigests(ctx.db),
    ]);
    const last = lastDigests_;
    const frequency = settings.schedule.frequency === 'weekly' ? 'weekly' : 'monthly';
    const period = periodOf(now, frequency, ctx.config.mail.timeZone);
    const next = nextOccurrence(settings.schedule, now, ctx.config.mail.timeZone);
    res.status(status).render('digests/index', {
      title: "Points d'avancement des communes",
      settings, describe: describeSchedule(settings.schedule), next: next?.toISOString() ?? null,
      values: extra.values ?? {
        frequency: settings.schedule.frequency, weekday: String(settings.schedule.weekday), week: settings.schedule.week, time: settings.schedule.time,
        alertsEnabled: settings.alertsEnabled ? 'on' : '', alertReminderDays: String(settings.alertReminderDays),
        expiryReminderMonths: settings.expiryReminderMonths.join(','),
      },
      errors: extra.errors ?? {},
      sendValues: extra.sendValues ?? { communeId: 'all', period },
      sendErrors: extra.sendErrors ?? {},
      outcomes: extra.outcomes ?? null,
      period, periodText: periodLabel(period),
      communes: communeList.map((c) => ({ ...c, contacts: counts.get(c.id) ?? { subscribed: 0, unsubscribed: 0 }, last: last.get(c.id) ?? null })),
      FREQUENCIES, FREQUENCY_LABELS, WEEKS, WEEK_LABELS, WEEKDAY_LABELS, smtp: Boolean(ctx.config.mail.smtpUrl),
    });
  };
  router.get('/points', async (_req, res) => renderDigests(res));

  router.post('/points/reglages', async (req, res) => {
    const form = readMailSettingsForm(req.body, (await getMailSettings(ctx.db)).expiryReminderMonths);
    if (!form.ok) return renderDigests(res, 422, { values: form.values, errors: form.errors });
    const d = form.data;
    await saveMailSettings(ctx.db, {
      schedule: { frequency: d.frequency, weekday: d.weekday, week: d.week, time: d.time }, alertsEnabled: d.alertsEnabled, alertReminderDays: d.alertReminderDays,
      expiryReminderMonths: d.expiryReminderMonths,
    }, actor(req), ctx.now());
    notify(req, "Les réglages des envois automatiques sont enregistrés.");
    res.redirect(303, '/admin/points?enregistre=1');
  });

  // Sending by hand reaches every chosen commune's contacts at once: a page first says how many, and for which period.
  router.get('/points/envoyer', async (req, res) => {
    const communeList = await communes.list(ctx.db);
    const form = readDigestSendForm(req.query, communeList.map((c) => c.id));
    if (!form.ok) return renderDigests(res, 422, { sendValues: form.values, sendErrors: form.errors });
    const counts = await contactCounts(ctx.db);
    const chosen = communeList.filter((c) => form.data.communeIds === 'all' || form.data.communeIds.includes(c.id));
    const reached = chosen.map((c) => ({ name: c.name, recipients: counts.get(c.id)?.subscribed ?? 0 })).filter((c) => c.recipients > 0);
    res.render('digests/confirm', {
      title: "Envoyer le point d'avancement", values: form.values, period: form.data.period, periodText: periodLabel(form.data.period),
      all: form.data.communeIds === 'all', reached, recipients: reached.reduce((n, c) => n + c.recipients, 0),
      silent: chosen.length - reached.length, smtp: Boolean(ctx.config.mail.smtpUrl),
    });
  });

  router.post('/points/envoyer', async (req, res) => {
    const form = readDigestSendForm(req.body, (await communes.list(ctx.db)).map((c) => c.id));
    if (!form.ok) return renderDigests(res, 422, { sendValues: form.values, sendErrors: form.errors });
    const outcomes = await sendDigestsByHand(ctx.db, ctx.config.mail, form.data, actor(req), ctx.now());
    ctx.wake?.();
    return renderDigests(res, 200, { sendValues: form.values, outcomes });
  });

  return router;
}
