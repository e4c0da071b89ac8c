import type { ServiceDeps } from './deps';
import {
  attemptSucceeded, chargeAttempt, credentialsOf, enrolTotp, recordFailure, recordTotpStep, remainingRecoveryCodes,
  renewRecoveryCodes,
} from '../data/accounts';
import { changePassword, passwordReused } from './accounts';
import { getSecuritySettings } from '../data/security-settings';
import { findUser, type User } from '../data/users';
import { type PasswordPolicy, passwordProblem } from '../domain/password';
import type { Actor } from '../domain/roles';
import { verifyTotp } from '../security/totp';
import { freezeNotifier } from './accounts';

export type AccountSecurityDeps = ServiceDeps;

/** The second factor of a signed-in user, as their account pages show it. */
export interface SecondFactorStatus {
  me: User;
  /** The role must sign in with a second factor. */
  required: boolean;
  recoveryLeft: number;
}

export type ChangePasswordResult =
  /** The attempt was refused unchecked: this source is blocked or the account frozen for it. */
  | { kind: 'too_many_attempts' }
  | { kind: 'invalid'; errors: { current?: string; password?: string } }
  | { kind: 'done' };

export type CodeCheckResult<Done> = { kind: 'too_many_attempts' } | { kind: 'wrong_code' } | Done;

/** The signed-in user's own secrets: their password, their second factor and its recovery codes. */
export function accountSecurityService(deps: AccountSecurityDeps) {
  const { db } = deps;

  /**
   * A signed-in user's secret (current password, second-factor code) is guessed under the same counters as
   * at sign-in: each attempt is charged to (account, source) before it is checked, refused once this source
   * is blocked or the account frozen for it; a wrong one counts towards the account's freeze; a right one clears.
   * `check` returns whether the secret is right; the result is null when the attempt was refused unchecked.
   */
  const guarded = async (userId: number, source: string, now: Date, check: () => Promise<boolean>): Promise<boolean | null> => {
    const settings = await getSecuritySettings(db);
    const charged = await chargeAttempt(db, userId, source, settings, now);
    if (!charged.ok) return null;
    if (await check()) {
      await attemptSucceeded(db, userId, source);
      return true;
    }
    await recordFailure(db, userId, settings, now, freezeNotifier(deps.mail, now));
    deps.wake?.();
    return false;
  };

  const status = async (userId: number): Promise<SecondFactorStatus> => {
    const me = (await findUser(db, userId))!;
    const settings = await getSecuritySettings(db);
    return { me, required: settings.totpRoles.includes(me.role), recoveryLeft: me.totpEnabled ? await remainingRecoveryCodes(db, me.id) : 0 };
  };

  return {
    secondFactorStatus: status,

    async passwordPolicy(): Promise<PasswordPolicy> {
      return (await getSecuritySettings(db)).password;
    },

    /** The current password (checked under the sign-in counters), then the new one against the policy, its confirmation and the history. */
    async changeOwnPassword(input: { me: Actor; current: string; password: string; confirm: string; source: string; now: Date }): Promise<ChangePasswordResult> {
      const { me, current, password, confirm, source, now } = input;
      const settings = await getSecuritySettings(db);
      const creds = (await credentialsOf(db, me.id))!;
      const errors: { current?: string; password?: string } = {};
      const right = await guarded(me.id, source, now, () => deps.passwords.verify(creds.passwordHash, current));
      if (right === null) return { kind: 'too_many_attempts' };
      if (!right) errors.current = 'Le mot de passe actuel est incorrect.';
      const problem = passwordProblem(password, { email: me.email, name: me.name }, settings.password)
        ?? (password !== confirm ? 'Les deux saisies ne sont pas identiques.' : null)
        ?? ((await passwordReused(db, deps.passwords, me.id, password, settings.password.history)) ? `Choisissez un mot de passe différent de vos ${settings.password.history} précédents.` : null);
      if (problem) errors.password = problem;
      if (Object.keys(errors).length) return { kind: 'invalid', errors };
      await changePassword(db, deps.passwords, me.id, password, settings, me, now, 'Mot de passe changé par son titulaire');
      return { kind: 'done' };
    },

    /** The first code of a new authenticator confirms its secret; the recovery codes are drawn then. */
    async confirmEnrolment(input: { actor: Actor; secret: string; code: string; source: string; now: Date }): Promise<CodeCheckResult<{ kind: 'enrolled'; codes: string[] }>> {
      const { actor, secret, code, source, now } = input;
      let step: number | null = null;
      const right = await guarded(actor.id, source, now, async () => (step = verifyTotp(secret, code, now, null)) !== null);
      if (right === null) return { kind: 'too_many_attempts' };
      if (!right || step === null) return { kind: 'wrong_code' };
      return { kind: 'enrolled', codes: await enrolTotp(db, actor.id, secret, step, actor, now) };
    },

    /** New recovery codes, for a current second-factor code (each code once). */
    async renewRecoveryCodes(input: { actor: Actor; code: string; source: string; now: Date }): Promise<CodeCheckResult<{ kind: 'renewed'; codes: string[] }>> {
      const { actor, code, source, now } = input;
      const creds = (await credentialsOf(db, actor.id))!;
      const right = await guarded(actor.id, source, now, async () => {
        const step = creds.totpSecret ? verifyTotp(creds.totpSecret, code, now, creds.totpLastStep) : null;
        return step !== null && (await recordTotpStep(db, actor.id, step));
      });
      if (right === null) return { kind: 'too_many_attempts' };
      if (!right) return { kind: 'wrong_code' };
      return { kind: 'renewed', codes: await renewRecoveryCodes(db, actor.id, actor, now) };
    },
  };
}
