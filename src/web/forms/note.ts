import { z } from 'zod';
import { STATUSES } from '../../domain/statuses';
import { isoDate, requiredText } from './fields';

/** A progress note on a fiche: what was done, when, and the fiche's status then (none: unchanged). */
export const noteForm = z.object({
  body: requiredText(5000, "Saisissez le point d'avancement."),
  notedOn: isoDate('Saisissez la date du point.'),
  status: z.union([z.literal(''), z.enum(STATUSES)], { error: 'Choisissez un avancement dans la liste.' }).transform((v) => (v === '' ? null : v)),
});
