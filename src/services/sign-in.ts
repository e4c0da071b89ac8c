import type { Knex } from 'knex';
import type { ServiceDeps } from './deps';
import {
  attemptSucceeded, type Charge, chargeAttempt, consumeToken, credentialsOf, newSessionToken, newToken, peekToken,
  recordFailure, recordTotpStep, refundAttempt, remainingRecoveryCodes, sessionTokenOf, type TokenPurpose, unlockAttempt, useRecoveryCode,
} from '../data/accounts';
import { type AuditActor, recordAudit } from '../data/audit';
import { changePassword, passwordReused } from './accounts';
import { getSecuritySettings, type SecuritySettings } from '../data/security-settings';
import { hit, purgeThrottle, unhit } from '../data/throttle';
import { findCredentials, findCredentialsById, findUser, type User } from '../data/users';
import { type PasswordPolicy, passwordExpired, passwordProblem } from '../domain/password';
import { sha256, verifyTotp } from '../security/totp';
import { freezeNotifier, passwordLink } from './accounts';
import { askAccess, communeAcceptingRequests, identityUsed, linkedUserId, linkIdentity } from '../data/identities';
import type { OidcIdentity } from '../security/oidc';

/** Sign-in failures from one source, all accounts together (password spraying), per quarter of an hour. */
export const LOGIN_FAILURES_PER_SOURCE = 50;
/** Forgotten-password requests: per source per quarter of an hour (over it: 429), per address per hour (over it: no e-mail, same answer). */
export const RESET_PER_SOURCE = 10;
export const RESET_PER_ADDRESS = 3;
/** Links to one address per hour whatever the sources: a stranger asking from elsewhere spends its own share, not the owner's. */
export const RESET_PER_ADDRESS_ALL_SOURCES = 10;
/** Wrong second-factor codes accepted after signing in with an unlock link, as many as the link's password tries. */
export const UNLOCK_CODE_ATTEMPTS = 3;
/** How long a right password waits for its second factor. */
export const SECOND_FACTOR_WAIT_MS = 5 * 60_000;
const QUARTER_MS = 15 * 60_000;
const HOUR_MS = 3_600_000;
const ANONYMOUS = { id: null, name: 'Anonyme' };
const UNLOCKED = ' (avec le lien de déblocage)';

export type SignInDeps = ServiceDeps;

/** The one session of a user, opened (token drawn, sign-in audited); the web layer attaches it to the browser. */
export interface OpenedSession {
  user: User;
  sessionToken: string;
  /** The role requires a second factor the user has not enrolled yet: only that page is open. */
  mustEnrol: boolean;
  /** The password is older than the policy allows: only the change-password page is open. */
  mustChangePassword: boolean;
}

/** Right password and a second factor enrolled: the code is asked next, the session is not opened yet. */
export type SecondFactorAwaited = { kind: 'second_factor'; userId: number; unlock: boolean };
export type SignedIn = { kind: 'signed_in'; session: OpenedSession };

export type SignInResult =
  /** The source failed too often on any accounts: refused before anything else is looked at. */
  | { kind: 'too_many_failures' }
  /** Unknown address, source blocked or account frozen, wrong password, suspended: one answer, the reason only in the audit. */
  | { kind: 'refused' }
  | SecondFactorAwaited
  | SignedIn;

export type UnlockSignInResult =
  /** The link is unknown, expired, used, or has had its tries. */
  | { kind: 'link_unusable' }
  | { kind: 'password_missing' }
  | { kind: 'wrong_password' }
  | SecondFactorAwaited
  | SignedIn;

export type SecondFactorResult =
  /** The attempt is over: back to the sign-in page. */
  | { kind: 'refused' }
  /** Another code may be typed; `wrongCodes` is the count to keep for an unlock-link attempt. */
  | { kind: 'wrong_code'; wrongCodes: number | undefined }
  | SignedIn;

export type ResetRequestResult =
  | { kind: 'too_many_requests' }
  /** The same answer whether or not the address is known; `deliver` (if any) stores and sends the link, to call once the answer is sent. */
  | { kind: 'answered'; deliver: (() => void) | null };

export type ProviderSignInResult =
  | SignedIn
  /** Signed in at the provider without a second factor it vouches for: the local code is asked, as after a password. */
  | SecondFactorAwaited
  /** An unknown agent of a commune that lets its agents ask: the request waits for the commune's administrator. */
  | { kind: 'requested'; commune: string; fresh: boolean }
  | { kind: 'refused'; reason: 'unverified_email' | 'unknown' | 'suspended' | 'admin' | 'linked_elsewhere' | 'provider_mfa_required' };

export type SetPasswordResult = { kind: 'link_unusable' } | { kind: 'invalid'; problem: string } | { kind: 'done' };

/** The sign-in decision chain (frozen → password → suspended → second factor → session) and the one-time links. */
export function signInService(deps: SignInDeps) {
  const { db, passwords } = deps;
  // an unknown address is checked against this hash, made by the same hasher: the same work as a known one
  const decoyHash = passwords.hash('mot-de-passe-leurre-jamais-valide');

  const refused = (email: string, userId: number | null, why: string, at: Date) =>
    recordAudit(db, {
      actor: ANONYMOUS, at, action: 'login_failed', entityType: userId ? 'user' : 'session', entityId: userId, summary: `Échec de connexion pour ${email} (${why})`,
    });

  const failure = async (userId: number, settings: SecuritySettings, now: Date) => {
    const froze = await recordFailure(db, userId, settings, now, freezeNotifier(deps.mail, now));
    deps.wake?.();
    return froze;
  };

  /** The password (and second factor) are right: draws the token of the one session of this user and audits the sign-in. */
  const openSession = async (user: User, how: string, at: Date, options: { secondFactorVouched?: boolean; viaProvider?: boolean } = {}): Promise<SignedIn> => {
    const settings = await getSecuritySettings(db);
    const creds = (await credentialsOf(db, user.id))!;
    const sessionToken = await newSessionToken(db, user.id, at);
    const session = {
      user, sessionToken,
      // a second factor the identity provider vouched for stands for the local one: nothing to enrol
      mustEnrol: settings.totpRoles.includes(user.role) && !creds.totpSecret && !options.secondFactorVouched,
      // an expired password is changed at a password sign-in; through the provider, the password was not used
      mustChangePassword: !options.viaProvider && passwordExpired(creds.passwordChangedAt, at, settings.password),
    };
    await recordAudit(db, { actor: user, at, action: 'login', entityType: 'session', entityId: user.id, summary: `Connexion${how}` });
    return { kind: 'signed_in', session };
  };

  /** The password is right: the second factor if enrolled (the attempt is refunded, the code is charged next), else signed in. */
  const passwordRight = async (user: User, charge: Charge, unlock: boolean, now: Date): Promise<SecondFactorAwaited | SignedIn> => {
    const creds = (await credentialsOf(db, user.id))!;
    if (creds.totpSecret) {
      await refundAttempt(db, charge);
      return { kind: 'second_factor', userId: user.id, unlock };
    }
    await attemptSucceeded(db, user.id, charge.source);
    return openSession(user, unlock ? UNLOCKED : '', now);
  };

  const profileOf = ({ passwordHash: _h, ...profile }: User & { passwordHash: string }): User => profile;

  return {
    /** A sign-in with address and password (both present: the form checks that). */
    async signIn(input: { email: string; password: string; source: string; now: Date }): Promise<SignInResult> {
      const { email, password, source, now } = input;
      // A source that failed too often, on any accounts, is refused before anything else is looked at. The attempt is
      // counted first, in one atomic upsert, so requests sent in parallel get no more checks than the limit; a right
      // password gives it back (the limit counts failures).
      const sourceCounter = `login-ip:${source}`;
      if ((await hit(db, sourceCounter, QUARTER_MS, now)) > LOGIN_FAILURES_PER_SOURCE) return { kind: 'too_many_failures' };
      const user = await findCredentials(db, email);
      const ok = await passwords.verify(user?.passwordHash ?? (await decoyHash), password);
      if (!user) {
        await purgeThrottle(db, now);
        await refused(email, null, 'compte inconnu', now);
        return { kind: 'refused' };
      }
      const settings = await getSecuritySettings(db);
      const charged = await chargeAttempt(db, user.id, source, settings, now);
      if (!charged.ok) {
        const why = charged.why === 'source' ? `adresse ${source} bloquée pour ce compte après des échecs` : charged.why === 'hard' ? 'compte gelé pour toutes les adresses' : 'compte gelé';
        await refused(email, user.id, why, now);
        return { kind: 'refused' };
      }
      if (!ok) {
        await purgeThrottle(db, now);
        await failure(user.id, settings, now);
        await refused(email, user.id, 'mot de passe incorrect', now);
        return { kind: 'refused' };
      }
      if (!user.active) {
        await refused(email, user.id, 'compte suspendu', now);
        return { kind: 'refused' };
      }
      await unhit(db, sourceCounter);
      return passwordRight(profileOf(user), charged.charge, false, now);
    },

    /**
     * A sign-in through the identity provider (ProConnect), its answer already checked (state, nonce, PKCE, signature,
     * issuer, audience, expiry: security/oidc.ts). The identity (issuer, subject) finds its account; an identity not
     * linked yet is linked by its verified address to an existing account, never to an administrator's (a provider
     * account must not be enough to take the tool's administration); an unknown agent is refused, or asks for access
     * when a commune lets its agents ask (matched by SIRET or address domain). The second factor: vouched for by the
     * provider (an acr it lists, or an amr with mfa), else the local code as after a password, or refused for the roles
     * that must bring it from the provider.
     */
    async signInWithProvider(input: { identity: OidcIdentity; label: string; mfaAcr: readonly string[]; trustsEmail: boolean; now: Date }): Promise<ProviderSignInResult> {
      const { identity: id, label, now } = input;
      const who = `${id.email ?? 'adresse inconnue'}, sujet ${id.subject} chez ${id.issuer}`;
      const refuse = async (reason: Extract<ProviderSignInResult, { kind: 'refused' }>['reason'], userId: number | null, why: string) => {
        await recordAudit(db, { actor: ANONYMOUS, at: now, action: 'login_failed', entityType: userId ? 'user' : 'session', entityId: userId, summary: `Échec de connexion par ${label} (${who}) : ${why}` });
        return { kind: 'refused' as const, reason };
      };
      let userId = await linkedUserId(db, id.issuer, id.subject);
      if (userId === null) {
        const verified = id.emailVerified === true || (id.emailVerified === null && input.trustsEmail);
        if (!id.email || !verified) return refuse('unverified_email', null, 'adresse électronique non vérifiée par le fournisseur');
        const known = await findCredentials(db, id.email);
        if (!known) {
          const commune = await communeAcceptingRequests(db, { siret: id.siret, email: id.email });
          if (!commune) return refuse('unknown', null, 'aucun compte pour cette adresse');
          const fresh = await askAccess(db, { communeId: commune.id, issuer: id.issuer, subject: id.subject, email: id.email, name: id.name, siret: id.siret }, now);
          return { kind: 'requested', commune: commune.name, fresh };
        }
        if (known.role === 'admin') return refuse('admin', known.id, 'un compte administrateur ne se lie pas à un fournisseur d’identité');
        if (!known.active) return refuse('suspended', known.id, 'compte suspendu');
        const linked = await linkIdentity(db, known.id, id.issuer, id.subject, now);
        if (linked !== known.id) return refuse('linked_elsewhere', known.id, `le compte est déjà lié à une autre identité ${label}`);
        await recordAudit(db, { actor: profileOf(known), at: now, action: 'identity_link', entityType: 'user', entityId: known.id, summary: `Compte lié à son identité ${label} (${who})` });
        userId = known.id;
      }
      const user = await findUser(db, userId);
      if (!user || !user.active) return refuse('suspended', userId, 'compte suspendu ou supprimé');
      // an account made administrator after its link signs in by password and second factor too
      if (user.role === 'admin') return refuse('admin', user.id, 'un compte administrateur ne se connecte pas par un fournisseur d’identité');
      await identityUsed(db, id.issuer, id.subject, now);
      const settings = await getSecuritySettings(db);
      const vouched = id.amr.includes('mfa') || (id.acr !== null && input.mfaAcr.includes(id.acr));
      if (vouched) return openSession(user, ` par ${label}, double authentification attestée par le fournisseur (sujet ${id.subject}${id.acr ? `, acr ${id.acr}` : ''})`, now, { secondFactorVouched: true, viaProvider: true });
      if (settings.providerMfaRoles.includes(user.role)) return refuse('provider_mfa_required', user.id, `son rôle exige une double authentification attestée par ${label}`);
      const creds = (await credentialsOf(db, user.id))!;
      if (creds.totpSecret) return { kind: 'second_factor', userId: user.id, unlock: false };
      return openSession(user, ` par ${label} (sujet ${id.subject})`, now, { viaProvider: true });
    },

    /** The address an unlock link (e-mailed to the owner when the account froze) is for, while it may be used. */
    async unlockLink(token: string, now: Date): Promise<{ email: string } | null> {
      const found = await peekToken(db, token, now, ['unlock']);
      const user = found ? await findUser(db, found.userId) : undefined;
      return user ? { email: user.email } : null;
    },

    /** A sign-in with the unlock link: the account is the link's, freezes and source blocks do not apply, a few attempts only. */
    async signInWithUnlockLink(input: { token: string; password: string; source: string; now: Date }): Promise<UnlockSignInResult> {
      const { token, password, source, now } = input;
      const found = await peekToken(db, token, now, ['unlock']);
      const user = found ? await findCredentialsById(db, found.userId) : undefined;
      if (!user) return { kind: 'link_unusable' };
      if (!password) return { kind: 'password_missing' };
      if (!(await unlockAttempt(db, token, now))) return { kind: 'link_unusable' };
      const settings = await getSecuritySettings(db);
      // with the link, freezes and source blocks do not apply: the charge only records the attempt
      const charged = await chargeAttempt(db, user.id, source, settings, now, { unlock: true });
      if (!charged.ok) throw new Error('An unlock attempt is never refused by the charge');
      if (!(await passwords.verify(user.passwordHash, password)) || !user.active) {
        await failure(user.id, settings, now);
        await recordAudit(db, { actor: ANONYMOUS, at: now, action: 'login_failed', entityType: 'user', entityId: user.id, summary: `Échec de connexion pour ${user.email} (lien de déblocage, mot de passe incorrect)` });
        return { kind: 'wrong_password' };
      }
      if (!(await consumeToken(db, token, now, ['unlock']))) return { kind: 'link_unusable' };
      return passwordRight(profileOf(user), charged.charge, true, now);
    },

    /**
     * The second factor after a right password: a TOTP code, or a recovery code. A wrong one counts towards the
     * account's freeze; after an unlock link the freeze does not stop the code page, its own few tries do.
     */
    async secondFactor(input: { userId: number; code: string; source: string; now: Date; unlock: boolean; wrongCodes?: number; provider?: string }): Promise<SecondFactorResult> {
      const { userId, code, source, now, unlock } = input;
      const user = await findUser(db, userId);
      const creds = await credentialsOf(db, userId);
      const settings = await getSecuritySettings(db);
      const charged = user && creds && user.active ? await chargeAttempt(db, user.id, source, settings, now, { unlock }) : null;
      if (!user || !creds || !charged?.ok) return { kind: 'refused' };
      let how: string;
      const step = creds.totpSecret ? verifyTotp(creds.totpSecret, code, now, creds.totpLastStep) : null;
      if (step !== null && (await recordTotpStep(db, user.id, step))) how = ' (double authentification)';
      else if (code.length > 6 && (await useRecoveryCode(db, user.id, code, now))) {
        how = ` (code de secours ; il en reste ${await remainingRecoveryCodes(db, user.id)})`;
      } else {
        const froze = await failure(user.id, settings, now);
        await recordAudit(db, { actor: ANONYMOUS, at: now, action: 'login_failed', entityType: 'user', entityId: user.id, summary: `Code de double authentification refusé pour ${user.email}` });
        // After an unlock link the freeze does not stop the code page: its own few tries do (the link is spent).
        const wrongCodes = unlock ? (input.wrongCodes ?? 0) + 1 : input.wrongCodes;
        if (froze || (unlock && wrongCodes! >= UNLOCK_CODE_ATTEMPTS)) return { kind: 'refused' };
        return { kind: 'wrong_code', wrongCodes };
      }
      await attemptSucceeded(db, user.id, charged.charge.source);
      // after the identity provider (which vouched for no second factor): said so, and the password was not used
      if (input.provider) return openSession(user, ` par ${input.provider}${how}`, now, { viaProvider: true });
      return openSession(user, `${how}${unlock ? UNLOCKED : ''}`, now);
    },

    /**
     * A forgotten-password request. The same work whether or not the address has an account: the counters are
     * written, the account looked up and a link secret drawn either way; the link is stored and the message queued
     * only by `deliver`, which the caller runs once the answer is sent (so the answer's timing tells nothing). At most
     * RESET_PER_ADDRESS links per address and source per hour, RESET_PER_ADDRESS_ALL_SOURCES per address per hour
     * (beyond: the same answer, no e-mail), and RESET_PER_SOURCE requests per source per quarter of an hour (beyond:
     * refused). Counting per address and source keeps a stranger from spending the owner's links.
     */
    async requestPasswordReset(input: { email: string; source: string; now: Date }): Promise<ResetRequestResult> {
      const { email, source, now } = input;
      const address = sha256(email.toLowerCase());
      const { perSource, perAddress, perAddressSource } = await db.transaction(async (trx) => {
        await purgeThrottle(trx, now);
        const perAddressSource = await hit(trx, `reset-addr-ip:${address}:${source}`, HOUR_MS, now);
        return {
          perSource: await hit(trx, `reset-ip:${source}`, QUARTER_MS, now),
          perAddressSource,
          // only the requests within their source's share count towards the address's cap
          perAddress: perAddressSource <= RESET_PER_ADDRESS ? await hit(trx, `reset-addr:${address}`, HOUR_MS, now) : Infinity,
        };
      });
      if (perSource > RESET_PER_SOURCE) return { kind: 'too_many_requests' };
      const user = await findCredentials(db, email);
      // drawn whether or not the address is known: the answer costs the same
      const secret = newToken();
      if (!(deps.mail.smtpUrl && user && user.active && perAddressSource <= RESET_PER_ADDRESS && perAddress <= RESET_PER_ADDRESS_ALL_SOURCES)) {
        return { kind: 'answered', deliver: null };
      }
      let started = false;
      const deliver = () => {
        if (started) return;
        started = true;
        passwordLink(db, deps.mail, user, 'reset', { id: null, name: `${user.name} (mot de passe oublié)` }, now, secret)
          .then(() => deps.wake?.(), (e: unknown) => console.error('Lien de mot de passe oublié non envoyé', e));
      };
      return { kind: 'answered', deliver };
    },

    /** What the page of a set/reset link shows, while the link may be used. */
    async passwordLinkOf(token: string, now: Date): Promise<{ purpose: TokenPurpose; user: User | undefined; policy: PasswordPolicy } | null> {
      const found = await peekToken(db, token, now, ['set', 'reset']);
      if (!found) return null;
      const user = await findUser(db, found.userId);
      const settings = await getSecuritySettings(db);
      return { purpose: found.purpose, user, policy: settings.password };
    },

    /** A password chosen with a set/reset link: the policy, the confirmation and the history are checked, then the link is used. */
    async setPasswordWithLink(input: { token: string; password: string; confirm: string; now: Date }): Promise<SetPasswordResult> {
      const { token, password, confirm, now } = input;
      const found = await peekToken(db, token, now);
      if (!found) return { kind: 'link_unusable' };
      const user = (await findUser(db, found.userId))!;
      const settings = await getSecuritySettings(db);
      const problem = passwordProblem(password, { email: user.email, name: user.name }, settings.password)
        ?? (password !== confirm ? 'Les deux saisies ne sont pas identiques.' : null)
        ?? ((await passwordReused(db, passwords, user.id, password, settings.password.history)) ? `Choisissez un mot de passe différent de vos ${settings.password.history} précédents.` : null);
      if (problem) return { kind: 'invalid', problem };
      if (!(await consumeToken(db, token, now))) return { kind: 'link_unusable' };
      await changePassword(db, passwords, user.id, password, settings, { id: user.id, name: user.name, email: user.email }, now,
        found.purpose === 'set' ? 'Mot de passe choisi avec le lien de création du compte' : 'Mot de passe réinitialisé avec un lien envoyé par courriel');
      return { kind: 'done' };
    },
  };
}

export type SignInService = ReturnType<typeof signInService>;

/**
 * The user a stored session belongs to, while it is theirs: the account exists, is active, and the token is the one
 * of their latest sign-in (they signed in elsewhere, an admin reset them, they were removed: not a session any more).
 */
export async function sessionOwner(db: Knex, userId: number, token: string | null): Promise<User | null> {
  const [user, current] = await Promise.all([findUser(db, userId), sessionTokenOf(db, userId)]);
  if (!user || !user.active || !token || current !== token) return null;
  return user;
}

/**
 * Whether a session idle since `seenAt` (ms) is over, after the delay the admin sets (30 minutes by default), counted
 * on the app's clock; an ended session is audited here, the web layer then signs the browser out.
 */
export async function idleSessionEnded(db: Knex, user: AuditActor, seenAt: number | undefined, now: Date): Promise<boolean> {
  const { sessionIdleMinutes } = await getSecuritySettings(db);
  if (seenAt === undefined || now.getTime() - seenAt <= sessionIdleMinutes * 60_000) return false;
  await recordAudit(db, { actor: user, at: now, action: 'session_expired', entityType: 'session', entityId: user.id, summary: `Session fermée après ${sessionIdleMinutes} minutes d'inactivité` });
  return true;
}
