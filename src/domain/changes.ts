import { format } from 'date-fns/format';
import { parseISO } from 'date-fns/parseISO';
import { plural } from './words';
import { SIDE_EFFECT_LABELS, STATUS_LABELS, type SideEffectLevel, type Status } from './statuses';

/** What the "since the last meeting" comparison needs of a fiche. */
export interface FicheState {
  status: Status;
  targetDate: string | null;
  steps: { id?: number; label: string; status: Status }[];
  sideEffects: { level: SideEffectLevel; description: string }[];
}

const day = (d: string | null) => (d ? format(parseISO(d), 'dd/MM/yyyy') : 'aucune');

/**
 * The changes of a fiche between two states, as sentences for the committee: status, target date,
 * steps completed or added, new side effects, and the progress notes written in between.
 */
export function changesSince(
  before: FicheState | undefined, after: FicheState, notes: { notedOn: string; body: string; authorName: string }[], maxNotes = 5,
  since = 'depuis la dernière séance',
): string[] {
  const out: string[] = [];
  if (!before) out.push(`Nouvelle fiche ${since}.`);
  else {
    if (before.status !== after.status) out.push(`Avancement : ${STATUS_LABELS[before.status]} → ${STATUS_LABELS[after.status]}.`);
    if (before.targetDate !== after.targetDate) out.push(`Date cible déplacée du ${day(before.targetDate)} au ${day(after.targetDate)}.`);
    const previous = new Map(before.steps.filter((s) => s.id !== undefined).map((s) => [s.id, s]));
    for (const step of after.steps) {
      const old = step.id !== undefined ? previous.get(step.id) : undefined;
      if (!old) out.push(`Nouvelle action : ${step.label}${step.status === 'fait' ? ' (faite)' : ''}.`);
      else if (old.status !== 'fait' && step.status === 'fait') out.push(`Action faite : ${step.label}.`);
    }
    const known = new Set(before.sideEffects.map((e) => `${e.level}|${e.description}`));
    for (const effect of after.sideEffects) {
      if (!known.has(`${effect.level}|${effect.description}`)) out.push(`Nouvel effet de bord (${SIDE_EFFECT_LABELS[effect.level].toLowerCase()}) : ${effect.description}`);
    }
  }
  // A committee reads the latest notes; older ones are counted, not listed.
  const shown = notes.slice(-maxNotes);
  if (notes.length > shown.length) out.push(`${plural(notes.length - shown.length, "point d'avancement plus ancien", "points d'avancement plus anciens")} ${since}, à lire sur la fiche.`);
  for (const note of shown) out.push(`Point du ${day(note.notedOn)} (${note.authorName}) : ${note.body}`);
  return out;
}
