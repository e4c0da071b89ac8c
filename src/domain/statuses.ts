export const STATUSES = ['non_demarre', 'en_cours', 'bloque', 'fait'] as const;
export type Status = (typeof STATUSES)[number];

export const STATUS_LABELS: Record<Status, string> = {
  non_demarre: 'Non démarré',
  en_cours: 'En cours',
  bloque: 'Bloqué',
  fait: 'Fait',
};

/** DSFR badge variant for each status. */
export const STATUS_BADGES: Record<Status, string> = {
  non_demarre: 'fr-badge--info',
  en_cours: 'fr-badge--new',
  bloque: 'fr-badge--error',
  fait: 'fr-badge--success',
};

export const SIDE_EFFECT_LEVELS = ['fort', 'faible'] as const;
export type SideEffectLevel = (typeof SIDE_EFFECT_LEVELS)[number];
export const SIDE_EFFECT_LABELS: Record<SideEffectLevel, string> = { fort: 'Fort', faible: 'Faible' };

export const ENVIRONMENTS = ['prod', 'recette'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const ENVIRONMENT_LABELS: Record<Environment, string> = { prod: 'Production', recette: 'Recette' };

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value);
}
