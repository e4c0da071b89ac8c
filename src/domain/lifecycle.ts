import { isLate } from './fiche';
import { type DecisionFacts, type HomologationState, OUTCOME_LABELS, stateOf } from './homologation';
import type { Status } from './statuses';

/** One step of the life cycle line shown on a homologation's page. */
export interface LifecycleStep { label: string; status: 'done' | 'current' | 'todo' }

const STEP_OF: Record<Exclude<HomologationState, 'archivee'>, number> = {
  preparation: 0, en_cours: 1, refusee: 2, en_vigueur: 3, expire_bientot: 4, expiree: 5,
};

/**
 * The life cycle as a line: en préparation → plan d'action en cours → décision → en vigueur → expire bientôt →
 * expirée, with the current step. An archived homologation stands where it stood when it was archived.
 */
export function lifecycleOf(
  facts: { archivedAt: string | null; ficheCount: number; decision: DecisionFacts | null }, today: string, reminderMonths: readonly number[],
): { steps: LifecycleStep[]; current: number; archived: boolean } {
  const underlying = stateOf({ ...facts, archivedAt: null }, today, reminderMonths) as Exclude<HomologationState, 'archivee'>;
  const current = STEP_OF[underlying];
  const labels = [
    'En préparation', "Plan d'action en cours", facts.decision ? `Décision : ${OUTCOME_LABELS[facts.decision.outcome].toLowerCase()}` : 'Décision',
    'En vigueur', 'Expire bientôt', 'Expirée',
  ];
  return {
    steps: labels.map((label, i) => ({ label, status: i < current ? 'done' : i === current ? 'current' : 'todo' })),
    current,
    archived: facts.archivedAt !== null,
  };
}

/** The title of the fiche that follows a condition: "Condition : " and the start of its text. */
export function conditionTitle(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return `Condition : ${flat}`;
  const cut = flat.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `Condition : ${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** The condition fiches that are late: not done and past their target date. */
export function lateConditions<T extends { status: Status; targetDate: string | null }>(fiches: readonly T[], today: string): T[] {
  return fiches.filter((f) => isLate(f, today));
}

/** The name a renewal is offered: "<title> — renouvellement <year>", within the 200 characters of a title. */
export function defaultRenewalTitle(title: string, today: string): string {
  const suffix = ` — renouvellement ${today.slice(0, 4)}`;
  return `${title.slice(0, 200 - suffix.length).trimEnd()}${suffix}`;
}
