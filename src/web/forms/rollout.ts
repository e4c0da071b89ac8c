import { z } from 'zod';
import type { RolloutChange, RolloutFilters } from '../../domain/rollout';
import { isStatus } from '../../domain/statuses';
import { type FieldErrors, isoDate, optionalText, str, strings } from './fields';

/** The grid's filters as read from the query string or echoed by the forms (unknown values are dropped). */
export function readFilters(source: Record<string, unknown>): RolloutFilters & { raw: Record<string, string> } {
  const id = (v: string) => (/^\d{1,9}$/.test(v) ? Number(v) : undefined);
  const raw = { service: str(source.service), environnement: str(source.environnement), commune: str(source.commune), etat: str(source.etat) };
  const state = raw.etat === 'pas_fait' || isStatus(raw.etat) ? raw.etat : undefined;
  return {
    raw,
    service: id(raw.service),
    environment: /^[a-z0-9-]{1,10}$/.test(raw.environnement) ? raw.environnement : undefined,
    commune: id(raw.commune),
    state,
  };
}

/** What the bulk form holds, as typed: shown again next to the errors. */
export interface RolloutFormValues {
  status: string;
  dueOn: string;
  note: string;
  /** The instances checked. */
  instanceIds: string[];
}

export const NO_SELECTION = 'Cochez au moins une instance, ou choisissez « toutes les instances affichées ».';

const changeSchema = z.object({
  status: z.string().refine(isStatus, { error: 'Choisissez le nouvel état des instances.' }),
  dueOn: z.string().trim(),
  note: optionalText(1000),
});

/**
 * The instances selected, each with the version its row showed when the page was displayed (field `v_<id>`, a flat
 * name: the body parser would turn `v[12]` into a compacted array): the ones checked, or every row displayed. An id
 * checked without a version seen was not displayed: it counts as seen at version -1, so that it is reported as changed
 * meanwhile rather than applied blind.
 */
export function readSelection(body: Record<string, unknown>, all: boolean): { instanceId: number; seenVersion: number }[] {
  const seen = new Map<string, string>();
  for (const [key, value] of Object.entries(body)) {
    const m = /^v_(\d{1,9})$/.exec(key);
    if (m) seen.set(m[1]!, str(value));
  }
  const ids = all ? [...seen.keys()] : strings(body.instanceIds);
  const out: { instanceId: number; seenVersion: number }[] = [];
  for (const raw of ids) {
    if (!/^\d{1,9}$/.test(raw)) continue;
    const v = seen.get(raw) ?? '';
    out.push({ instanceId: Number(raw), seenVersion: /^\d{1,9}$/.test(v) ? Number(v) : -1 });
  }
  return out;
}

/** Reads the change asked for; a commune's staff set no date (the project team plans the dates). */
export function readChange(body: Record<string, unknown>): { values: RolloutFormValues; change?: RolloutChange; errors: FieldErrors } {
  const values: RolloutFormValues = { status: str(body.status), dueOn: str(body.dueOn), note: str(body.note), instanceIds: strings(body.instanceIds) };
  const parsed = changeSchema.safeParse(values);
  const errors: FieldErrors = {};
  for (const issue of parsed.success ? [] : parsed.error.issues) errors[String(issue.path[0] ?? 'status')] ??= issue.message;
  // empty: each instance keeps its own date; else a real date
  const due = values.dueOn.trim() ? isoDate('').safeParse(values.dueOn) : null;
  if (due && !due.success) errors.dueOn = due.error.issues[0]!.message;
  if (!parsed.success || Object.keys(errors).length) return { values, errors };
  const { status, dueOn, note } = parsed.data;
  return {
    values,
    errors: {},
    change: { status: status as RolloutChange['status'], ...(dueOn ? { dueOn } : {}), ...(note.trim() ? { note: note.trim() } : {}) },
  };
}
