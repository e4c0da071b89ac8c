import { addDays, addMonths, format, parseISO } from 'date-fns';
import { plural } from './words';
import { isStepLate, stepDue } from './fiche';
import { type HomologationState, STATE_BADGES, STATE_LABELS, STATES } from './homologation';
import type { RolloutCounts } from './rollout';
import { type Environment, type EnvironmentRef, presentEnvironments, type Status, STATUSES } from './statuses';

export interface DashFiche {
  id: number;
  number: number;
  title: string;
  status: Status;
  targetDate: string | null;
  owners: { teamId: number; teamName: string }[];
  steps: { label: string; status: Status; targetDate?: string | null; assigneeName?: string | null }[];
  strongEffects: string[];
  /** 'all' when the fiche concerns the whole perimeter. */
  instanceIds: number[] | 'all';
  /** Followed per instance: its counts, overall, per environment and per commune. */
  rollout?: RolloutCounts & { byCommune: Map<number, { done: number; total: number }> };
}

export interface DashInstance {
  id: number;
  serviceId: number;
  serviceName: string;
  environment: Environment;
  communeId: number | null;
  communeName: string | null;
}

export interface DashFilters {
  team?: number;
  service?: number;
  environment?: Environment;
  commune?: number;
  status?: Status;
}

/** What a fiche's scope touches: services, environments, communes. */
export interface Reach { services: Map<number, string>; environments: Set<Environment>; communes: Set<number> }

/**
 * The reach of every fiche, computed once: fiches on the whole perimeter share one value,
 * so the cost is the size of the scopes, not fiches × instances.
 */
export function reachOf(fiches: readonly DashFiche[], instances: readonly DashInstance[]): Map<number, Reach> {
  const byId = new Map(instances.map((i) => [i.id, i]));
  const reach = (list: Iterable<DashInstance>): Reach => {
    const r: Reach = { services: new Map(), environments: new Set(), communes: new Set() };
    for (const i of list) {
      r.services.set(i.serviceId, i.serviceName);
      r.environments.add(i.environment);
      if (i.communeId !== null) r.communes.add(i.communeId);
    }
    return r;
  };
  const all = reach(instances);
  return new Map(fiches.map((f) => [f.id, f.instanceIds === 'all' ? all : reach(f.instanceIds.flatMap((id) => byId.get(id) ?? []))]));
}

export function applyFilters(fiches: readonly DashFiche[], reach: Map<number, Reach>, f: DashFilters): DashFiche[] {
  return fiches.filter((fiche) => {
    if (f.status && fiche.status !== f.status) return false;
    if (f.team && !fiche.owners.some((o) => o.teamId === f.team)) return false;
    const r = reach.get(fiche.id)!;
    if (f.service && !r.services.has(f.service)) return false;
    if (f.environment && !r.environments.has(f.environment)) return false;
    if (f.commune && !r.communes.has(f.commune)) return false;
    return true;
  });
}

const late = (f: DashFiche, today: string) => f.status !== 'fait' && f.targetDate !== null && f.targetDate < today;

export interface ReadinessComponent { key: string; label: string; value: number; weight: number; points: number; gain: number; advice: string }

/**
 * Readiness for the signature, from 0 to 5: a weighted mean of four shares, times 5.
 *   40 % actions done (steps done / steps)
 *   25 % fiches on time (fiches not late / fiches)
 *   20 % strong side effects settled (strong effects on done fiches / strong effects; 1 when there are none)
 *   15 % fiches done (done / fiches)
 * Each component shows how many points it brings and how many it would add if complete.
 */
export const READINESS_WEIGHTS = { steps: 0.4, onTime: 0.25, strong: 0.2, done: 0.15 } as const;

export function readiness(fiches: readonly DashFiche[], today: string): { index: number; components: ReadinessComponent[] } {
  const steps = fiches.flatMap((f) => f.steps);
  const stepsDone = steps.filter((s) => s.status === 'fait').length;
  const lateCount = fiches.filter((f) => late(f, today)).length;
  const strong = fiches.flatMap((f) => f.strongEffects.map(() => f.status));
  const strongOpen = strong.filter((s) => s !== 'fait').length;
  const done = fiches.filter((f) => f.status === 'fait').length;
  const share = (n: number, d: number, empty = 0) => (d === 0 ? empty : n / d);
  const parts: [keyof typeof READINESS_WEIGHTS, string, number, string][] = [
    ['steps', 'Actions faites', share(stepsDone, steps.length), `${plural(steps.length - stepsDone, 'action reste', 'actions restent')} à faire.`],
    ['onTime', 'Fiches dans les délais', share(fiches.length - lateCount, fiches.length), `${plural(lateCount, 'fiche', 'fiches')} en retard à replanifier ou terminer.`],
    ['strong', 'Effets de bord forts levés', share(strong.length - strongOpen, strong.length, 1), `${plural(strongOpen, 'effet de bord fort', 'effets de bord forts')} sur des fiches non terminées, à arbitrer.`],
    ['done', 'Fiches terminées', share(done, fiches.length), `${plural(fiches.length - done, 'fiche non terminée', 'fiches non terminées')}.`],
  ];
  const components = parts.map(([key, label, value, advice]) => {
    const weight = READINESS_WEIGHTS[key];
    return { key, label, value, weight, points: 5 * weight * value, gain: 5 * weight * (1 - value), advice };
  });
  return { index: components.reduce((sum, c) => sum + c.points, 0), components };
}

/**
 * The fiches that are late, or hold a late step: a step is late by its own date (its fiche's when it has none), so a
 * fiche on time may hold a late step, and a late fiche's steps due later are not. `since` is the earliest date passed.
 */
export function lateFiches(fiches: readonly DashFiche[], today: string) {
  return fiches.map((f) => {
    const lateSteps = f.steps.filter((s) => isStepLate(s, f.targetDate, today)).map((s) => ({ ...s, due: stepDue(s, f.targetDate)! }));
    const dates = [...(late(f, today) ? [f.targetDate!] : []), ...lateSteps.map((s) => s.due)].sort();
    return { fiche: f, lateSteps, since: dates[0] };
  }).filter((l): l is typeof l & { since: string } => l.since !== undefined)
    .sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : a.fiche.number - b.fiche.number));
}

export interface ComingItem { date: string; kind: 'fiche' | 'jalon'; label: string; ficheId?: number; window: 30 | 60 | 90 }

export function coming(fiches: readonly DashFiche[], milestones: readonly { dueDate: string; title: string; done: boolean }[], today: string): ComingItem[] {
  const limit = (days: number) => format(addDays(parseISO(today), days), 'yyyy-MM-dd');
  const windowOf = (d: string): 30 | 60 | 90 | null => (d < today ? null : d <= limit(30) ? 30 : d <= limit(60) ? 60 : d <= limit(90) ? 90 : null);
  const items: ComingItem[] = [];
  for (const f of fiches) {
    const w = f.targetDate && f.status !== 'fait' ? windowOf(f.targetDate) : null;
    if (w) items.push({ date: f.targetDate!, kind: 'fiche', label: `Fiche n°${f.number} : ${f.title}`, ficheId: f.id, window: w });
  }
  for (const m of milestones) {
    const w = !m.done ? windowOf(m.dueDate) : null;
    if (w) items.push({ date: m.dueDate, kind: 'jalon', label: m.title, window: w });
  }
  return items.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

export type StatusCounts = Record<Status, number> & { total: number };
const emptyCounts = (): StatusCounts => ({ non_demarre: 0, en_cours: 0, bloque: 0, fait: 0, total: 0 });

export function countByStatus(fiches: readonly DashFiche[]): StatusCounts {
  const c = emptyCounts();
  for (const f of fiches) { c[f.status] += 1; c.total += 1; }
  return c;
}

/** Fiches by status for each group a fiche belongs to (a fiche may count in several groups). */
export function groupCounts<K>(fiches: readonly DashFiche[], keysOf: (f: DashFiche) => K[], labelOf: (k: K) => string): { label: string; counts: StatusCounts }[] {
  const groups = new Map<string, StatusCounts>();
  for (const f of fiches) {
    for (const key of new Set(keysOf(f).map(labelOf))) {
      const c = groups.get(key) ?? emptyCounts();
      c[f.status] += 1; c.total += 1;
      groups.set(key, c);
    }
  }
  const collator = new Intl.Collator('fr');
  return [...groups].map(([label, counts]) => ({ label, counts })).sort((a, b) => collator.compare(a.label, b.label));
}

/** Fiches by status for each environment their scope touches, in the organisation's order of environments. */
export function byEnvironment(fiches: readonly DashFiche[], reach: Map<number, Reach>, environments: readonly EnvironmentRef[]) {
  const present = presentEnvironments(environments, fiches.flatMap((f) => [...reach.get(f.id)!.environments]));
  const labelOf = new Map(present.map((e) => [e.code, e.label]));
  const order = new Map(present.map((e, i) => [e.label, i]));
  return groupCounts(fiches, (f) => [...reach.get(f.id)!.environments], (e) => labelOf.get(e) ?? e)
    .sort((a, b) => order.get(a.label)! - order.get(b.label)!);
}

export function byService(fiches: readonly DashFiche[], reach: Map<number, Reach>) {
  return groupCounts(fiches, (f) => [...reach.get(f.id)!.services.values()], (n) => n);
}

/** A commune's status for a fiche followed per instance, from its own instances: all done, some done, none yet. */
export function communeRolloutStatus(counts: { done: number; total: number }): Status {
  return counts.done === counts.total ? 'fait' : counts.done > 0 ? 'en_cours' : 'non_demarre';
}

/**
 * One row per commune: the status of each fiche touching its instances, or null. For a fiche followed per instance,
 * the commune's own rollout (its instances done of its instances in scope) and the status it makes.
 */
export function communeMatrix(fiches: readonly DashFiche[], instances: readonly DashInstance[], reach: Map<number, Reach>) {
  const communes = new Map<number, string>();
  for (const i of instances) if (i.communeId !== null) communes.set(i.communeId, i.communeName ?? '');
  const collator = new Intl.Collator('fr');
  return [...communes]
    .sort((a, b) => collator.compare(a[1], b[1]))
    .map(([id, name]) => {
      const counts = fiches.map((f) => (reach.get(f.id)!.communes.has(id) ? f.rollout?.byCommune.get(id) ?? null : null));
      return {
        communeId: id, communeName: name,
        cells: fiches.map((f, i) => (!reach.get(f.id)!.communes.has(id) ? null : counts[i] ? communeRolloutStatus(counts[i]!) : f.status)),
        counts,
      };
    });
}

/** The fiches followed per instance, with their counts. */
export function rolloutFiches(fiches: readonly DashFiche[]) {
  return fiches.filter((f) => f.rollout).map((f) => ({ fiche: f, counts: f.rollout! }));
}

export function openStrongEffects(fiches: readonly DashFiche[]) {
  return fiches.filter((f) => f.status !== 'fait').flatMap((f) => f.strongEffects.map((description) => ({ fiche: f, description })));
}

/** Steps done at the end of each month, from successive snapshots of each fiche. */
export function stepsTrend(events: readonly { ficheId: number; at: string; stepsDone: number }[], today: string): { month: string; done: number }[] {
  if (events.length === 0) return [];
  const sorted = [...events].sort((a, b) => (a.at < b.at ? -1 : 1));
  const months: string[] = [];
  for (let m = sorted[0]!.at.slice(0, 7); m <= today.slice(0, 7); m = format(addDays(parseISO(`${m}-01`), 32), 'yyyy-MM')) months.push(m);
  const current = new Map<number, number>();
  let i = 0;
  return months.map((month) => {
    while (i < sorted.length && sorted[i]!.at.slice(0, 7) <= month) { current.set(sorted[i]!.ficheId, sorted[i]!.stepsDone); i++; }
    return { month, done: [...current.values()].reduce((a, b) => a + b, 0) };
  });
}

/** Whether a code is in the organisation's list of environments. */
export function isEnvironment(v: string, environments: readonly EnvironmentRef[]): v is Environment { return environments.some((e) => e.code === v); }
export function isStatusValue(v: string): v is Status { return (STATUSES as readonly string[]).includes(v); }

/** What the organisation overview needs of each homologation the reader may see. */
export interface OverviewRow {
  id: number;
  state: HomologationState;
  /** Set when a decision other than a refusal has an end date. */
  validity: string | null;
  decision: { endsOn: string | null } | null;
  lateCount: number;
}

/** Months ahead in which an ending decision is listed as "ending soon". */
export const ENDING_SOON_MONTHS = 6;

/**
 * The organisation overview ("Vue d'ensemble"): counts per state; the decisions in force with an end date (not refused,
 * homologation not archived), earliest end first; those ending within six months; the late fiches of the live ones.
 */
export function organisationOverview<R extends OverviewRow>(rows: readonly R[], today: string) {
  const counts = STATES.map((state) => ({ state, label: STATE_LABELS[state], badge: STATE_BADGES[state], count: rows.filter((r) => r.state === state).length }));
  const live = rows.filter((r) => r.state !== 'archivee');
  const ending = live.filter((r) => r.validity !== null).sort((a, b) => (a.decision!.endsOn! < b.decision!.endsOn! ? -1 : a.decision!.endsOn! > b.decision!.endsOn! ? 1 : a.id - b.id));
  const horizon = format(addMonths(parseISO(today), ENDING_SOON_MONTHS), 'yyyy-MM-dd');
  const soon = ending.filter((r) => r.decision!.endsOn! >= today && r.decision!.endsOn! <= horizon);
  return {
    total: rows.length, counts, live, ending, soon, horizon,
    lateTotal: live.reduce((n, r) => n + r.lateCount, 0),
    archivedCount: rows.length - live.length,
  };
}
