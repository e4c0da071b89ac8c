import { plural, withEnvironment } from './words';
import { type Environment, type EnvironmentRef, presentEnvironments, type Status, STATUS_LABELS, STATUSES } from './statuses';

/** One instance of a fiche's scope, with its own status for the fiche (no row yet: not started, version 0). */
export interface RolloutCell {
  instanceId: number;
  instanceName: string;
  serviceId: number;
  serviceName: string;
  environment: Environment;
  environmentLabel: string;
  communeId: number | null;
  communeName: string | null;
  status: Status;
  dueOn: string | null;
  note: string;
  version: number;
  updatedAt: string | null;
  updatedByName: string | null;
  /** The commune whose agent made the last change, if one did. */
  updatedByCommune: string | null;
}

/** A fiche's rollout in counts: done of total, per environment, per status. */
export interface RolloutCounts {
  done: number;
  total: number;
  byStatus: Record<Status, number>;
  byEnvironment: { code: Environment; label: string; done: number; total: number }[];
}

function emptyByStatus(): Record<Status, number> {
  return Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
}

/** Counts of cells (or of already counted rows) per environment in the organisation's order. */
export function countRollout(cells: readonly { environment: Environment; status: Status; n?: number }[], environments: readonly EnvironmentRef[]): RolloutCounts {
  const byStatus = emptyByStatus();
  const perEnv = new Map<Environment, { done: number; total: number }>();
  for (const c of cells) {
    const n = c.n ?? 1;
    byStatus[c.status] = (byStatus[c.status] ?? 0) + n;
    const e = perEnv.get(c.environment) ?? { done: 0, total: 0 };
    e.total += n;
    if (c.status === 'fait') e.done += n;
    perEnv.set(c.environment, e);
  }
  const byEnvironment = presentEnvironments(environments, perEnv.keys()).map((env) => ({ code: env.code, label: env.label, ...perEnv.get(env.code)! }));
  return { done: byStatus.fait, total: byEnvironment.reduce((a, e) => a + e.total, 0), byStatus, byEnvironment };
}

/** "de production" / "de recette" / "de formation": the environment as the complement of "instances". */
function ofEnvironment(label: string): string {
  const l = label.toLowerCase();
  return /^[aeiouyéèêh]/.test(l) ? `d'${l}` : `de ${l}`;
}

/**
 * "Fait sur 9 des 14 instances de production et 3 des 16 instances de recette": the sentence the fiche, the dashboard and
 * the agenda show. With one environment, its name; an empty scope says so.
 */
export function rolloutPhrase(counts: RolloutCounts): string {
  if (counts.total === 0) return 'Aucune instance dans le périmètre de la fiche';
  const parts = counts.byEnvironment.map((e) => `${e.done} ${e.total === 1 ? 'de la seule instance' : `des ${e.total} instances`} ${ofEnvironment(e.label)}`
    .replace(/^(\d+) de la seule/, (_m, d) => `${d} de la seule`));
  if (parts.length === 1) return `Fait sur ${parts[0]}`;
  return `Fait sur ${parts.slice(0, -1).join(', ')} et ${parts[parts.length - 1]}`;
}

/** "2 instances sur 3": a commune's own share, short. */
export function rolloutShort(counts: Pick<RolloutCounts, 'done' | 'total'>): string {
  return `${plural(counts.done, 'instance', 'instances')} sur ${counts.total}`;
}

/** What the grid can be narrowed to, and what a bulk change can select by. */
export interface RolloutFilters {
  service?: number;
  environment?: Environment;
  commune?: number;
  /** A status, or 'pas_fait': every status but done. */
  state?: Status | 'pas_fait';
}

export function filterCells<T extends Pick<RolloutCell, 'serviceId' | 'environment' | 'communeId' | 'status'>>(cells: readonly T[], f: RolloutFilters): T[] {
  return cells.filter((c) => {
    if (f.service !== undefined && c.serviceId !== f.service) return false;
    if (f.environment !== undefined && c.environment !== f.environment) return false;
    if (f.commune !== undefined && c.communeId !== f.commune) return false;
    if (f.state === 'pas_fait' && c.status === 'fait') return false;
    if (f.state !== undefined && f.state !== 'pas_fait' && c.status !== f.state) return false;
    return true;
  });
}

/** A bulk change: the new status, and optionally a planned date and a note (undefined: each instance keeps its own). */
export interface RolloutChange {
  status: Status;
  dueOn?: string | null;
  note?: string;
}

export interface RolloutPlan {
  /** The instances that change, with their state before and after. */
  changes: { cell: RolloutCell; after: { status: Status; dueOn: string | null; note: string } }[];
  /** Selected, already in the requested state. */
  unchanged: RolloutCell[];
  /** Selected, changed by someone since the selection was made: the version seen differs from the current one. */
  conflicts: { cell: RolloutCell; seenVersion: number }[];
  /** Selected ids that are not instances of the fiche's scope (or not visible to the user). */
  outside: number[];
}

/**
 * What a bulk change would do to the selected instances, from their current state and the versions the user saw.
 * The same function plans the preview and, under the transaction, the write: both see the same rules.
 */
export function planRollout(cells: readonly RolloutCell[], selection: readonly { instanceId: number; seenVersion: number }[], change: RolloutChange): RolloutPlan {
  const byId = new Map(cells.map((c) => [c.instanceId, c]));
  const plan: RolloutPlan = { changes: [], unchanged: [], conflicts: [], outside: [] };
  const seen = new Set<number>();
  for (const { instanceId, seenVersion } of selection) {
    if (seen.has(instanceId)) continue;
    seen.add(instanceId);
    const cell = byId.get(instanceId);
    if (!cell) { plan.outside.push(instanceId); continue; }
    if (cell.version !== seenVersion) { plan.conflicts.push({ cell, seenVersion }); continue; }
    const after = {
      status: change.status,
      dueOn: change.dueOn === undefined ? cell.dueOn : change.dueOn,
      note: change.note === undefined || change.note === '' ? cell.note : change.note,
    };
    if (after.status === cell.status && after.dueOn === cell.dueOn && after.note === cell.note) plan.unchanged.push(cell);
    else plan.changes.push({ cell, after });
  }
  return plan;
}

/** "Toodego Bron (production) : Non démarré → Fait": one instance's change, as the journal and the preview say it. */
export function changeText(cell: Pick<RolloutCell, 'instanceName' | 'environmentLabel' | 'status'>, after: { status: Status }): string {
  return `${withEnvironment(cell.instanceName, cell.environmentLabel.toLowerCase())} : ${STATUS_LABELS[cell.status]} → ${STATUS_LABELS[after.status]}`;
}
