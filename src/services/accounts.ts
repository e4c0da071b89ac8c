import { format } from 'date-fns';
import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import { FROZEN_FOR_GOOD, issueToken, type TokenPurpose } from '../data/accounts';
import { type AuditActor, recordAudit } from '../data/audit';
import { enqueue } from '../data/outbox';
import { organisationName } from '../data/plans';
import { renderMail } from '../mail/render';
import { sha256 } from '../security/totp';

/**
 * A one-time link to set (new account) or reset (forgotten) a password. With an SMTP server it goes by
 * e-mail through the outbox; without one, it is returned to be shown once to the admin who created the
 * account (never stored in clear: only its hash is kept).
 */
export async function passwordLink(
  db: Knex, mail: MailConfig, user: { id: number; email: string; name: string }, purpose: Exclude<TokenPurpose, 'unlock'>, actor: AuditActor, at: Date,
  secret?: string,
): Promise<{ link: string; emailed: boolean }> {
  const token = await issueToken(db, user.id, purpose, at, secret);
  const link = `${mail.publicUrl}/mot-de-passe/${token}`;
  const emailed = Boolean(mail.smtpUrl);
  await db.transaction(async (trx) => {
    if (emailed) {
      const organisation = await organisationName(trx);
      const subject = purpose === 'set' ? "Votre compte sur l'outil de suivi du plan d'action RGS" : 'Réinitialisation de votre mot de passe';
      const { html, text } = await renderMail('account-link', { subject, organisation, name: user.name, email: user.email, purpose, link });
      await enqueue(trx, [{ kind: 'account', dedupKey: `account:${sha256(token).slice(0, 32)}`, toAddress: user.email, toName: user.name, subject, text, html }], at);
    }
    await recordAudit(trx, {
      actor, at, action: 'password_link', entityType: 'user', entityId: user.id,
      summary: `Lien ${purpose === 'set' ? 'de création' : 'de réinitialisation'} du mot de passe ${emailed ? 'envoyé par courriel' : "affiché à l'administrateur"}`,
    });
  });
  return { link, emailed };
}

/**
 * Tells every active admin that an account was frozen, and its owner how to get in anyway: a one-time
 * unlock link (24 hours, a few password attempts) with which they sign in despite the freeze (called
 * inside the freezing transaction; the owner's message needs an SMTP server).
 */
export function freezeNotifier(mail: MailConfig, at: Date) {
  return async (trx: Knex, userId: number) => {
    const user = await trx('users').where('id', userId).select('email', 'name', 'failed_logins', 'frozen_until', 'active').first();
    const admins = await trx('users').where({ role: 'admin', active: true }).whereNull('anonymized_at').select('id', 'email', 'name');
    const organisation = await organisationName(trx);
    const until = user.frozen_until === FROZEN_FOR_GOOD ? "jusqu'à son déblocage par un administrateur" : `jusqu'au ${format(new Date(user.frozen_until), "dd/MM/yyyy 'à' HH:mm")}`;
    const subject = `Sécurité : compte ${user.email} gelé`;
    const { html, text } = await renderMail('account-frozen', {
      subject, organisation, account: `${user.name} <${user.email}>`, at: format(at, "dd/MM/yyyy 'à' HH:mm"), failures: user.failed_logins, until,
      link: `${mail.publicUrl}/admin/supervision`,
    });
    await enqueue(trx, admins.map((a: { id: number; email: string; name: string }) => ({
      kind: 'security' as const, dedupKey: `freeze:${userId}:${user.frozen_until}:${a.id}`, toAddress: a.email, toName: a.name, subject, text, html,
    })), at);
    if (!mail.smtpUrl || !user.active) return;
    const token = await issueToken(trx, userId, 'unlock', at);
    const ownerSubject = 'Sécurité : votre compte a été gelé après des échecs de connexion';
    const owner = await renderMail('account-unlock', {
      subject: ownerSubject, organisation, name: user.name, email: user.email, at: format(at, "dd/MM/yyyy 'à' HH:mm"), failures: user.failed_logins,
      link: `${mail.publicUrl}/connexion?deblocage=${token}`,
    });
    await enqueue(trx, [{ kind: 'account', dedupKey: `unlock:${sha256(token).slice(0, 32)}`, toAddress: user.email, toName: user.name, subject: ownerSubject, text: owner.text, html: owner.html }], at);
  };
}
