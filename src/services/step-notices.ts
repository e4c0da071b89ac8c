import { addDays } from 'date-fns/addDays';
import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import { readIdentity } from '../data/identity';
import { enqueue } from '../data/outbox';
import { getMailSettings } from '../data/mail-settings';
import { stepsAssignedTo } from '../data/people';
import {
  claimDigest, claimLateReminder, claimNotice, createStepLink, digestsDue, lateStepsToRemind, type NoticeStep, stepsDueSoon, stepsNewlyLate, unannouncedAssignments,
} from '../data/step-notices';
import { type MailBrand, mailBrand } from '../domain/identity';
import { localDate } from '../domain/schedule';
import { STATUS_LABELS } from '../domain/statuses';
import { renderMail } from '../mail/render';

/** How many days before a step's date its responsible person is reminded. */
export const SOON_DAYS = 7;
/** How long the link of a person without an account stays valid. */
export const LINK_DAYS = 30;

const dmy = (d: string | null) => (d ? format(parseISO(d), 'dd/MM/yyyy') : null);

type Kind = 'assigned' | 'soon' | 'late';

const WORDING: Record<Kind, { heading: (s: NoticeStep) => string; intro: string; subject: (s: NoticeStep) => string }> = {
  assigned: {
    heading: () => 'Une action vous est confiée',
    intro: "Vous êtes désormais responsable de cette action du plan d'action de l'homologation.",
    subject: (s) => `Action confiée : ${s.label} — fiche n°${s.ficheNumber}, ${s.planTitle}`,
  },
  soon: {
    heading: (s) => `Votre action est attendue pour le ${dmy(s.due)}`,
    intro: `Cette action dont vous êtes responsable arrive à échéance dans ${SOON_DAYS} jours au plus.`,
    subject: (s) => `Échéance le ${dmy(s.due)} : ${s.label} — fiche n°${s.ficheNumber}`,
  },
  late: {
    heading: () => 'Votre action est en retard',
    intro: "La date de cette action dont vous êtes responsable est passée et elle n'est pas faite. Mettez-la à jour (faite, en cours ou bloquée, avec une note), ou accusez réception du retard dans « Mes actions » : sans cela, un rappel suivra.",
    subject: (s) => `En retard : ${s.label} — fiche n°${s.ficheNumber}, ${s.planTitle}`,
  },
};

async function noticeFor(trx: Knex, config: MailConfig, brand: MailBrand, kind: Kind, s: NoticeStep, today: string, now: Date) {
  // a person without an account gets a link for this step alone; an account, its "Mes actions"
  const token = s.personId !== null ? await createStepLink(trx, s.id, s.personId, now, LINK_DAYS) : null;
  const w = WORDING[kind];
  const { html, text } = await renderMail('step-notice', {
    organisation: s.organisation, planTitle: s.planTitle, heading: w.heading(s), intro: w.intro, late: kind === 'late',
    steps: [{ label: s.label, ficheNumber: s.ficheNumber, ficheTitle: s.ficheTitle, planTitle: s.planTitle, due: dmy(s.due), late: s.due !== null && s.due < today, status: STATUS_LABELS[s.status] }],
    actionUrl: token ? `${config.publicUrl}/action/${token}` : `${config.publicUrl}/mes-actions`,
    actionText: token ? "Déclarer l'action faite ou ajouter une note" : 'Voir mes actions',
    personLink: token !== null, linkExpires: dmy(format(addDays(now, LINK_DAYS), 'yyyy-MM-dd')),
    footer: "Message envoyé automatiquement par l'outil de suivi du plan d'action au responsable de l'action.",
  }, brand);
  return { kind: 'step' as const, toAddress: s.toAddress, toName: s.toName, subject: w.subject(s), text, html };
}

export interface StepNoticeScan { assigned: number; soon: number; late: number; reminded: number; digests: number }

/**
 * The notices of named people, each decided once through a guarded update of the step (so several schedulers send
 * nothing twice) and queued in the same transaction: an assignment (once per new responsible), seven days before a
 * step's date, and when that date passes (once per date: a new date, a new notice). Then the digests of their own
 * actions that accounts asked for.
 */
export async function scanStepNotices(db: Knex, config: MailConfig, now: Date): Promise<StepNoticeScan> {
  const today = localDate(now, config.timeZone);
  const until = format(addDays(parseISO(today), SOON_DAYS), 'yyyy-MM-dd');
  const scan: StepNoticeScan = { assigned: 0, soon: 0, late: 0, reminded: 0, digests: 0 };
  // the organisation's look, read once for the round rather than once per message
  const brand = mailBrand(await readIdentity(db));
  const send = async (kind: Kind, s: NoticeStep, column: 'assignment_notified' | 'soon_notified_for' | 'late_notified_for', value: string) =>
    db.transaction(async (trx) => {
      if (!(await claimNotice(trx, s.id, column, value, now))) return 0;
      const message = await noticeFor(trx, config, brand, kind, s, today, now);
      return enqueue(trx, [{ ...message, dedupKey: `step:${kind}:${s.id}:${value}` }], now);
    });
  for (const s of await unannouncedAssignments(db)) scan.assigned += await send('assigned', s, 'assignment_notified', s.assignee);
  for (const s of await stepsDueSoon(db, today, until)) scan.soon += await send('soon', s, 'soon_notified_for', s.due!);
  for (const s of await stepsNewlyLate(db, today)) scan.late += await send('late', s, 'late_notified_for', s.due!);
  // as a late fiche's alert: reminded after the alerts' delay until acknowledged (or the step updated, or given a new date)
  const { alertReminderDays } = await getMailSettings(db);
  for (const s of await lateStepsToRemind(db, today, new Date(now.getTime() - alertReminderDays * 86_400_000).toISOString())) {
    scan.reminded += await db.transaction(async (trx) => {
      if (!(await claimLateReminder(trx, s.id, s.reminders, now))) return 0;
      const message = await noticeFor(trx, config, brand, 'late', s, today, now);
      return enqueue(trx, [{ ...message, subject: `Rappel : ${message.subject}`, dedupKey: `step:late-reminder:${s.id}:${s.due}:${s.reminders + 1}` }], now);
    });
  }

  for (const user of await digestsDue(db, now)) {
    const steps = (await stepsAssignedTo(db, { userId: user.id }, { openOnly: true }))
      .map((s) => ({ ...s, late: s.due !== null && s.due < today }))
      .sort((a, b) => Number(b.late) - Number(a.late) || (a.due ?? '9999').localeCompare(b.due ?? '9999'));
    scan.digests += await db.transaction(async (trx) => {
      if (!(await claimDigest(trx, user.id, user.sentAt, now))) return 0;
      if (!steps.length) return 0;
      const late = steps.filter((s) => s.late).length;
      const { html, text } = await renderMail('step-notice', {
        organisation: '', planTitle: 'Mes actions', heading: `Vos actions : ${steps.length} à faire${late ? `, dont ${late} en retard` : ''}`,
        intro: user.choice === 'daily' ? 'Votre récapitulatif quotidien, les actions en retard d\u2019abord.' : 'Votre récapitulatif hebdomadaire, les actions en retard d\u2019abord.',
        late: late > 0,
        steps: steps.map((s) => ({ label: s.label, ficheNumber: s.ficheNumber, ficheTitle: s.ficheTitle, planTitle: s.planTitle, due: dmy(s.due), late: s.late, status: STATUS_LABELS[s.status] })),
        actionUrl: `${config.publicUrl}/mes-actions`, actionText: 'Voir mes actions', personLink: false, linkExpires: null,
        footer: "Récapitulatif envoyé à votre demande ; changez sa fréquence dans « Mes actions ».",
      }, brand);
      return enqueue(trx, [{
        kind: 'step', dedupKey: `step:digest:${user.id}:${now.toISOString().slice(0, 13)}`, toAddress: user.email, toName: user.name,
        subject: `Vos actions : ${steps.length} à faire${late ? `, dont ${late} en retard` : ''}`, text, html,
      }], now);
    });
  }
  return scan;
}
