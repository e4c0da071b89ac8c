import { createHash } from 'node:crypto';
import type { SideEffectLevel, Status } from './statuses';
import { de, frenchCollator, plural } from './words';

/**
 * What a commune answers for its own instances: the steps that fall to it (its own status of each), its progress notes,
 * and its acknowledgement of (or objection to) a fiche's strong side effects.
 */

/** A commune's answer to a fiche's strong side effects. */
export const SIDE_EFFECT_ANSWERS = ['prise_acte', 'objection'] as const;
export type SideEffectAnswer = (typeof SIDE_EFFECT_ANSWERS)[number];

export const SIDE_EFFECT_ANSWER_LABELS: Record<SideEffectAnswer, string> = { prise_acte: "Prise d'acte", objection: 'Objection' };

/**
 * Where a commune stands on a fiche's strong side effects: acknowledged, objected, not answered, or answered to a
 * wording the fiche no longer has (the answer must be renewed: it does not count as an acknowledgement).
 */
export type AnswerState = SideEffectAnswer | 'sans_reponse' | 'a_renouveler';

export const ANSWER_STATE_LABELS: Record<AnswerState, string> = {
  prise_acte: "Prise d'acte",
  objection: 'Objection',
  sans_reponse: 'Sans réponse',
  a_renouveler: 'Réponse à une version antérieure',
};

/** The DSFR badge of each state. */
export const ANSWER_STATE_BADGES: Record<AnswerState, string> = {
  prise_acte: 'fr-badge--success',
  objection: 'fr-badge--error',
  sans_reponse: 'fr-badge--warning',
  a_renouveler: 'fr-badge--warning',
};

/** The longest comment an answer may carry. */
export const ANSWER_COMMENT_MAX = 2000;

/** A commune's stored answer. */
export interface StoredAnswer {
  ficheId: number;
  communeId: number;
  answer: SideEffectAnswer;
  comment: string;
  /** The strong side effects' descriptions as they were worded when the commune answered. */
  effects: string[];
  userName: string | null;
  answeredAt: string;
  version: number;
}

/** The descriptions of a fiche's strong side effects, in the fiche's order. */
export function strongEffects(effects: readonly { level: SideEffectLevel; description: string }[]): string[] {
  return effects.filter((e) => e.level === 'fort').map((e) => e.description);
}

const normalised = (list: readonly string[]) => [...list].map((s) => s.trim()).sort();

/** Whether an answer was given to the fiche's current wording: the same descriptions, in any order. */
export function sameWording(answered: readonly string[], current: readonly string[]): boolean {
  const a = normalised(answered);
  const b = normalised(current);
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/**
 * A short fingerprint of the strong side effects' wording, posted with an answer: an answer is recorded only for the
 * wording the commune read (a fiche saved meanwhile with other effects refuses it).
 */
export function wordingFingerprint(current: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(normalised(current))).digest('hex').slice(0, 16);
}

/** Where a commune stands, from its answer (if any) and the fiche's current strong effects. */
export function answerState(answer: Pick<StoredAnswer, 'answer' | 'effects'> | undefined, current: readonly string[]): AnswerState {
  if (!answer) return 'sans_reponse';
  return sameWording(answer.effects, current) ? answer.answer : 'a_renouveler';
}

/** Whether this state still waits for the commune's answer. */
export const awaitsAnswer = (state: AnswerState) => state === 'sans_reponse' || state === 'a_renouveler';

/** One commune's line in the table of a fiche's answers. */
export interface AnswerLine {
  communeId: number;
  commune: string;
  state: AnswerState;
  label: string;
  /** Its DSFR badge. */
  badge: string;
  /** dd/mm/yyyy of the answer, when there is one (also for an answer to a previous wording). */
  date: string | null;
  comment: string;
  /** For an answer to a previous wording: what it answered. */
  previous: { answer: SideEffectAnswer; label: string } | null;
}

const dmy = (iso: string) => iso.slice(0, 10).split('-').reverse().join('/');

/**
 * The communes concerned by a fiche with their answer, in French order of their names. Empty when the fiche has no
 * strong side effect.
 */
export function answerLines(
  communes: readonly { id: number; name: string }[], answers: readonly StoredAnswer[], current: readonly string[],
): AnswerLine[] {
  if (!current.length) return [];
  const byCommune = new Map(answers.map((a) => [a.communeId, a]));
  return [...communes].sort((a, b) => frenchCollator.compare(a.name, b.name)).map((c) => {
    const answer = byCommune.get(c.id);
    const state = answerState(answer, current);
    return {
      communeId: c.id, commune: c.name, state, label: ANSWER_STATE_LABELS[state], badge: ANSWER_STATE_BADGES[state],
      date: answer ? dmy(answer.answeredAt) : null,
      comment: answer?.comment ?? '',
      previous: answer && state === 'a_renouveler' ? { answer: answer.answer, label: SIDE_EFFECT_ANSWER_LABELS[answer.answer] } : null,
    };
  });
}

/** "1 prise d'acte, 1 objection, 13 sans réponse et 1 réponse à une version antérieure": the lines counted. */
export function answersSummary(lines: readonly Pick<AnswerLine, 'state'>[]): string {
  const count = (s: AnswerState) => lines.filter((l) => l.state === s).length;
  const parts = [
    count('prise_acte') ? plural(count('prise_acte'), "prise d'acte", "prises d'acte") : '',
    count('objection') ? plural(count('objection'), 'objection', 'objections') : '',
    count('sans_reponse') ? `${count('sans_reponse')} sans réponse` : '',
    count('a_renouveler') ? plural(count('a_renouveler'), 'réponse à une version antérieure', 'réponses à une version antérieure') : '',
  ].filter(Boolean);
  if (!parts.length) return 'Aucune commune concernée';
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} et ${parts.at(-1)}`;
}

/** "Prise d'acte le 12/03/2026", "Objection le 12/03/2026 : « … »", "Sans réponse": one line as a sentence (the PDF, the e-mail). */
export function answerSentence(line: Pick<AnswerLine, 'state' | 'label' | 'date' | 'comment' | 'previous'>): string {
  if (line.state === 'sans_reponse') return line.label;
  if (line.state === 'a_renouveler') return `${line.label} (${line.previous?.label.toLowerCase() ?? 'réponse'} du ${line.date}), à renouveler`;
  return `${line.label} le ${line.date}${line.comment ? ` : « ${line.comment} »` : ''}`;
}

/** A commune's own status of a step that falls to the communes (no row yet: not started, version 0). */
export interface CommuneStepStatus {
  stepId: number;
  communeId: number;
  status: Status;
  version: number;
  updatedAt: string | null;
}

/** "Fait dans 3 communes sur 16": a step that falls to the communes, as the project team reads it. */
export function communeStepsPhrase(done: number, total: number): string {
  if (total === 0) return 'Aucune commune concernée';
  return `Fait dans ${done} ${total === 1 ? 'commune' : done >= 2 ? 'communes' : 'commune'} sur ${total}`;
}

/** "Commune de Villeurbanne", "Commune d’Oullins": how a commune's note or answer is labelled. */
export function communeLabel(name: string): string {
  return `Commune ${de(name)}`;
}

/** "chez vous : 2 instances sur 3": a commune's own rollout of a fiche, as its page and its e-mail say it. */
export function atYourPlace(short: string): string {
  return `chez vous : ${short}`;
}
