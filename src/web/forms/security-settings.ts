import { z } from 'zod';
import type { SecuritySettings } from '../../data/security-settings';
import { ROLES } from '../../domain/roles';
import { type FieldErrors, fieldErrors, str, strings } from './fields';

/** A whole number typed in a field, within bounds, with the field's own message. */
const integer = (min: number, max: number, outOfBounds: string) =>
  z.string().trim()
    .regex(/^\d{1,6}$/, { error: 'Saisissez un nombre entier, sans espace ni virgule.' })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: outOfBounds });

const schema = z.object({
  minLength: integer(8, 64, 'La longueur minimale est comprise entre 8 et 64 caractères.'),
  maxLength: integer(8, 256, 'La longueur maximale est comprise entre 8 et 256 caractères.'),
  classes: integer(0, 4, 'Le nombre de types de caractères est compris entre 0 (aucune règle) et 4.'),
  history: integer(0, 24, "L'historique compte entre 0 (aucun) et 24 mots de passe."),
  maxAgeDays: integer(0, 3650, 'La durée de validité est comprise entre 0 (pas d’expiration) et 3 650 jours.'),
  lockoutThreshold: integer(3, 20, 'Le seuil de blocage est compris entre 3 et 20 échecs.'),
  lockoutMinutes: integer(0, 1440, 'La durée de blocage est comprise entre 0 (jusqu’au déblocage par un administrateur) et 1 440 minutes (24 heures).'),
  sessionIdleMinutes: integer(5, 480, "La durée d'inactivité est comprise entre 5 et 480 minutes (8 heures)."),
  totpRoles: z.array(z.enum(ROLES, { error: 'Choisissez des rôles dans la liste.' })),
  providerMfaRoles: z.array(z.enum(ROLES, { error: 'Choisissez des rôles dans la liste.' })),
  inactiveMonths: integer(1, 24, 'La durée est comprise entre 1 et 24 mois.'),
  auditRetentionMonths: integer(1, 120, 'La durée de conservation est comprise entre 1 et 120 mois (10 ans).'),
});

const NUMBER_FIELDS = [
  'minLength', 'maxLength', 'classes', 'history', 'maxAgeDays', 'lockoutThreshold', 'lockoutMinutes', 'sessionIdleMinutes', 'inactiveMonths', 'auditRetentionMonths',
] as const;

/** The form's fields as typed: one string per number, the boxes ticked. */
export type SecuritySettingsValues = Record<(typeof NUMBER_FIELDS)[number], string> & { totpRoles: string[]; providerMfaRoles: string[] };

/** The settings in force, as the form shows them. */
export function securitySettingsValues(s: SecuritySettings): SecuritySettingsValues {
  return {
    minLength: String(s.password.minLength), maxLength: String(s.password.maxLength), classes: String(s.password.classes),
    history: String(s.password.history), maxAgeDays: String(s.password.maxAgeDays), lockoutThreshold: String(s.lockoutThreshold),
    lockoutMinutes: String(s.lockoutMinutes), sessionIdleMinutes: String(s.sessionIdleMinutes), totpRoles: [...s.totpRoles], providerMfaRoles: [...s.providerMfaRoles],
    inactiveMonths: String(s.inactiveMonths), auditRetentionMonths: String(s.auditRetentionMonths),
  };
}

/**
 * Reads the security policy form (like parseForm, but the roles are a group of boxes: several values): the settings,
 * or one French message per field; the typed values either way.
 */
export function parseSecuritySettingsForm(body: unknown):
  | { ok: true; data: SecuritySettings; values: SecuritySettingsValues }
  | { ok: false; errors: FieldErrors; values: SecuritySettingsValues } {
  const source = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const values = { totpRoles: strings(source.totpRoles), providerMfaRoles: strings(source.providerMfaRoles) } as SecuritySettingsValues;
  for (const f of NUMBER_FIELDS) values[f] = str(source[f]);
  const parsed = schema.safeParse(values);
  const errors = parsed.success ? {} : fieldErrors(parsed.error);
  // the bounds compared with each other, reported even when another field is wrong
  const min = Number(values.minLength);
  const max = Number(values.maxLength);
  if (!errors.minLength && !errors.maxLength && max < min) {
    errors.maxLength = `La longueur maximale ne peut pas être inférieure à la longueur minimale (${min} caractères).`;
  }
  // a role outside the list is reported once, on the group of boxes
  for (const group of ['totpRoles', 'providerMfaRoles']) {
    for (const k of Object.keys(errors).filter((k) => k.startsWith(`${group}.`))) {
      errors[group] = errors[k]!;
      delete errors[k];
    }
  }
  if (!parsed.success || Object.keys(errors).length) return { ok: false, errors, values };
  const d = parsed.data;
  return {
    ok: true, values,
    data: {
      password: { minLength: d.minLength, maxLength: d.maxLength, classes: d.classes, history: d.history, maxAgeDays: d.maxAgeDays },
      lockoutThreshold: d.lockoutThreshold, lockoutMinutes: d.lockoutMinutes, sessionIdleMinutes: d.sessionIdleMinutes,
      // in the order of the list, each once
      totpRoles: ROLES.filter((r) => d.totpRoles.includes(r)),
      providerMfaRoles: ROLES.filter((r) => d.providerMfaRoles.includes(r)),
      inactiveMonths: d.inactiveMonths, auditRetentionMonths: d.auditRetentionMonths,
    },
  };
}
