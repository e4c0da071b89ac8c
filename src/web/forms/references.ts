import { z } from 'zod';
import { ENVIRONMENT_CODE } from '../../domain/statuses';
import { idString, isoDate, optionalText, requiredText } from './fields';

// The forms of the reference tables the administrator keeps (teams, communes, services, instances, environments,
// milestones). Every field arrives as a string; the schemas give the typed input of the table's repository.

/** A display order: a whole number, 0 when left empty. */
const displayOrder = z.string().trim().regex(/^\d{0,4}$/, { error: 'Saisissez un nombre entier.' }).transform((v) => Number(v || 0));

/** An optional choice in a list: null when left empty. */
const optionalId = (wrong: string) => z.string().regex(/^(\d{1,9})?$/, { error: wrong }).transform((v) => (v ? Number(v) : null));

export const teamForm = z.object({ name: requiredText(100, "Saisissez le nom de l'équipe."), description: optionalText(500) });

export const communeForm = z.object({
  name: requiredText(150, 'Saisissez le nom de la commune.'),
  inseeCode: z.string().trim().regex(/^(\d[\dAB]\d{3})?$/, { error: 'Le code INSEE compte 5 caractères (par exemple 69266 ou 2A004).' })
    .transform((v) => v || null),
  siret: z.string().transform((v) => v.replace(/\s/g, '')).pipe(z.string().regex(/^(\d{14})?$/, { error: 'Le SIRET compte 14 chiffres (par exemple 216 902 668 00013).' }))
    .transform((v) => v || null),
  agentDomain: z.string().trim().toLowerCase().transform((v) => v.replace(/^@/, ''))
    .pipe(z.string().regex(/^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+)?$/, { error: 'Saisissez un nom de domaine, par exemple mairie-villeurbanne.fr (sans @).' }))
    .transform((v) => v || null),
  accessRequests: z.string().transform((v) => v === 'on'),
});

export const serviceForm = z.object({
  name: requiredText(100, 'Saisissez le nom du service.'),
  description: optionalText(500),
  position: displayOrder,
});

export const instanceForm = z.object({
  name: requiredText(150, "Saisissez le nom de l'instance."),
  serviceId: idString('Choisissez le service.'),
  // the message names the organisation's environments (the route words it); whether the code is still in the list is
  // checked inside the save's transaction (repository guard)
  environment: z.string().trim().regex(ENVIRONMENT_CODE, { error: "Choisissez l'environnement dans la liste." }),
  teamId: idString("Choisissez l'équipe qui gère l'instance."),
  communeId: optionalId('Choisissez une commune dans la liste.'),
});

export const environmentForm = z.object({
  code: z.string().trim().min(1, { error: "Saisissez le code de l'environnement." })
    .regex(ENVIRONMENT_CODE, { error: 'Le code compte 10 caractères au plus : lettres minuscules sans accent, chiffres et tirets (par exemple preprod).' }),
  label: requiredText(60, "Saisissez le libellé de l'environnement."),
  position: displayOrder,
});

export const milestoneForm = z.object({
  title: requiredText(300, "Saisissez l'intitulé du jalon."),
  planId: idString("Choisissez l'homologation du jalon."),
  dueDate: isoDate('Saisissez la date du jalon.'),
  done: z.string().transform((v) => v === 'on'),
});
