import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { newRecoveryCodes, normaliseRecoveryCode, sha256 } from '../security/totp';
import { auditedWrite } from './write';
import { uploadsBy } from './evidence';
import { type AuditActor, recordAudit } from './audit';
import type { SecuritySettings } from './security-settings';

/** What sign-in needs beyond the profile: secrets stay out of `User`. */
export interface Credentials {
  id: number;
  passwordHash: string;
  failedLogins: number;
  frozenUntil: string | null;
  passwordChangedAt: string | null;
  totpSecret: string | null;
  totpLastStep: number | null;
  sessionToken: string | null;
}

/** "Until an admin unfreezes it". */
export const FROZEN_FOR_GOOD = '9999-12-31T23:59:59.999Z';

export async function credentialsOf(db: Knex, id: number): Promise<Credentials | undefined> {
  const r = await db('users').where('id', id).first();
  if (!r) return undefined;
  return {
    id: Number(r.id), passwordHash: String(r.password_hash), failedLogins: Number(r.failed_logins ?? 0), frozenUntil: r.frozen_until ?? null,
    passwordChangedAt: r.password_changed_at ?? null, totpSecret: r.totp_enabled_at ? r.totp_secret : null,
    totpLastStep: r.totp_last_step === null || r.totp_last_step === undefined ? null : Number(r.totp_last_step), sessionToken: r.session_token ?? null,
  };
}

export const isFrozen = (c: Pick<Credentials, 'frozenUntil'>, now: Date) => c.frozenUntil !== null && c.frozenUntil > now.toISOString();

/** A password hash no password matches: an account waiting for its owner to set one. */
export const unusablePasswordHash = () => `!${randomBytes(24).toString('base64url')}`;

/** A source's block, and an account's freeze, never last longer than this (except "until an admin unfreezes"). */
export const MAX_FREEZE_MS = 24 * 3_600_000;
/** Failures across all sources during a freeze past which the freeze applies to every source: a distributed guesser. */
export const hardFreezeAt = (s: Pick<SecuritySettings, 'lockoutThreshold'>) => 2 * s.lockoutThreshold;
/** A source's failures on an account are forgotten a day after its last one (unless the account is still frozen). */
const SOURCE_MEMORY_MS = 24 * 3_600_000;

/** 15, 30, 60… minutes: the n-th freeze (from 1) lasts twice the one before, up to a day; 0 minutes: until an admin unfreezes. */
function growingDelay(minutes: number, n: number, now: Date): string {
  if (!minutes) return FROZEN_FOR_GOOD;
  const ms = Math.min(minutes * 60_000 * 2 ** Math.min(Math.max(n - 1, 0), 20), MAX_FREEZE_MS);
  return new Date(now.getTime() + ms).toISOString();
}

/** Why an attempt was refused before its secret was checked. */
export type Refusal = 'source' | 'frozen' | 'hard';
/** An attempt charged to (account, source), to refund if its secret proves right but the sign-in goes on (second factor). */
export interface Charge { userId: number; source: string; setBlock: boolean; previousBlock: string | null }

/**
 * Charges one attempt at an account's secret (password, second-factor code) from a network source, before
 * the secret is checked: concurrent attempts each get their own number, so a burst from one source cannot
 * slip past the limit. Refused, without being charged, when:
 * - this source is blocked for this account (after each `lockoutThreshold` failures from it; 15, 30, 60… minutes);
 * - the account is frozen and this source has failed on it (the guesser, whatever the password), or the
 *   freeze has become general (`hardFreezeAt` failures across sources: a distributed guesser).
 * A source that never failed on a (softly) frozen account still gets in: the owner elsewhere. The owner's
 * unlock link (`unlock`) passes both.
 */
export async function chargeAttempt(
  db: Knex, userId: number, source: string, settings: SecuritySettings, now: Date, opts: { unlock?: boolean } = {},
): Promise<{ ok: true; charge: Charge } | { ok: false; why: Refusal }> {
  return db.transaction(async (trx) => {
    const at = now.toISOString();
    // a write first: on SQLite the transaction holds the write lock from here; on PostgreSQL the row exists to be locked
    await trx('login_sources').insert({ user_id: userId, source, failures: 0 }).onConflict(['user_id', 'source']).ignore();
    const row = await trx('login_sources').where({ user_id: userId, source }).forUpdate().first();
    const user = await trx('users').where('id', userId).select('failed_logins', 'frozen_until').forUpdate().first();
    const frozen = Boolean(user?.frozen_until && user.frozen_until > at);
    // forgotten a day after its last failure, unless the account is still frozen (until an admin unfreezes it)
    const forgotten = !row.last_failure_at || (!frozen && row.last_failure_at <= new Date(now.getTime() - SOURCE_MEMORY_MS).toISOString());
    const failures = forgotten ? 0 : Number(row.failures);
    const blocked: string | null = forgotten ? null : (row.blocked_until ?? null);
    if (!opts.unlock) {
      if (blocked && blocked > at) return { ok: false as const, why: 'source' as const };
      if (frozen) {
        if (Number(user.failed_logins) >= hardFreezeAt(settings)) return { ok: false as const, why: 'hard' as const };
        if (failures > 0) return { ok: false as const, why: 'frozen' as const };
      }
    }
    const n = failures + 1;
    const setBlock = n % settings.lockoutThreshold === 0;
    // the block starts as the threshold-th attempt is charged; if that attempt proves right, success lifts it
    const blockedUntil = setBlock ? growingDelay(settings.lockoutMinutes || 15, n / settings.lockoutThreshold, now) : blocked;
    await trx('login_sources').where({ user_id: userId, source }).update({ failures: n, last_failure_at: at, blocked_until: blockedUntil });
    return { ok: true as const, charge: { userId, source, setBlock, previousBlock: blocked } };
  });
}

/**
 * Deletes what chargeAttempt would forget anyway: sources whose last failure is older than a day, on accounts
 * that are not frozen now. Returns how many rows went.
 */
export async function purgeLoginSources(db: Knex, now: Date): Promise<number> {
  const at = now.toISOString();
  return db('login_sources')
    .where((w) => w.whereNull('last_failure_at').orWhere('last_failure_at', '<=', new Date(now.getTime() - SOURCE_MEMORY_MS).toISOString()))
    .whereNotIn('user_id', db('users').select('id').where('frozen_until', '>', at))
    .delete();
}

/** The password was right and the second factor comes next: that attempt was no failure. */
export async function refundAttempt(db: Knex, charge: Charge): Promise<void> {
  const q = db('login_sources').where({ user_id: charge.userId, source: charge.source }).where('failures', '>', 0);
  await q.update({ failures: db.raw('failures - 1'), ...(charge.setBlock ? { blocked_until: charge.previousBlock } : {}) });
}

/** A full success (signed in, or a signed-in user's secret proven): this source and the account start afresh. */
export async function attemptSucceeded(db: Knex, userId: number, source: string): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('login_sources').where({ user_id: userId, source }).delete();
    await trx('users').where('id', userId).update({ failed_logins: 0 });
  });
}

/**
 * Counts a failed attempt on the account (all sources together); at the threshold, freezes the account
 * (15 minutes by default, doubling for each freeze of the last 24 hours, up to a day; or until an admin
 * unfreezes it), audits the freeze and tells every active admin — and the owner, with an unlock link —
 * through the outbox. A freeze that has lapsed starts a new count. Returns whether it froze now.
 */
export async function recordFailure(
  db: Knex, userId: number, settings: SecuritySettings, now: Date, notify: (trx: Knex, userId: number) => Promise<void>,
): Promise<boolean> {
  return db.transaction(async (trx) => {
    const at = now.toISOString();
    await trx('users').where('id', userId).update({
      failed_logins: trx.raw('case when frozen_until is not null and frozen_until <= ? then 1 else failed_logins + 1 end', [at]),
      frozen_until: trx.raw('case when frozen_until is not null and frozen_until <= ? then null else frozen_until end', [at]),
    });
    const row = await trx('users').where('id', userId).select('failed_logins', 'frozen_until', 'email', 'name').first();
    const failures = Number(row.failed_logins);
    if (row.frozen_until && row.frozen_until > at) {
      if (failures === hardFreezeAt(settings)) {
        await recordAudit(trx, {
          actor: { id: null, name: 'Contrôle des connexions' }, at: now, action: 'freeze_all', entityType: 'user', entityId: userId,
          summary: `Compte ${row.email} : ${failures} échecs depuis plusieurs adresses, le gel s'applique désormais à toutes les adresses (seul le lien de déblocage envoyé au titulaire permet d'entrer)`,
          after: { frozenUntil: row.frozen_until, failedLogins: failures, allSources: true },
        });
      }
      return false;
    }
    if (failures < settings.lockoutThreshold) return false;
    const earlier = await trx('audit_log').where({ action: 'freeze', entity_type: 'user', entity_id: userId })
      .where('at', '>', new Date(now.getTime() - MAX_FREEZE_MS).toISOString()).count({ n: '*' }).first();
    const until = growingDelay(settings.lockoutMinutes, Number(earlier?.n ?? 0) + 1, now);
    await trx('users').where('id', userId).update({ frozen_until: until });
    await recordAudit(trx, {
      actor: { id: null, name: 'Contrôle des connexions' }, at: now, action: 'freeze', entityType: 'user', entityId: userId,
      summary: `Compte ${row.email} gelé après ${failures} échecs de connexion consécutifs${until === FROZEN_FOR_GOOD ? ", jusqu'à déblocage par un administrateur" : ` jusqu'au ${until}`}`,
      after: { frozenUntil: until, failedLogins: failures },
    });
    await notify(trx, userId);
    return true;
  });
}

/** What the freeze notice says: the frozen account, and the active administrators it goes to. */
export async function freezeNoticeOf(db: Knex, userId: number) {
  const user = await db('users').where('id', userId).select('email', 'name', 'failed_logins', 'frozen_until', 'active').first();
  const admins: { id: number; email: string; name: string }[] = await db('users').where({ role: 'admin', active: true }).whereNull('anonymized_at').select('id', 'email', 'name');
  return {
    user: { email: String(user.email), name: String(user.name), failedLogins: Number(user.failed_logins), frozenUntil: String(user.frozen_until), active: Boolean(user.active) },
    admins,
  };
}

/** A new sign-in: the only session that counts from now on is the one holding this token. */
export async function newSessionToken(db: Knex, userId: number, at: Date): Promise<string> {
  const token = randomBytes(24).toString('base64url');
  await db('users').where('id', userId).update({ session_token: token, last_login_at: at.toISOString(), failed_logins: 0 });
  return token;
}

export async function sessionTokenOf(db: Knex, userId: number): Promise<string | null> {
  return (await db('users').where('id', userId).select('session_token').first())?.session_token ?? null;
}

// ---- passwords ----

/** The account's current password hash, then its last `history` ones, newest first (hashes only: checking is the service's). */
export async function recentPasswordHashes(db: Knex, userId: number, history: number): Promise<string[]> {
  if (history <= 0) return [];
  const current = await db('users').where('id', userId).select('password_hash').first();
  const past = await db('password_history').where('user_id', userId).orderBy('id', 'desc').limit(history).select('password_hash');
  return [current?.password_hash, ...past.map((p: { password_hash: string }) => p.password_hash)].filter((h): h is string => Boolean(h));
}

/** Stores a new password hash, keeping the previous one in the history (the last `keep`), and unfreezes the account; audited. */
export async function storePasswordHash(db: Knex, userId: number, hash: string, keep: number, actor: AuditActor, at: Date, summary: string): Promise<void> {
  await db.transaction(async (trx) => {
    const previous = await trx('users').where('id', userId).select('password_hash').first();
    if (previous?.password_hash && !String(previous.password_hash).startsWith('!')) {
      await trx('password_history').insert({ user_id: userId, password_hash: previous.password_hash, created_at: at.toISOString() });
    }
    const old = await trx('password_history').where('user_id', userId).orderBy('id', 'desc').offset(keep).select('id');
    if (old.length) await trx('password_history').whereIn('id', old.map((o: { id: number }) => o.id)).delete();
    await trx('users').where('id', userId).update({ password_hash: hash, password_changed_at: at.toISOString(), failed_logins: 0, frozen_until: null });
    await recordAudit(trx, { actor, at, action: 'password_change', entityType: 'user', entityId: userId, summary });
  });
}

// ---- one-time links ----

/** set: a new account's password; reset: a forgotten one; unlock: sign in despite a freeze (sent to the owner). */
export type TokenPurpose = 'set' | 'reset' | 'unlock';
export const TOKEN_LIFETIME_MS: Record<TokenPurpose, number> = { set: 72 * 3_600_000, reset: 3_600_000, unlock: MAX_FREEZE_MS };
/** Password attempts an unlock link allows before it stops working. */
export const UNLOCK_ATTEMPTS = 3;

/** A new one-time link secret (not stored: only its SHA-256 is). */
export const newToken = () => randomBytes(32).toString('base64url');

/** A new one-time link secret for a user; earlier unused links of the same purpose stop working. */
export async function issueToken(db: Knex, userId: number, purpose: TokenPurpose, at: Date, token = newToken()): Promise<string> {
  await db.transaction(async (trx) => {
    await trx('auth_tokens').where({ user_id: userId, purpose }).whereNull('used_at').update({ used_at: at.toISOString() });
    await trx('auth_tokens').insert({
      user_id: userId, purpose, token_hash: sha256(token), expires_at: new Date(at.getTime() + TOKEN_LIFETIME_MS[purpose]).toISOString(), created_at: at.toISOString(),
    });
  });
  return token;
}

/** The user a still-valid link of one of these purposes belongs to, without using it. */
export async function peekToken(
  db: Knex, token: string, at: Date, purposes: TokenPurpose[] = ['set', 'reset'],
): Promise<{ userId: number; purpose: TokenPurpose } | undefined> {
  const row = await db('auth_tokens').where('token_hash', sha256(token)).whereIn('purpose', purposes).whereNull('used_at').where('expires_at', '>', at.toISOString()).first();
  return row ? { userId: Number(row.user_id), purpose: row.purpose } : undefined;
}

/** Counts one password attempt made with an unlock link; false once the link has had its attempts (it is then used up). */
export async function unlockAttempt(db: Knex, token: string, at: Date): Promise<boolean> {
  const n = await db('auth_tokens').where({ token_hash: sha256(token), purpose: 'unlock' }).whereNull('used_at').where('expires_at', '>', at.toISOString())
    .where('attempts', '<', UNLOCK_ATTEMPTS).increment('attempts', 1);
  if (n === 1) return true;
  await db('auth_tokens').where({ token_hash: sha256(token), purpose: 'unlock' }).whereNull('used_at').update({ used_at: at.toISOString() });
  return false;
}

/** Uses a link once: a second use, or a use after expiry, finds nothing. */
export async function consumeToken(
  db: Knex, token: string, at: Date, purposes: TokenPurpose[] = ['set', 'reset'],
): Promise<{ userId: number; purpose: TokenPurpose } | undefined> {
  const found = await peekToken(db, token, at, purposes);
  if (!found) return undefined;
  const n = await db('auth_tokens').where('token_hash', sha256(token)).whereNull('used_at').update({ used_at: at.toISOString() });
  return n === 1 ? found : undefined;
}

// ---- second factor ----

export async function enrolTotp(db: Knex, userId: number, secret: string, step: number, actor: AuditActor, at: Date): Promise<string[]> {
  const codes = newRecoveryCodes();
  await db.transaction(async (trx) => {
    await trx('users').where('id', userId).update({ totp_secret: secret, totp_enabled_at: at.toISOString(), totp_last_step: step });
    await trx('recovery_codes').where('user_id', userId).delete();
    await trx('recovery_codes').insert(codes.map((c) => ({ user_id: userId, code_hash: sha256(normaliseRecoveryCode(c)), created_at: at.toISOString() })));
    await recordAudit(trx, { actor, at, action: 'totp_enrolled', entityType: 'user', entityId: userId, summary: 'Double authentification activée' });
  });
  return codes;
}

/** New recovery codes; the old ones stop working. */
export async function renewRecoveryCodes(db: Knex, userId: number, actor: AuditActor, at: Date): Promise<string[]> {
  const codes = newRecoveryCodes();
  await db.transaction(async (trx) => {
    await trx('recovery_codes').where('user_id', userId).delete();
    await trx('recovery_codes').insert(codes.map((c) => ({ user_id: userId, code_hash: sha256(normaliseRecoveryCode(c)), created_at: at.toISOString() })));
    await recordAudit(trx, { actor, at, action: 'update', entityType: 'user', entityId: userId, summary: 'Nouveaux codes de secours' });
  });
  return codes;
}

export async function recordTotpStep(db: Knex, userId: number, step: number): Promise<boolean> {
  const n = await db('users').where('id', userId).where((q) => q.whereNull('totp_last_step').orWhere('totp_last_step', '<', step)).update({ totp_last_step: step });
  return n === 1;
}

/** Uses a recovery code once. */
export async function useRecoveryCode(db: Knex, userId: number, code: string, at: Date): Promise<boolean> {
  const n = await db('recovery_codes').where({ user_id: userId, code_hash: sha256(normaliseRecoveryCode(code)) }).whereNull('used_at').update({ used_at: at.toISOString() });
  return n === 1;
}

export async function remainingRecoveryCodes(db: Knex, userId: number): Promise<number> {
  return Number((await db('recovery_codes').where('user_id', userId).whereNull('used_at').count({ n: '*' }).first())?.n ?? 0);
}

/** An admin's reset of a user's second factor (lost phone): audited; the user enrols again at next sign-in if required. */
export async function resetTotp(db: Knex, userId: number, actor: AuditActor, at: Date): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('users').where('id', userId).update({ totp_secret: null, totp_enabled_at: null, totp_last_step: null, session_token: null });
    await trx('recovery_codes').where('user_id', userId).delete();
    const u = await trx('users').where('id', userId).select('email').first();
    await recordAudit(trx, { actor, at, action: 'totp_reset', entityType: 'user', entityId: userId, summary: `Double authentification réinitialisée pour ${u?.email ?? userId}` });
  });
}

/** Unfreezes an account: its failed sign-ins and blocked sources are forgotten, audited; an account not frozen is left as it is. */
export async function unfreeze(db: Knex, userId: number, actor: AuditActor, at: Date): Promise<{ ok: true } | { ok: false; reason: 'not_found' | 'unchanged' }> {
  return auditedWrite(db, { actor, at }, async (trx, audit) => {
    const row = await trx('users').select('email', 'frozen_until', 'failed_logins').where('id', userId).first();
    if (!row) return { ok: false as const, reason: 'not_found' as const };
    if (!row.frozen_until && !Number(row.failed_logins)) return { ok: false as const, reason: 'unchanged' as const };
    await trx('users').where('id', userId).update({ frozen_until: null, failed_logins: 0 });
    await trx('login_sources').where('user_id', userId).delete();
    await audit({
      action: 'unfreeze', entityType: 'user', entityId: userId, summary: `Compte débloqué : ${row.email}`,
      before: { frozenUntil: row.frozen_until, failedLogins: Number(row.failed_logins) }, after: { frozenUntil: null, failedLogins: 0 },
    });
    return { ok: true as const };
  });
}

// ---- personal data ----

/** The label that replaces a removed user's name everywhere. */
export const anonymousName = (id: number) => `Utilisateur supprimé n°${id}`;

/**
 * Removes a user's personal data while what they did stays readable: the account row keeps its id
 * (so notes, decisions and audit entries still point to it) with name and address replaced, its
 * secrets, team, sessions and links deleted; the audit trail's author labels and the meeting attendee
 * lists are rewritten with "Utilisateur supprimé n°12".
 */
export async function anonymizeUser(db: Knex, userId: number, actor: AuditActor, at: Date): Promise<boolean> {
  return db.transaction(async (trx) => {
    const user = await trx('users').where('id', userId).whereNull('anonymized_at').first();
    if (!user) return false;
    const label = anonymousName(userId);
    await trx('users').where('id', userId).update({
      name: label, email: `supprime-${userId}@invalid`, active: false, password_hash: unusablePasswordHash(), session_token: null,
      totp_secret: null, totp_enabled_at: null, totp_last_step: null, frozen_until: null, failed_logins: 0, anonymized_at: at.toISOString(),
    });
    await trx('team_members').where('user_id', userId).delete();
    await trx('recovery_codes').where('user_id', userId).delete();
    await trx('auth_tokens').where('user_id', userId).delete();
    await trx('login_sources').where('user_id', userId).delete();
    await trx('password_history').where('user_id', userId).delete();
    // the identity provider's subject designates the person too: the link goes, and their access requests
    await trx('user_identities').where('user_id', userId).delete();
    await trx('access_requests').where('email', String(user.email)).delete();
    await trx('meeting_attendees').where('user_id', userId).update({ name: label });
    await trx('audit_log').where('user_id', userId).update({ actor: label });
    // snapshots in the audit trail (the account's own, meeting attendee lists…) and held agendas name them too
    const email = String(user.email);
    const name = String(user.name);
    const scrub = (text: string | null) => (text === null ? null : text.split(email).join(`supprime-${userId}@invalid`).split(name).join(label));
    const mentions = (q: Knex.QueryBuilder, columns: string[]) => q.where((w) => {
      for (const c of columns) w.orWhere(c, 'like', `%${email}%`).orWhere(c, 'like', `%${name}%`);
    });
    for (const a of await mentions(trx('audit_log'), ['before', 'after', 'summary']).select('id', 'before', 'after', 'summary')) {
      await trx('audit_log').where('id', a.id).update({ before: scrub(a.before), after: scrub(a.after), summary: scrub(a.summary) ?? '' });
    }
    for (const m of await mentions(trx('meetings'), ['snapshot']).select('id', 'snapshot')) {
      await trx('meetings').where('id', m.id).update({ snapshot: scrub(m.snapshot) });
    }
    await recordAudit(trx, { actor, at, action: 'anonymize', entityType: 'user', entityId: userId, summary: `${label} : données personnelles anonymisées` });
    // sessions hold the user's id only; the cleared session token already ends them
    return true;
  });
}

/** Everything the app holds about a user, for their own download (RGPD right of access). */
export async function personalData(db: Knex, userId: number) {
  const user = await db('users').leftJoin('communes', 'communes.id', 'users.commune_id').where('users.id', userId)
    .select('users.id', 'users.email', 'users.name', 'users.role', 'communes.name as commune', 'users.active', 'users.created_at', 'users.last_login_at',
      'users.password_changed_at', 'users.totp_enabled_at', 'users.failed_logins', 'users.frozen_until').first();
  const [teams, notes, audit, attendances, decisions, alerts] = await Promise.all([
    db('team_members').join('teams', 'teams.id', 'team_members.team_id').where('team_members.user_id', userId).select('teams.name'),
    db('progress_notes').join('fiches', 'fiches.id', 'progress_notes.fiche_id').where('progress_notes.author_id', userId)
      .select('fiches.number as fiche', 'progress_notes.noted_on', 'progress_notes.body', 'progress_notes.created_at').orderBy('progress_notes.id'),
    db('audit_log').where('user_id', userId).select('at', 'action', 'entity_type', 'entity_id', 'summary').orderBy('id'),
    db('meeting_attendees').join('meetings', 'meetings.id', 'meeting_attendees.meeting_id').where('meeting_attendees.user_id', userId)
      .select('meetings.title', 'meetings.starts_at', 'meeting_attendees.name', 'meeting_attendees.organisation'),
    db('meeting_decisions').where('author_id', userId).select('text', 'created_at'),
    db('alerts').where('acknowledged_by', userId).select('id', 'acknowledged_at'),
  ]);
  return {
    generatedBy: "Plan d'action RGS — vos données personnelles",
    account: user,
    teams: teams.map((t: { name: string }) => t.name),
    progressNotes: notes,
    meetingsAttended: attendances,
    decisionsWritten: decisions,
    alertsAcknowledged: alerts,
    // the evidence files they added (each version), by title, file name and date: the files themselves are the homologation's
    evidenceUploaded: await uploadsBy(db, userId),
    // the identity provider's identifier for them (ProConnect), when their account is linked to one
    identityProviders: await db('user_identities').where('user_id', userId).select('issuer', 'subject', 'created_at as linked_at', 'last_used_at').orderBy('id'),
    auditTrail: audit,
    notKept: 'Mot de passe : seule une empreinte argon2id est conservée, jamais le mot de passe. Secret de double authentification et codes de secours : non exportés (ce sont des secrets).',
  };
}
