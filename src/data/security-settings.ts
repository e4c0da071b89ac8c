import type { Knex } from 'knex';
import type { PasswordPolicy } from '../domain/password';
import { isRole, type Role } from '../domain/roles';
import type { AuditActor } from './audit';
import { auditedWrite } from './write';

export interface SecuritySettings {
  password: PasswordPolicy;
  /** Consecutive failed sign-ins that freeze an account. */
  lockoutThreshold: number;
  /** How long a frozen account stays frozen; 0: until an admin unfreezes it. */
  lockoutMinutes: number;
  sessionIdleMinutes: number;
  /** The roles that must sign in with a second factor. */
  totpRoles: Role[];
  /**
   * Among those, the roles whose second factor must come from the identity provider (ProConnect asserting a
   * multi-factor sign-in): signing in through the provider without it is refused, not completed with the local code.
   */
  providerMfaRoles: Role[];
  /** Supervision: active users who have not signed in for this long. */
  inactiveMonths: number;
  /** Security events (sign-ins, freezes…) older than this are purged. */
  auditRetentionMonths: number;
}

export async function getSecuritySettings(db: Knex): Promise<SecuritySettings> {
  const r = await db('security_settings').where('id', 1).first();
  return {
    password: {
      minLength: Number(r.password_min_length), maxLength: Number(r.password_max_length), classes: Number(r.password_classes),
      history: Number(r.password_history), maxAgeDays: Number(r.password_max_age_days),
    },
    lockoutThreshold: Number(r.lockout_threshold),
    lockoutMinutes: Number(r.lockout_minutes),
    sessionIdleMinutes: Number(r.session_idle_minutes),
    totpRoles: String(r.totp_roles).split(',').map((x) => x.trim()).filter(isRole),
    providerMfaRoles: String(r.provider_mfa_roles ?? '').split(',').map((x) => x.trim()).filter(isRole),
    inactiveMonths: Number(r.inactive_months),
    auditRetentionMonths: Number(r.audit_retention_months),
  };
}

export async function saveSecuritySettings(db: Knex, s: SecuritySettings, actor: AuditActor, at: Date): Promise<void> {
  await auditedWrite(db, { actor, at }, async (trx, audit) => {
    const before = await getSecuritySettings(trx);
    await trx('security_settings').where('id', 1).update({
      password_min_length: s.password.minLength, password_max_length: s.password.maxLength, password_classes: s.password.classes,
      password_history: s.password.history, password_max_age_days: s.password.maxAgeDays, lockout_threshold: s.lockoutThreshold,
      lockout_minutes: s.lockoutMinutes, session_idle_minutes: s.sessionIdleMinutes, totp_roles: s.totpRoles.join(','), provider_mfa_roles: s.providerMfaRoles.join(','),
      inactive_months: s.inactiveMonths, audit_retention_months: s.auditRetentionMonths, updated_at: at.toISOString(),
    });
    await audit({ action: 'update', entityType: 'security_settings', entityId: 1, summary: 'Politique de sécurité des comptes', before, after: s });
  });
}
