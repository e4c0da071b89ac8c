import { isLate, isStepLate, type Owner, ownersSummary } from './fiche';
import { type Status, STATUS_LABELS } from './statuses';
import { plural, shorten } from './words';

/** What a bulk change of the plan selects: fiches, or steps ("actions") grouped by fiche. */
export type BulkTarget = 'fiches' | 'actions';
export const BULK_TARGETS: readonly BulkTarget[] = ['fiches', 'actions'];

/** The most objects one operation may change: the form's fields and the preview stay reasonable. */
export const BULK_MAX_SELECTION = 2000;

/**
 * The one change applied to every selected object: a status; an owner (a fiche: one team for its whole scope, replacing
 * its owner teams; a step: its responsible person, "u12" or "p3", or none); a target date (null: cleared); a progress
 * note (on the fiche; for a step, on its fiche, prefixed with the step's number).
 */
export type BulkChange =
  | { kind: 'status'; status: Status }
  | { kind: 'team'; teamId: number; teamName: string }
  | { kind: 'assignee'; assignee: string | null; assigneeName: string | null }
  | { kind: 'date'; targetDate: string | null }
  | { kind: 'note'; body: string };

/** A fiche or a step as a bulk change reads it: its own fields, and its fiche's version (the version check of both). */
export interface BulkObject {
  /** The fiche's id, or the step's. */
  id: number;
  ficheId: number;
  ficheNumber: number;
  ficheTitle: string;
  ficheTargetDate: string | null;
  /** The fiche's version: a step's change moves its fiche's version. */
  version: number;
  /** Set for a step. */
  step: { position: number; label: string } | null;
  status: Status;
  targetDate: string | null;
  /** A fiche's owner teams. */
  owners: Owner[];
  /** A step's responsible person: "u12", "p3", or null, and their name. */
  assignee: string | null;
  assigneeName: string | null;
}

/** A field's value as the audit keeps it: `{ status }`, `{ targetDate }`, `{ owners }`, `{ assignee, assigneeName }` or `{ body }`. */
export type BulkValue = Record<string, unknown>;

export interface BulkPlan {
  /** The objects that change, with the field before and after. */
  changes: { object: BulkObject; before: BulkValue | null; after: BulkValue }[];
  /** Selected, already as requested. */
  unchanged: BulkObject[];
  /** Selected, changed by someone since the selection was displayed (its fiche's version moved): shown as they are now. */
  conflicts: { object: BulkObject; seenVersion: number; current: BulkValue }[];
  /** Selected ids that are no fiche (or step) of this homologation. */
  outside: number[];
}

/** One selected object and the version of its fiche seen when the selection was displayed. */
export interface BulkSelection { id: number; seenVersion: number }

/** The field a change touches, as it is on the object (for a note: nothing yet). */
export function currentValue(object: BulkObject, change: BulkChange): BulkValue | null {
  switch (change.kind) {
    case 'status': return { status: object.status };
    case 'team': return { owners: object.owners };
    case 'assignee': return { assignee: object.assignee, assigneeName: object.assigneeName };
    case 'date': return { targetDate: object.targetDate };
    case 'note': return null;
  }
}

/** The progress note a change adds for this object: a step's carries its number. */
export function noteBody(object: Pick<BulkObject, 'step'>, body: string): string {
  return object.step ? `Action n°${object.step.position} : ${body}` : body;
}

/** The field after the change, or null when the object already is as requested. */
function valueAfter(object: BulkObject, change: BulkChange): BulkValue | null {
  switch (change.kind) {
    case 'status':
      return object.status === change.status ? null : { status: change.status };
    case 'team': {
      const [only, ...more] = object.owners;
      if (only && !more.length && only.teamId === change.teamId && only.serviceId === null) return null;
      return { owners: [{ teamId: change.teamId, teamName: change.teamName, serviceId: null, serviceName: null }] };
    }
    case 'assignee':
      return object.assignee === change.assignee ? null : { assignee: change.assignee, assigneeName: change.assigneeName };
    case 'date':
      return object.targetDate === change.targetDate ? null : { targetDate: change.targetDate };
    case 'note':
      return { body: noteBody(object, change.body) };
  }
}

const order = (a: BulkObject, b: BulkObject) => a.ficheNumber - b.ficheNumber || (a.step?.position ?? 0) - (b.step?.position ?? 0) || a.id - b.id;

/**
 * What a bulk change would do to the selection, from the objects' current state (those of the homologation among the
 * ids selected) and the versions seen. The preview and, under the transaction, the write plan with the same rules.
 * An id selected twice counts once (its first version seen).
 */
export function planBulk(objects: readonly BulkObject[], selection: readonly BulkSelection[], change: BulkChange): BulkPlan {
  const byId = new Map(objects.map((o) => [o.id, o]));
  const plan: BulkPlan = { changes: [], unchanged: [], conflicts: [], outside: [] };
  const seen = new Set<number>();
  for (const s of selection) {
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    const object = byId.get(s.id);
    if (!object) { plan.outside.push(s.id); continue; }
    if (object.version !== s.seenVersion) { plan.conflicts.push({ object, seenVersion: s.seenVersion, current: currentValue(object, change) ?? {} }); continue; }
    const after = valueAfter(object, change);
    if (after === null) plan.unchanged.push(object);
    else plan.changes.push({ object, before: currentValue(object, change), after });
  }
  plan.changes.sort((a, b) => order(a.object, b.object));
  plan.unchanged.sort(order);
  plan.conflicts.sort((a, b) => order(a.object, b.object));
  return plan;
}

/** The fiches whose version the change moves: each fiche changed, or holding a step changed, once; a note moves none (as a single note). */
export function fichesBumped(plan: Pick<BulkPlan, 'changes'>, change: BulkChange): { ficheId: number; version: number }[] {
  if (change.kind === 'note') return [];
  const out = new Map<number, number>();
  for (const { object } of plan.changes) out.set(object.ficheId, object.version);
  return [...out].map(([ficheId, version]) => ({ ficheId, version }));
}

// ---- words

/** "Fiche n°3 : Déployer la MFA" / "Fiche n°3, action n°2 : Choisir la solution" */
export function objectLabel(object: Pick<BulkObject, 'ficheNumber' | 'ficheTitle' | 'step'>): string {
  return object.step ? `Fiche n°${object.ficheNumber}, action n°${object.step.position} : ${object.step.label}` : `Fiche n°${object.ficheNumber} : ${object.ficheTitle}`;
}

const dateText = (iso: string) => iso.split('-').reverse().join('/');

/** The change in a sentence, as the preview's title states it. */
export function changeText(change: BulkChange, target: BulkTarget): string {
  switch (change.kind) {
    case 'status': return `Nouvel avancement : ${STATUS_LABELS[change.status]}`;
    case 'team': return `Nouvelle équipe responsable : ${change.teamName} (à la place des équipes responsables actuelles)`;
    case 'assignee': return change.assigneeName ? `Nouveau responsable : ${change.assigneeName}` : 'Plus de responsable désigné';
    case 'date': return change.targetDate ? `Nouvelle date cible : ${dateText(change.targetDate)}` : 'Date cible retirée';
    case 'note': return `Point d'avancement ajouté ${target === 'actions' ? "à la fiche de chaque action (précédé du numéro de l'action)" : 'à chaque fiche'} : « ${shorten(change.body, 200)} »`;
  }
}

/** The operation's summary, for the journal and the list of operations. */
export function operationSummary(change: BulkChange, target: BulkTarget, count: number): string {
  const objects = target === 'fiches' ? plural(count, 'fiche', 'fiches') : plural(count, 'action', 'actions');
  const s = count >= 2 ? 's' : '';
  switch (change.kind) {
    case 'status': return `${objects} passée${s} à « ${STATUS_LABELS[change.status]} »`;
    case 'team': return `${objects} confiée${s} à l'équipe « ${change.teamName} »`;
    case 'assignee': return change.assigneeName ? `${objects} confiée${s} à ${change.assigneeName}` : `${objects} : plus de responsable désigné`;
    case 'date': return change.targetDate ? `${objects} : date cible au ${dateText(change.targetDate)}` : `${objects} : date cible retirée`;
    case 'note': return `Point d'avancement sur ${objects} : « ${shorten(change.body, 80)} »`;
  }
}

/** One object's audit summary. */
export function entrySummary(object: BulkObject, change: BulkChange, before: BulkValue | null, after: BulkValue): string {
  const what = object.step ? `Action n°${object.step.position} « ${shorten(object.step.label, 80)} » de la fiche n°${object.ficheNumber}` : `Fiche n°${object.ficheNumber}`;
  if (change.kind === 'note') return `Point d'avancement sur ${object.step ? `l'action n°${object.step.position} de la fiche n°${object.ficheNumber}` : `la fiche n°${object.ficheNumber}`} (par lot)`;
  const [b] = valueLines(before);
  const [a] = valueLines(after);
  return `${what} : ${(a ?? b)?.label.toLowerCase() ?? 'modifiée'} ${b?.text ?? '—'} → ${a?.text ?? '—'}`;
}

/**
 * A recorded value in words, one line per field the reader knows (the other keys, ids, are left out): what the
 * preview, the review of an operation and its audit entries show, for fiches, steps and a rollout's instances alike.
 */
export function valueLines(value: unknown): { label: string; text: string }[] {
  if (typeof value !== 'object' || value === null) return [];
  const v = value as Record<string, unknown>;
  const lines: { label: string; text: string }[] = [];
  const str = (x: unknown) => (typeof x === 'string' ? x : '');
  if ('status' in v) lines.push({ label: 'Avancement', text: STATUS_LABELS[v.status as Status] ?? str(v.status) });
  if ('owners' in v && Array.isArray(v.owners)) lines.push({ label: 'Équipe responsable', text: ownersSummary(v.owners as Owner[]) || 'aucune' });
  if ('assigneeName' in v || 'assignee' in v) lines.push({ label: 'Responsable', text: str(v.assigneeName) || (v.assignee ? 'compte supprimé' : 'personne') });
  if ('targetDate' in v) lines.push({ label: 'Date cible', text: v.targetDate ? dateText(str(v.targetDate)) : 'aucune' });
  if ('dueOn' in v) lines.push({ label: 'Date prévue', text: v.dueOn ? dateText(str(v.dueOn)) : 'aucune' });
  if ('body' in v) lines.push({ label: "Point d'avancement", text: str(v.body) });
  if ('note' in v && str(v.note) !== '') lines.push({ label: 'Note', text: str(v.note) });
  return lines;
}

// ---- filters of the selection page

export interface BulkFilters {
  status: Status | null;
  teamId: number | null;
  late: boolean;
}

/** The fiches the filters keep: by status, by owner team, late (target date passed, not done). */
export function filterFiches<T extends { status: Status; targetDate: string | null; owners: readonly Pick<Owner, 'teamId'>[] }>(fiches: readonly T[], f: BulkFilters, today: string): T[] {
  return fiches.filter((x) => (f.status === null || x.status === f.status)
    && (f.teamId === null || x.owners.some((o) => o.teamId === f.teamId))
    && (!f.late || isLate(x, today)));
}

/** The steps the filters keep: by their own status, by their fiche's owner team, late (their date, else their fiche's, passed). */
export function filterSteps<T extends { status: Status; targetDate: string | null }>(
  steps: readonly T[], fiche: { targetDate: string | null; owners: readonly Pick<Owner, 'teamId'>[] }, f: BulkFilters, today: string,
): T[] {
  if (f.teamId !== null && !fiche.owners.some((o) => o.teamId === f.teamId)) return [];
  return steps.filter((s) => (f.status === null || s.status === f.status) && (!f.late || isStepLate(s, fiche.targetDate, today)));
}
