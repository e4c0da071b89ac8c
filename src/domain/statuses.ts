import { frenchOrder } from './words';
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

/**
 * An environment is the code of a row of the organisation's list (table environments: production and
 * recette by default, then développement, préproduction, formation…); its label and order come from there.
 */
export type Environment = string;
/** An environment's code: lowercase letters, digits and dashes, 10 at most. */
export const ENVIRONMENT_CODE = /^[a-z0-9-]{1,10}$/;
export interface EnvironmentRef { code: Environment; label: string; position: number }

/** The label of a code in the organisation's list; the code itself when it is not (or no longer) there. */
export function environmentLabel(environments: readonly EnvironmentRef[], code: Environment): string {
  return environments.find((e) => e.code === code)?.label ?? code;
}

/** The environments of rows that carry their label and position (joined from the list), in the list's order. */
export function environmentsOf(rows: readonly { environment: Environment; environmentLabel: string; environmentPosition: number }[]): EnvironmentRef[] {
  const byCode = new Map(rows.map((r) => [r.environment, { code: r.environment, label: r.environmentLabel, position: r.environmentPosition }]));
  return [...byCode.values()].sort((a, b) => a.position - b.position || frenchOrder.compare(a.label, b.label));
}

/** The environments present among the codes given, in the list's order; unknown codes last, by code. */
export function presentEnvironments(environments: readonly EnvironmentRef[], codes: Iterable<Environment>): EnvironmentRef[] {
  const present = new Set(codes);
  const known = environments.filter((e) => present.has(e.code));
  const unknown = [...present].filter((c) => !environments.some((e) => e.code === c)).sort()
    .map((code) => ({ code, label: code, position: Number.MAX_SAFE_INTEGER }));
  return [...known, ...unknown];
}

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value);
}
