import { BULK_MAX_SELECTION, type BulkChange, type BulkFilters, type BulkSelection, type BulkTarget } from '../../domain/bulk';
import { isStatus } from '../../domain/statuses';
import { type FieldErrors, fieldErrors, isoDate, requiredText, str, strings } from './fields';

/** The kinds of change the form offers (one per operation). */
export const CHANGE_KINDS = ['status', 'owner', 'date', 'sansDate', 'note'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** The selection page's filters as typed in its address (état, équipe, retard). */
export interface FilterValues { etat: string; equipe: string; retard: string }

/** The bulk form as typed: the selection with the version seen of each row, the change, and the filters it was made under. */
export interface BulkFormValues {
  type: BulkTarget;
  /** The ids checked. */
  ids: string[];
  /** The version seen of each row, by id. */
  seen: Record<string, string>;
  change: string;
  status: string;
  owner: string;
  targetDate: string;
  note: string;
  filters: FilterValues;
}

/** The value of the "no responsible person" choice of a step's owner. */
export const NO_ASSIGNEE = 'aucun';

export const targetOf = (value: unknown): BulkTarget => (str(value) === 'actions' ? 'actions' : 'fiches');

export function readFilters(source: Record<string, unknown>): FilterValues {
  return { etat: str(source.etat), equipe: str(source.equipe), retard: str(source.retard) === '1' ? '1' : '' };
}

/** The filters as applied: an unknown status or team is no filter (the page says nothing of a tampered address). */
export function filtersOf(values: FilterValues): BulkFilters {
  return {
    status: isStatus(values.etat) ? values.etat : null,
    teamId: /^\d{1,9}$/.test(values.equipe) ? Number(values.equipe) : null,
    late: values.retard === '1',
  };
}

/** The version-seen field of a row. */
export const seenField = (id: number | string) => `seen-${id}`;

export function readBulkForm(body: unknown): BulkFormValues {
  const source = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  // "every row displayed": the rows whose version seen the page sent, else the rows checked
  const displayed = str(source.selection) === 'affichees';
  const sent = displayed ? Object.keys(source).filter((k) => /^seen-\d{1,9}$/.test(k)).map((k) => k.slice(5)) : strings(source.ids);
  // an id checked twice counts once; the list is cut just past the limit, which validation then refuses
  const ids = [...new Set(sent.map((s) => s.trim()))].slice(0, BULK_MAX_SELECTION + 1);
  const seen: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const id of ids) seen[id] = str(source[seenField(id)]).trim();
  return {
    type: targetOf(source.type), ids, seen,
    change: str(source.change), status: str(source.status), owner: str(source.owner), targetDate: str(source.targetDate),
    note: str(source.note),
    filters: readFilters(source),
  };
}

/** The same form with nothing checked nor typed, for a first display. */
export function emptyBulkForm(type: BulkTarget, filters: FilterValues): BulkFormValues {
  return { type, ids: [], seen: Object.create(null) as Record<string, string>, change: '', status: '', owner: '', targetDate: '', note: '', filters };
}

const noteText = requiredText(5000, "Saisissez le point d'avancement à ajouter.");
const dateField = isoDate('Saisissez la nouvelle date cible, ou choisissez « Retirer la date cible ».');

/** What the owner field may name: the teams (a fiche), or the active accounts and named people (a step). */
export interface BulkReferences {
  teams: Map<number, string>;
  assignees: Map<string, string>;
}

export type BulkValidation =
  | { ok: true; selection: BulkSelection[]; change: BulkChange }
  | { ok: false; errors: FieldErrors };

/**
 * Checks the selection (at least one row, each with the version seen, within the limit) and the one change chosen;
 * one French message per field (`selection`, `change`, `status`, `owner`, `targetDate`, `note`).
 */
export function validateBulk(values: BulkFormValues, refs: BulkReferences): BulkValidation {
  const errors: FieldErrors = {};
  const what = values.type === 'fiches' ? 'fiche' : 'action';
  const selection: BulkSelection[] = [];
  if (!values.ids.length) errors.selection = `Cochez au moins une ${what} à modifier.`;
  else if (values.ids.length > BULK_MAX_SELECTION) errors.selection = `Cochez au plus ${BULK_MAX_SELECTION.toLocaleString('fr-FR')} ${what}s par opération : faites-en plusieurs.`;
  else {
    for (const id of values.ids) {
      const seen = values.seen[id] ?? '';
      if (!/^\d{1,9}$/.test(id) || !/^\d{1,9}$/.test(seen)) {
        errors.selection = "La sélection envoyée est incomplète : rechargez la page, cochez de nouveau et recommencez. Rien n'a été modifié.";
        break;
      }
      selection.push({ id: Number(id), seenVersion: Number(seen) });
    }
  }
  let change: BulkChange | null = null;
  const kind = (CHANGE_KINDS as readonly string[]).includes(values.change) ? (values.change as ChangeKind) : null;
  if (kind === null) errors.change = 'Choisissez la modification à appliquer.';
  else if (kind === 'status') {
    if (isStatus(values.status)) change = { kind: 'status', status: values.status };
    else errors.status = 'Choisissez le nouvel avancement dans la liste.';
  } else if (kind === 'owner') {
    if (values.type === 'fiches') {
      const teamId = /^\d{1,9}$/.test(values.owner) ? Number(values.owner) : NaN;
      const teamName = refs.teams.get(teamId);
      if (teamName !== undefined) change = { kind: 'team', teamId, teamName };
      else errors.owner = "Choisissez l'équipe responsable dans la liste.";
    } else if (values.owner === NO_ASSIGNEE) {
      change = { kind: 'assignee', assignee: null, assigneeName: null };
    } else {
      const name = refs.assignees.get(values.owner);
      if (name !== undefined) change = { kind: 'assignee', assignee: values.owner, assigneeName: name };
      else errors.owner = 'Choisissez le responsable dans la liste, ou « Aucun responsable ».';
    }
  } else if (kind === 'date') {
    const parsed = dateField.safeParse(values.targetDate);
    if (parsed.success) change = { kind: 'date', targetDate: parsed.data };
    else Object.assign(errors, fieldErrors(parsed.error, 'targetDate'));
  } else if (kind === 'sansDate') {
    change = { kind: 'date', targetDate: null };
  } else {
    const parsed = noteText.safeParse(values.note);
    if (parsed.success) change = { kind: 'note', body: parsed.data };
    else Object.assign(errors, fieldErrors(parsed.error, 'note'));
  }
  if (Object.keys(errors).length || !change) return { ok: false, errors };
  return { ok: true, selection, change };
}
