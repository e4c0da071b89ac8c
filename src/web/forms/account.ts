import { z } from 'zod';
import { ROLES } from '../../domain/roles';
import { emailAddress, requiredText } from './fields';

const optionalId = (wrong: string) => z.string().regex(/^(\d{1,9})?$/, { error: wrong }).transform((v) => (v ? Number(v) : null));

/** An account as a Métropole administrator sets it (/admin/utilisateurs). */
export const accountForm = z.object({
  name: requiredText(150, 'Saisissez le nom.'),
  email: emailAddress("Saisissez l'adresse électronique."),
  role: z.enum(ROLES, { error: 'Choisissez un rôle.' }),
  communeId: optionalId('Choisissez une commune dans la liste.'),
  teamId: optionalId('Choisissez une équipe dans la liste.'),
  active: z.string().transform((v) => v === 'on'),
});

/** A commune agent asked for by their commune's administrator: no role field, the commune role is the only one they give. */
export const communeAgentForm = z.object({
  name: requiredText(150, 'Saisissez le nom et le prénom.'),
  email: emailAddress("Saisissez l'adresse électronique."),
});
