import type { SideEffectLevel, Status } from './statuses';

export interface Step {
  id?: number;
  position: number;
  label: string;
  status: Status;
  /** Carried out by the partner communes themselves: shown in their digest. */
  forCommunes?: boolean;
  /** Who does it: an account, or a named person without an account (never both); undefined: not given (kept). */
  assigneeUserId?: number | null;
  assigneePersonId?: number | null;
  /** Its own target date; null: its fiche's applies. */
  targetDate?: string | null;
}

/** A step as read, with its responsible person's name. */
export interface StepDetail extends Step {
  id: number;
  assigneeUserId: number | null;
  assigneePersonId: number | null;
  assigneeName: string | null;
  targetDate: string | null;
}

/** The date a step is due: its own, else its fiche's. */
export const stepDue = (step: { targetDate?: string | null }, ficheTargetDate: string | null): string | null => step.targetDate ?? ficheTargetDate;

/** A step is late when the date it is due passed and it is not done. */
export function isStepLate(step: { status: string; targetDate?: string | null }, ficheTargetDate: string | null, today: string): boolean {
  const due = stepDue(step, ficheTargetDate);
  return step.status !== 'fait' && due !== null && due < today;
}

export interface ConclusionCount {
  count: number;
  total: number;
  label: string;
}

export interface SideEffect {
  level: SideEffectLevel;
  description: string;
}

export interface Owner {
  teamId: number;
  teamName: string;
  serviceId: number | null;
  serviceName: string | null;
}

/** A fiche is late when its target date has passed and it is not done. */
export function isLate(fiche: { targetDate: string | null; status: Status }, today: string): boolean {
  return fiche.status !== 'fait' && fiche.targetDate !== null && fiche.targetDate < today;
}

export function stepsProgress(steps: readonly Pick<Step, 'status'>[]): { done: number; total: number } {
  return { done: steps.filter((s) => s.status === 'fait').length, total: steps.length };
}

/**
 * Orders steps by the position the user typed (ties keep their previous order)
 * and renumbers them 1..n, so "3, 1, 2" or "10, 20, 15" become a clean sequence.
 */
export function renumberSteps<T extends { position: number }>(steps: readonly T[]): T[] {
  return steps
    .map((step, index) => ({ step, index }))
    .sort((a, b) => a.step.position - b.step.position || a.index - b.index)
    .map(({ step }, i) => ({ ...step, position: i + 1 }));
}

/**
 * Groups owners by team for display: "SNU 1 pour Toodego et SAU ; PWN pour Intranet et Extranet".
 * A team with no service owns the whole scope of the fiche.
 */
export function ownersByTeam(owners: readonly Owner[]): { teamName: string; services: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const owner of owners) {
    const services = groups.get(owner.teamName) ?? [];
    if (owner.serviceName) services.push(owner.serviceName);
    groups.set(owner.teamName, services);
  }
  return [...groups].map(([teamName, services]) => ({ teamName, services }));
}

export function ownersSummary(owners: readonly Owner[]): string {
  return ownersByTeam(owners)
    .map((g) => (g.services.length ? `${g.teamName} pour ${joinFrench(g.services)}` : g.teamName))
    .join(' ; ');
}

export function joinFrench(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} et ${items[items.length - 1]}`;
}

export function sideEffectsByLevel<T extends SideEffect>(effects: readonly T[]): { fort: T[]; faible: T[] } {
  return {
    fort: effects.filter((e) => e.level === 'fort'),
    faible: effects.filter((e) => e.level === 'faible'),
  };
}
