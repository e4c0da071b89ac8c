import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import {
  closeEarlierReminders, closeStaleReminders, createReminder, type DecisionToRemind, decisionsToRemind, teamRecipients,
} from '../data/expiry-reminders';
import { reminderMonths } from '../data/homologations';
import { enqueue, type NewMessage } from '../data/outbox';
import { daysLeft, reminderDate, validityPhrase } from '../domain/homologation';
import { localDate } from '../domain/schedule';
import { renderMail } from '../mail/render';
import { readIdentity } from '../data/identity';
import { mailBrand } from '../domain/identity';

const dmy = (d: string) => format(parseISO(d), 'dd/MM/yyyy');

/** "Homologation « Portail » : expire dans 90 jours (le 12/06/2027)", "… : expire aujourd'hui (le …)", "… : expirée depuis 3 jours (fin de validité le …)". */
export function expirySubject(title: string, endsOn: string, today: string): string {
  const when = daysLeft(endsOn, today) >= 0 ? `le ${dmy(endsOn)}` : `fin de validité le ${dmy(endsOn)}`;
  return `Homologation « ${title} » : ${validityPhrase(endsOn, today)} (${when})`;
}

/** The e-mails of one reminder: one per member of the project team, and one to the authority who signed. */
async function reminderMessages(db: Knex, config: MailConfig, d: DecisionToRemind, reminderId: number, today: string): Promise<NewMessage[]> {
  const team = await teamRecipients(db, d.planId);
  const homUrl = `${config.publicUrl}/homologations/${d.planId}`;
  const left = daysLeft(d.endsOn, today);
  const { html, text } = await renderMail('expiry', {
    organisation: d.organisation,
    planTitle: "Échéance d'une homologation",
    title: d.planTitle,
    decidedOn: dmy(d.decidedOn),
    endsOn: dmy(d.endsOn),
    daysLeft: left,
    phrase: validityPhrase(d.endsOn, today),
    authority: d.authority,
    homUrl,
    ackUrl: `${homUrl}/rappels/${reminderId}`,
  }, mailBrand(await readIdentity(db)));
  const subject = expirySubject(d.planTitle, d.endsOn, today);
  const messages: NewMessage[] = team.map((u) => ({
    kind: 'expiry', dedupKey: `expiry:${reminderId}:${u.userId}`, expiryReminderId: reminderId, toAddress: u.email, toName: u.name, subject, text, html,
  }));
  const authority = d.authorityEmail;
  if (authority && !team.some((u) => u.email.toLowerCase() === authority.toLowerCase())) {
    messages.push({
      kind: 'expiry', dedupKey: `expiry:${reminderId}:${authority.toLowerCase()}`, expiryReminderId: reminderId,
      toAddress: authority, toName: d.authority || authority, subject, text, html,
    });
  }
  return messages;
}

export interface ExpiryScan {
  /** Reminders e-mailed. */
  sent: number;
  /** Earlier thresholds recorded without e-mail, because a more recent one was due at the same time. */
  skipped: number;
  /** Open reminders closed: homologation archived, renewal decided, decision replaced. */
  closed: number;
}

/**
 * Reminds the project team and the authority of each homologation in force that its decision comes to an end, at
 * each threshold the admin set (by default 6, 3 and 1 month before the end date, and the day itself), once per
 * threshold. When several thresholds are due at once (a decision recorded late), only the most recent is sent; the
 * earlier ones are recorded closed, as are those falling on or before the decision date (a decision shorter than
 * the thresholds). Reminders stop when the renewal is decided or the homologation archived.
 * Every write is conditional (unique decision and threshold, unique e-mail key), so two servers send nothing twice.
 */
export async function scanExpiryReminders(db: Knex, config: MailConfig, now: Date): Promise<ExpiryScan> {
  const result: ExpiryScan = { sent: 0, skipped: 0, closed: 0 };
  const today = localDate(now, config.timeZone);
  result.closed = await closeStaleReminders(db, now);
  const months = await reminderMonths(db);
  const earliest = Math.max(...months);
  const decisions = await decisionsToRemind(db, (endsOn) => reminderDate(endsOn, earliest) <= today);
  for (const d of decisions) {
    const due = months.filter((m) => reminderDate(d.endsOn, m) <= today);
    const missing = due.filter((m) => !d.recorded.includes(m));
    if (!missing.length) continue;
    // the most recent threshold due is sent, unless a more recent one already was, or it fell on or before the
    // decision itself (a short decision: the team has just been told its end date)
    const latest = Math.min(...due);
    const send = d.recorded.every((m) => m > latest) && reminderDate(d.endsOn, latest) > d.decidedOn ? latest : null;
    await db.transaction(async (trx) => {
      // a renewal decided or an archive since the list was read: nothing to send (the next scan closes what is open)
      if (!(await decisionsToRemind(trx, () => true, d.signatureId)).length) return;
      for (const m of missing) {
        const id = await createReminder(trx, { planId: d.planId, signatureId: d.signatureId, monthsBefore: m, endsOn: d.endsOn }, now, m !== send);
        if (id === null) continue;
        if (m !== send) {
          result.skipped++;
          continue;
        }
        await enqueue(trx, await reminderMessages(trx, config, d, id, today), now);
        await closeEarlierReminders(trx, d.signatureId, m, now);
        result.sent++;
      }
    });
  }
  return result;
}
