import { z } from 'zod';
import { contrastRatio, HEX_COLOUR, type Identity, MIN_ACCENT_CONTRAST } from '../../domain/identity';
import { parseForm } from './fields';

const schema = z.object({
  nature: z.enum(['etat', 'autre'], { error: "Indiquez si votre organisation est un service de l'État." }),
  name: z.string().trim().min(1, { error: "Saisissez le nom de votre organisation, tel que vos agents le connaissent (par exemple « Métropole de Lyon »)." })
    .max(200, { error: '200 caractères au maximum.' }),
  accent: z.string().trim().toLowerCase()
    .refine((v) => v === '' || HEX_COLOUR.test(v), { error: 'Saisissez une couleur au format #rrvvbb (six chiffres hexadécimaux), par exemple #0b5563.', abort: true })
    .refine((v) => v === '' || contrastRatio(v, '#ffffff') >= MIN_ACCENT_CONTRAST, {
      error: 'Cette couleur est trop claire : le texte blanc des boutons et les liens sur fond blanc ne seraient pas assez lisibles. Choisissez une couleur plus foncée (contraste avec le blanc d’au moins 4,5 pour 1).',
    }),
  logoAlt: z.string().trim().max(200, { error: '200 caractères au maximum.' }),
  publisher: z.string().trim().max(300, { error: '300 caractères au maximum.' }),
  host: z.string().trim().max(1000, { error: '1 000 caractères au maximum.' }),
  removeLogo: z.string().optional(),
  version: z.string().regex(/^\d+$/, { error: 'Rechargez la page et recommencez.' }).transform(Number),
});

export type IdentityValues = { nature: string; name: string; accent: string; logoAlt: string; publisher: string; host: string; removeLogo: string; version: string };

export function identityValues(identity: Identity): IdentityValues {
  return { nature: identity.nature ?? '', name: identity.name, accent: identity.accent ?? '', logoAlt: identity.logoAlt, publisher: identity.publisher, host: identity.host, removeLogo: '', version: String(identity.version) };
}

export function parseIdentityForm(body: unknown) {
  return parseForm(schema, body);
}

/** The contrast of an accent with white, as the page explains it ("8,4 pour 1"). */
export function contrastLabel(accent: string): string {
  return `${contrastRatio(accent, '#ffffff').toFixed(1).replace('.', ',')} pour 1`;
}
