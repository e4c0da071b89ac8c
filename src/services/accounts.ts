import { randomBytes } from 'node:crypto';
import { format } from 'date-fns/format';
import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import type { ServiceDeps } from './deps';
import {
  anonymizeUser, FROZEN_FOR_GOOD, freezeNoticeOf, issueToken, recentPasswordHashes, resetTotp, storePasswordHash, type TokenPurpose, unfreeze,
  unusablePasswordHash,
} from '../data/accounts';
import { type AuditActor, recordAudit } from '../data/audit';
import { enqueue } from '../data/outbox';
import { organisationName } from '../data/plans';
import { communes, teams } from '../data/referentials';
import { getSecuritySettings, type SecuritySettings } from '../data/security-settings';
import {
  activeAdminIds, createUser, endSessions, findCredentials, findUser, lastSuspender, setActive, updateUser, type User, type UserInput,
} from '../data/users';
import { auditedWrite } from '../data/write';
import { passwordProblem } from '../domain/password';
import { type Actor, isCommuneRole } from '../domain/roles';
import { localDate } from '../domain/schedule';
import { renderMail } from '../mail/render';
import { readIdentity } from '../data/identity';
import { mailBrand } from '../domain/identity';
import type { PasswordHasher } from '../security/passwords';
import { sha256 } from '../security/totp';

/**
 * One account life cycle: creating (by an administrator, a commune administrator or the command line), changing,
 * suspending, reactivating, removing (anonymising) an account, ending its sessions, resetting its second factor and
 * unfreezing it. The rules live here, checked in the transaction of the write they guard: never zero active
 * administrators, and a commune administrator acts on their own commune's agents only, within the commune role.
 */

/** The service's dependencies; `mail` is needed only by the paths that send a one-time link (not by the command line's creation). */
export type AccountDeps = Omit<ServiceDeps, 'mail'> & Partial<Pick<ServiceDeps, 'mail'>>;

/** An account's fields, as an administrator sets them. */
export type AccountInput = Required<UserInput>;

/** Why an administrator's account form is refused, field by field (the route words them). */
export interface AccountProblems {
  communeId?: 'missing' | 'gone';
  teamId?: 'commune_agent' | 'gone';
  role?: 'last_admin';
}

export type AccountSaved =
  | { ok: true; id: number }
  | { ok: false; reason: 'invalid'; problems: AccountProblems }
  | { ok: false; reason: 'duplicate' }
  | { ok: false; reason: 'not_found' };

/** A new account and the one-time link its owner sets a password with: e-mailed (`emailed`), else to show once. */
export type AccountCreated = { ok: true; id: number; link: string; emailed: boolean } | Exclude<AccountSaved, { ok: true } | { reason: 'not_found' }>;

export type RemovalRefusal = 'self' | 'last_admin';
export type AccountSuspended = { ok: true } | { ok: false; reason: 'not_found' | 'self' | 'last_admin' | 'unchanged' };
export type AccountRemoved = { ok: true } | { ok: false; reason: RemovalRefusal | 'not_found' };

/** A commune administrator's act on an account: refused when it is not one of their commune's agents. */
export type CommuneAgentChange = { ok: true } | { ok: false; reason: 'not_found' | 'forbidden' | 'suspended_by_metropole' };

export type CreatedWithPassword =
  | { ok: true; id: number }
  | { ok: false; reason: 'weak_password'; problem: string }
  | Exclude<AccountSaved, { ok: true } | { reason: 'not_found' }>;

/** Whether this account is an active administrator and no other one is left; in a transaction, the administrators stay locked. */
async function lastActiveAdmin(db: Knex, user: Pick<User, 'id' | 'role' | 'active'>, lock: boolean): Promise<boolean> {
  if (user.role !== 'admin' || !user.active) return false;
  return (await activeAdminIds(db, { lock })).every((id) => id === user.id);
}

/** The rules of an account's fields that need no other account: a commune agent has a commune and no Métropole team. */
async function fieldProblems(db: Knex, input: Pick<AccountInput, 'role' | 'communeId' | 'teamId'>): Promise<AccountProblems> {
  const problems: AccountProblems = {};
  if (isCommuneRole(input.role) && input.communeId === null) problems.communeId = 'missing';
  if (input.communeId !== null && !(await communes.get(db, input.communeId))) problems.communeId = 'gone';
  if (input.teamId !== null && isCommuneRole(input.role)) problems.teamId = 'commune_agent';
  else if (input.teamId !== null && !(await teams.get(db, input.teamId))) problems.teamId = 'gone';
  return problems;
}

const hasProblems = (p: AccountProblems) => Object.keys(p).length > 0;

/** A commune chosen for a Métropole role would mean nothing: it is not kept. */
const normalised = (input: AccountInput): AccountInput => ({ ...input, communeId: isCommuneRole(input.role) ? input.communeId : null });

/** Whether a commune administrator may act on this account: an agent of their commune, with the commune role, not themself. */
const managedBy = (me: Actor, user: Pick<User, 'id' | 'role' | 'communeId'>) =>
  me.role === 'commune_admin' && me.communeId !== null && user.communeId === me.communeId && user.role === 'commune' && user.id !== me.id;

/** A commune administrator's view of an account: theirs to manage, or why not. */
async function communeAgentOf(db: Knex, me: Actor, id: number): Promise<{ ok: true; user: User } | { ok: false; reason: 'not_found' | 'forbidden' }> {
  if (me.communeId === null) return { ok: false, reason: 'forbidden' };
  const user = await findUser(db, id);
  if (!user || user.anonymizedAt) return { ok: false, reason: 'not_found' };
  return managedBy(me, user) ? { ok: true, user } : { ok: false, reason: 'forbidden' };
}

export function accountService(deps: AccountDeps) {
  const { db } = deps;
  const mailOf = (): MailConfig => {
    if (!deps.mail) throw new Error('accountService: a one-time link needs the mail configuration');
    return deps.mail;
  };

  /** An account with no usable password, and its one-time link, in one transaction. */
  const createWithLink = async (actor: Actor, input: UserInput, at: Date) =>
    db.transaction(async (trx) => {
      const created = await createUser(trx, { ...input, passwordHash: unusablePasswordHash() }, actor, at);
      if (!created.ok) return created;
      const { link, emailed } = await passwordLink(trx, mailOf(), { id: created.id, email: input.email, name: input.name }, 'set', actor, at);
      return { ok: true as const, id: created.id, link, emailed };
    });

  /**
   * Someone asked for an account with an address that already has one: nothing is created or changed,
   * the attempt is audited and the owner is told by e-mail (at most once a day for each commune).
   */
  const tellExistingOwner = async (email: string, communeId: number, me: Actor, at: Date) => {
    const owner = await findCredentials(db, email);
    if (!owner) return;
    const mail = mailOf();
    const commune = (await communes.get(db, communeId))?.name ?? `n°${communeId}`;
    await auditedWrite(db, { actor: me, at }, async (trx, audit) => {
      const organisation = await organisationName(trx);
      const subject = 'Sécurité : une création de compte a été demandée avec votre adresse';
      const { html, text } = await renderMail('account-exists', {
        subject, organisation, name: owner.name, email: owner.email, commune, requester: me.name, at: format(at, "dd/MM/yyyy 'à' HH:mm"),
        link: `${mail.publicUrl}/connexion`,
      }, mailBrand(await readIdentity(trx)));
      await enqueue(trx, [{
        kind: 'security', dedupKey: `account-exists:${owner.id}:${communeId}:${localDate(at, mail.timeZone)}`, communeId,
        toAddress: owner.email, toName: owner.name, subject, text, html,
      }], at);
      await audit({
        action: 'duplicate_account', entityType: 'user', entityId: owner.id,
        summary: `Création d'un compte avec l'adresse ${owner.email} demandée par l'administrateur de la commune de ${commune} : adresse déjà inscrite, aucun compte créé, titulaire averti par courriel`,
      });
    });
  };

  /** A commune administrator's write on one of their agents, the check made in the write's transaction. */
  const onCommuneAgent = (me: Actor, id: number, work: (trx: Knex, user: User) => Promise<CommuneAgentChange | void>) =>
    db.transaction(async (trx): Promise<CommuneAgentChange> => {
      const found = await communeAgentOf(trx, me, id);
      if (!found.ok) return found;
      return (await work(trx, found.user)) ?? { ok: true };
    });

  return {
    // ---- the Métropole's administrators ----

    /** A new account without a password: its owner chooses one through a one-time link. */
    async create(actor: Actor, input: AccountInput, at: Date): Promise<AccountCreated> {
      const problems = await fieldProblems(db, input);
      if (hasProblems(problems)) return { ok: false, reason: 'invalid', problems };
      const r = await createWithLink(actor, normalised(input), at);
      if (r.ok) deps.wake?.();
      return r;
    },

    /**
     * Changes an account. Refused when it would leave no active administrator (checked with the administrators
     * locked, in the write's transaction); a suspended account's sessions end with the change.
     */
    async update(actor: Actor, id: number, input: AccountInput, at: Date): Promise<AccountSaved> {
      return db.transaction(async (trx): Promise<AccountSaved> => {
        const before = await findUser(trx, id);
        if (!before || before.anonymizedAt) return { ok: false, reason: 'not_found' };
        const problems = await fieldProblems(trx, input);
        const stillAdmin = input.role === 'admin' && input.active;
        if (!stillAdmin && (await lastActiveAdmin(trx, before, true))) problems.role = 'last_admin';
        if (hasProblems(problems)) return { ok: false, reason: 'invalid', problems };
        const r = await updateUser(trx, id, normalised(input), actor, at);
        if (!r.ok) return r;
        if (!input.active) await endSessions(trx, id);
        return { ok: true, id };
      });
    },

    /**
     * Suspends an active account (supervision's button): it can no longer sign in and its sessions end. Never one's own
     * account, never the last active administrator (checked with the administrators locked).
     */
    async suspend(actor: Actor, id: number, at: Date): Promise<AccountSuspended> {
      return auditedWrite(db, { actor, at }, async (trx, audit): Promise<AccountSuspended> => {
        const user = await findUser(trx, id);
        if (!user) return { ok: false, reason: 'not_found' };
        if (actor.id === id) return { ok: false, reason: 'self' };
        if (!user.active || user.anonymizedAt) return { ok: false, reason: 'unchanged' };
        if (await lastActiveAdmin(trx, user, true)) return { ok: false, reason: 'last_admin' };
        await setActive(trx, id, false);
        await endSessions(trx, id);
        await audit({
          action: 'suspend', entityType: 'user', entityId: id,
          summary: `Compte suspendu : ${user.email} (dernière connexion : ${user.lastLoginAt ? user.lastLoginAt.slice(0, 10) : 'jamais'})`,
          before: { active: true }, after: { active: false },
        });
        return { ok: true };
      });
    },

    /** Why an account cannot be removed now, if it cannot (what the confirmation page says before anyone confirms). */
    async removalProblem(actor: Actor, user: User): Promise<RemovalRefusal | null> {
      if (user.id === actor.id) return 'self';
      return (await lastActiveAdmin(db, user, false)) ? 'last_admin' : null;
    },

    /** Removes an account: its personal data are anonymised. Never one's own, never the last active administrator. */
    async remove(actor: Actor, id: number, at: Date): Promise<AccountRemoved> {
      return db.transaction(async (trx): Promise<AccountRemoved> => {
        const user = await findUser(trx, id);
        if (!user || user.anonymizedAt) return { ok: false, reason: 'not_found' };
        if (user.id === actor.id) return { ok: false, reason: 'self' };
        if (await lastActiveAdmin(trx, user, true)) return { ok: false, reason: 'last_admin' };
        await anonymizeUser(trx, id, actor, at);
        return { ok: true };
      });
    },

    /** A fresh one-time link (the former ones stop working): to set a first password, or to reset one. */
    async sendPasswordLink(actor: Actor, user: Pick<User, 'id' | 'email' | 'name' | 'passwordChangedAt'>, at: Date) {
      const purpose = user.passwordChangedAt ? 'reset' as const : 'set' as const;
      const r = await passwordLink(db, mailOf(), user, purpose, actor, at);
      deps.wake?.();
      return { ...r, purpose };
    },

    /** A lost second factor: removed, with the account's sessions; the owner enrols again at next sign-in if required. */
    async resetSecondFactor(actor: Actor, id: number, at: Date): Promise<void> {
      await resetTotp(db, id, actor, at);
    },

    /** A frozen account unfrozen by an administrator (account page or supervision); 'unchanged' when it was not frozen. */
    unfreeze: (actor: Actor, id: number, at: Date) => unfreeze(db, id, actor, at),

    // ---- a commune's administrator, on the agents of their commune ----

    /** The account, if it is one of this commune administrator's agents. */
    communeAgent: (me: Actor, id: number) => communeAgentOf(db, me, id),

    /**
     * A new agent of the commune administrator's commune, always with the commune role. Whether an address already has
     * an account is not a commune's business: the answer is the same (with a link that will never work when there is no
     * SMTP server), nothing is created, and the owner is the one told. Returns the link to show once, if any.
     */
    async createCommuneAgent(me: Actor, input: { name: string; email: string }, at: Date): Promise<{ ok: true; link: string | null } | { ok: false; reason: 'forbidden' }> {
      const communeId = me.communeId;
      if (me.role !== 'commune_admin' || communeId === null) return { ok: false, reason: 'forbidden' };
      const mail = mailOf();
      const r = await createWithLink(me, { ...input, role: 'commune', communeId, active: true, teamId: null }, at);
      if (!r.ok) {
        await tellExistingOwner(input.email, communeId, me, at);
        deps.wake?.();
        return { ok: true, link: mail.smtpUrl ? null : `${mail.publicUrl}/mot-de-passe/${randomBytes(32).toString('base64url')}` };
      }
      deps.wake?.();
      return { ok: true, link: r.emailed ? null : r.link };
    },

    /**
     * Suspends an agent: they can no longer sign in, and their sessions end. An agent already suspended stays as they
     * are, with no new audit row: suspending again would make the commune the last suspender, and so let it lift a
     * suspension that was the Métropole's.
     */
    suspendCommuneAgent: (me: Actor, id: number, at: Date) =>
      onCommuneAgent(me, id, async (trx, user) => {
        if (!user.active) return;
        await setActive(trx, id, false);
        await endSessions(trx, id);
        await recordAudit(trx, { actor: me, at, action: 'suspend', entityType: 'user', entityId: id, summary: `${user.email} suspendu par l'administrateur de sa commune` });
      }),

    /** Reactivates an agent, unless the suspension was the Métropole's (supervision, administration): not the commune's to lift. */
    reactivateCommuneAgent: (me: Actor, id: number, at: Date) =>
      onCommuneAgent(me, id, async (trx, user) => {
        if (!user.active) {
          const suspender = await lastSuspender(trx, id);
          if (!suspender || suspender.communeId !== user.communeId || !isCommuneRole(suspender.role)) return { ok: false, reason: 'suspended_by_metropole' };
        }
        await setActive(trx, id, true);
        await recordAudit(trx, { actor: me, at, action: 'update', entityType: 'user', entityId: id, summary: `${user.email} réactivé par l'administrateur de sa commune` });
      }),

    /** Removes an agent: their personal data are anonymised. */
    removeCommuneAgent: (me: Actor, id: number, at: Date) =>
      onCommuneAgent(me, id, async (trx) => {
        await anonymizeUser(trx, id, me, at);
      }),

    // ---- the command line ----

    /** An account with a password typed by whoever runs the command (the first administrator of an installation). */
    async createWithPassword(actor: AuditActor, input: Omit<AccountInput, 'teamId' | 'active'>, password: string, at: Date): Promise<CreatedWithPassword> {
      const { password: policy } = await getSecuritySettings(db);
      const problem = passwordProblem(password, { email: input.email, name: input.name }, policy);
      if (problem) return { ok: false, reason: 'weak_password', problem };
      const full: AccountInput = { ...input, active: true, teamId: null };
      const problems = await fieldProblems(db, full);
      if (hasProblems(problems)) return { ok: false, reason: 'invalid', problems };
      return createUser(db, { ...normalised(full), passwordHash: await deps.passwords.hash(password) }, actor, at);
    },
  };
}

export type AccountService = ReturnType<typeof accountService>;

/** Whether the password is the current one or one of the last `history` ones. */
export async function passwordReused(db: Knex, passwords: PasswordHasher, userId: number, password: string, history: number): Promise<boolean> {
  for (const hash of await recentPasswordHashes(db, userId, history)) if (await passwords.verify(hash, password)) return true;
  return false;
}

/** Sets a new password (its hash is stored, the previous one kept in the history) and unfreezes the account. */
export async function changePassword(
  db: Knex, passwords: PasswordHasher, userId: number, password: string, settings: SecuritySettings, actor: AuditActor, at: Date, summary: string,
): Promise<void> {
  await storePasswordHash(db, userId, await passwords.hash(password), Math.max(settings.password.history, 1), actor, at, summary);
}

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
      const { html, text } = await renderMail('account-link', { subject, organisation, name: user.name, email: user.email, purpose, link }, mailBrand(await readIdentity(trx)));
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
    const { user, admins } = await freezeNoticeOf(trx, userId);
    const organisation = await organisationName(trx);
    const brand = mailBrand(await readIdentity(trx));
    const until = user.frozenUntil === FROZEN_FOR_GOOD ? "jusqu'à son déblocage par un administrateur" : `jusqu'au ${format(new Date(user.frozenUntil), "dd/MM/yyyy 'à' HH:mm")}`;
    const subject = `Sécurité : compte ${user.email} gelé`;
    const { html, text } = await renderMail('account-frozen', {
      subject, organisation, account: `${user.name} <${user.email}>`, at: format(at, "dd/MM/yyyy 'à' HH:mm"), failures: user.failedLogins, until,
      link: `${mail.publicUrl}/admin/supervision`,
    }, brand);
    await enqueue(trx, admins.map((a) => ({
      kind: 'security' as const, dedupKey: `freeze:${userId}:${user.frozenUntil}:${a.id}`, toAddress: a.email, toName: a.name, subject, text, html,
    })), at);
    if (!mail.smtpUrl || !user.active) return;
    const token = await issueToken(trx, userId, 'unlock', at);
    const ownerSubject = 'Sécurité : votre compte a été gelé après des échecs de connexion';
    const owner = await renderMail('account-unlock', {
      subject: ownerSubject, organisation, name: user.name, email: user.email, at: format(at, "dd/MM/yyyy 'à' HH:mm"), failures: user.failedLogins,
      link: `${mail.publicUrl}/connexion?deblocage=${token}`,
    }, brand);
    await enqueue(trx, [{ kind: 'account', dedupKey: `unlock:${sha256(token).slice(0, 32)}`, toAddress: user.email, toName: user.name, subject: ownerSubject, text: owner.text, html: owner.html }], at);
  };
}
