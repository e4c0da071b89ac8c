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
  /**
   * Its steps; when `stepCounts` is given, only those that may be late (not done, their due date passed: the dashboard
   * lists no other), the counts covering them all.
   */
  steps: { label: string; status: Status; targetDate?: string | null; assigneeName?: string | null }[];
  /** Steps done and in all, when `steps` holds only the late ones (or none). */
  stepCounts?: { done: number; total: number };
  /** When its late steps were counted rather than read (`steps` empty): how many, and the earliest date due among them. */
  lateStepSummary?: { count: number; since: string };
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

/** What the whole perimeter the reader may see touches (a fiche on the whole perimeter's reach), with the names. */
export interface DashPerimeter { services: { id: number; name: string }[]; environments: Environment[]; communes: { id: number; name: string }[] }

/**
 * The reach of every fiche, computed once: fiches on the whole perimeter share one value (the perimeter's), the
 * others read their own instances (`instances`: those their scopes name), so the cost is the size of the scopes,
 * not fiches × instances.
 */
export function reachOf(fiches: readonly DashFiche[], instances: readonly DashInstance[], perimeter: DashPerimeter): Map<number, Reach> {
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
  const all: Reach = {
    services: new Map(perimeter.services.map((sv) => [sv.id, sv.name])), environments: new Set(perimeter.environments), communes: new Set(perimeter.communes.map((c) => c.id)),
  };
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

/** A fiche's steps done and in all: its counts when the loader gave them, else from its steps. */
export function stepCountsOf(f: DashFiche): { done: number; total: number } {
  return f.stepCounts ?? { done: f.steps.filter((s) => s.status === 'fait').length, total: f.steps.length };
}

/** Steps done and in all over the fiches given. */
export function totalStepCounts(fiches: readonly DashFiche[]): { done: number; total: number } {
  const sum = { done: 0, total: 0 };
  for (const f of fiches) {
    const c = stepCountsOf(f);
    sum.done += c.done;
    sum.total += c.total;
  }
  return sum;
}

export function readiness(fiches: readonly DashFiche[], today: string): { index: number; components: ReadinessComponent[] } {
  const { done: stepsDone, total: stepsTotal } = totalStepCounts(fiches);
  const lateCount = fiches.filter((f) => late(f, today)).length;
  const strong = fiches.flatMap((f) => f.strongEffects.map(() => f.status));
  const strongOpen = strong.filter((s) => s !== 'fait').length;
  const done = fiches.filter((f) => f.status === 'fait').length;
  return readinessOfCounts({ fiches: fiches.length, done, late: lateCount, steps: stepsTotal, stepsDone, strong: strong.length, strongOpen });
}

/** What the readiness index is computed from: the fiches, their steps and strong side effects, counted. */
export interface ReadinessCounts { fiches: number; done: number; late: number; steps: number; stepsDone: number; strong: number; strongOpen: number }

/** The readiness index from counts (the home page counts its homologations' fiches in SQL). */
export function readinessOfCounts(c: ReadinessCounts): { index: number; components: ReadinessComponent[] } {
  const share = (n: number, d: number, empty = 0) => (d === 0 ? empty : n / d);
  const parts: [keyof typeof READINESS_WEIGHTS, string, number, string][] = [
    ['steps', 'Actions faites', share(c.stepsDone, c.steps), `${plural(c.steps - c.stepsDone, 'action reste', 'actions restent')} à faire.`],
    ['onTime', 'Fiches dans les délais', share(c.fiches - c.late, c.fiches), `${plural(c.late, 'fiche', 'fiches')} en retard à replanifier ou terminer.`],
    ['strong', 'Effets de bord forts levés', share(c.strong - c.strongOpen, c.strong, 1), `${plural(c.strongOpen, 'effet de bord fort', 'effets de bord forts')} sur des fiches non terminées, à arbitrer.`],
    ['done', 'Fiches terminées', share(c.done, c.fiches), `${plural(c.fiches - c.done, 'fiche non terminée', 'fiches non terminées')}.`],
  ];
  const components = parts.map(([key, label, value, advice]) => {
    const weight = READINESS_WEIGHTS[key];
    return { key, label, value, weight, points: 5 * weight * value, gain: 5 * weight * (1 - value), advice };
  });
  return { index: components.reduce((sum, c) => sum + c.points, 0), components };
}

export type LateStep = DashFiche['steps'][number] & { due: string };

/** A fiche's late steps with the date each is due. */
export function lateStepsDue(f: Pick<DashFiche, 'targetDate'>, steps: DashFiche['steps'], today: string): LateStep[] {
  return steps.filter((s) => isStepLate(s, f.targetDate, today)).map((s) => ({ ...s, due: stepDue(s, f.targetDate)! }));
}

/**
 * The fiches that are late, or hold a late step: a step is late by its own date (its fiche's when it has none), so a
 * fiche on time may hold a late step, and a late fiche's steps due later are not. `since` is the earliest date passed;
 * `lateSteps` those read (none when they were only counted: see lateStepSummary), `lateStepCount` how many in all.
 */
export function lateFiches(fiches: readonly DashFiche[], today: string) {
  const out: { fiche: DashFiche; lateSteps: LateStep[]; lateStepCount: number; since: string }[] = [];
  for (const f of fiches) {
    let since = late(f, today) ? f.targetDate! : undefined;
    const lateSteps = lateStepsDue(f, f.steps, today);
    for (const s of lateSteps) if (since === undefined || s.due < since) since = s.due;
    // late steps counted, not read: their count and earliest date
    const summary = f.lateStepSummary;
    if (summary && (since === undefined || summary.since < since)) since = summary.since;
    if (since !== undefined) out.push({ fiche: f, lateSteps, lateStepCount: summary?.count ?? lateSteps.length, since });
  }
  return out.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : a.fiche.number - b.fiche.number));
}

export interface ComingItem { date: string; kind: 'fiche' | 'jalon'; label: string; ficheId?: number; window: 30 | 60 | 90 }

export function coming(fiches: readonly DashFiche[], milestones: readonly { dueDate: string; title: string; done: boolean }[], today: string): ComingItem[] {
  const limit = (days: number) => format(addDays(parseISO(today), days), 'yyyy-MM-dd');
  const [in30, in60, in90] = [limit(30), limit(60), limit(90)];
  const windowOf = (d: string): 30 | 60 | 90 | null => (d < today ? null : d <= in30 ? 30 : d <= in60 ? 60 : d <= in90 ? 90 : null);
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

/** The communes having instances in the perimeter, in French order. */
function communesOf(perimeter: DashPerimeter): [number, string][] {
  const collator = new Intl.Collator('fr');
  return perimeter.communes.map((c): [number, string] => [c.id, c.name]).sort((a, b) => collator.compare(a[1], b[1]));
}

/** One commune's row of the matrix: the status of each fiche touching its instances (its own rollout's when followed), or null. */
function matrixRow(id: number, name: string, fiches: readonly DashFiche[], reach: Map<number, Reach>) {
  const counts = fiches.map((f) => (reach.get(f.id)!.communes.has(id) ? f.rollout?.byCommune.get(id) ?? null : null));
  return {
    communeId: id, communeName: name,
    cells: fiches.map((f, i) => (!reach.get(f.id)!.communes.has(id) ? null : counts[i] ? communeRolloutStatus(counts[i]!) : f.status)),
    counts,
  };
}
export type MatrixRow = ReturnType<typeof matrixRow>;

/**
 * One row per commune: the status of each fiche touching its instances, or null. For a fiche followed per instance,
 * the commune's own rollout (its instances done of its instances in scope) and the status it makes.
 */
export function communeMatrix(fiches: readonly DashFiche[], perimeter: DashPerimeter, reach: Map<number, Reach>): MatrixRow[] {
  return communesOf(perimeter).map(([id, name]) => matrixRow(id, name, fiches, reach));
}

/** The matrix's rows of the communes given only, in their order. */
export function matrixRows(communes: readonly { communeId: number; communeName: string }[], fiches: readonly DashFiche[], reach: Map<number, Reach>): MatrixRow[] {
  return communes.map((c) => matrixRow(c.communeId, c.communeName, fiches, reach));
}

export interface CommuneStanding { communeId: number; communeName: string; fiches: number; open: number; late: number }

/**
 * Each commune's standing, the most to follow first: the fiches touching its instances, those not done there (a
 * fiche followed per instance: not all of the commune's instances done), and of those the ones whose target date
 * has passed; ordered by late, then not done, most first, then in French order. The same cells as the matrix,
 * counted without drawing it: a fiche on the whole perimeter counts once for every commune.
 */
export function communeStandings(fiches: readonly DashFiche[], perimeter: DashPerimeter, reach: Map<number, Reach>, today: string): CommuneStanding[] {
  const communes = communesOf(perimeter);
  const open = (s: Status) => s !== 'fait';
  const isLateAt = (f: DashFiche, s: Status) => s !== 'fait' && f.targetDate !== null && f.targetDate < today;
  const everywhere = { fiches: 0, open: 0, late: 0 };
  const own = new Map<number, { fiches: number; open: number; late: number }>();
  const add = (id: number, f: DashFiche, s: Status) => {
    const c = own.get(id) ?? { fiches: 0, open: 0, late: 0 };
    c.fiches += 1;
    if (open(s)) c.open += 1;
    if (isLateAt(f, s)) c.late += 1;
    own.set(id, c);
  };
  for (const f of fiches) {
    const r = reach.get(f.id)!;
    if (f.instanceIds === 'all' && !f.rollout) {
      // the same cell for every commune having instances: counted once
      everywhere.fiches += 1;
      if (open(f.status)) everywhere.open += 1;
      if (isLateAt(f, f.status)) everywhere.late += 1;
      continue;
    }
    for (const id of r.communes) {
      const counts = f.rollout?.byCommune.get(id);
      add(id, f, counts ? communeRolloutStatus(counts) : f.status);
    }
  }
  // communes come in French order; the sort is stable, so equals stay in that order
  return communes.map(([id, name]) => {
    const c = own.get(id);
    return { communeId: id, communeName: name, fiches: everywhere.fiches + (c?.fiches ?? 0), open: everywhere.open + (c?.open ?? 0), late: everywhere.late + (c?.late ?? 0) };
  }).sort((a, b) => b.late - a.late || b.open - a.open);
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
