import { frenchOrder } from '../domain/words';
import { format } from 'date-fns/format';
import type { Knex } from 'knex';
import { getHomologation, type HomologationSummary, homologationState, listHomologations, reminderMonths } from '../data/homologations';
import { isEmptyDraft } from '../data/lifecycle';
import { type Instance, instances as instanceRepo, type Service, services as serviceRepo } from '../data/referentials';
import { readinessOfCounts } from '../domain/dashboard';
import {
  daysLeft, type HomologationState, isReadOnly, STATE_BADGES, STATE_LABELS, STATES, stateOf, validityPhrase,
} from '../domain/homologation';
import { type Actor, communeRestriction } from '../domain/roles';
import { localDate } from '../domain/schedule';

/** A homologation as the home page and the organisation dashboard show it. */
export interface HomologationRow extends HomologationSummary {
  state: HomologationState;
  stateLabel: string;
  stateBadge: string;
  /** "expire dans 74 jours", when a decision other than a refusal has an end date. */
  validity: string | null;
  daysLeft: number | null;
  /** Readiness for the signature (0 to 5), over the fiches the reader sees; undefined without fiches. */
  readiness: number | undefined;
  lateCount: number;
  lateConditions: number;
}

/**
 * The homologations the user may see, with their state, validity, readiness and late fiches: the statements of
 * `listHomologations` plus one for the reminder thresholds, whatever their number.
 */
export async function homologationRows(db: Knex, user: Actor, now: Date): Promise<{ rows: HomologationRow[]; today: string }> {
  const today = format(now, 'yyyy-MM-dd');
  const [list, months] = await Promise.all([
    listHomologations(db, { communeId: communeRestriction(user), nowLocal: format(now, "yyyy-MM-dd'T'HH:mm") }),
    reminderMonths(db),
  ]);
  const rows = list.map((h): HomologationRow => {
    const state = stateOf({ archivedAt: h.archivedAt, ficheCount: h.ficheCount, decision: h.decision }, today, months);
    const valid = h.decision?.endsOn && h.decision.outcome !== 'refusee' ? h.decision.endsOn : null;
    return {
      ...h, state, stateLabel: STATE_LABELS[state], stateBadge: STATE_BADGES[state],
      validity: valid ? validityPhrase(valid, today) : null,
      daysLeft: valid ? daysLeft(valid, today) : null,
      readiness: h.progress.fiches ? readinessOfCounts(h.progress).index : undefined,
      lateCount: h.progress.late, lateConditions: h.progress.lateConditions,
    };
  });
  return { rows: rows.sort(byAttention), today };
}

/**
 * The order of the home page: what needs attention first. The expired and the soon-expiring come first, the
 * earliest end date first (so the expired, whose end dates are past, lead); then all the others by name (French
 * collation), then by id for equal names. The archived ones, shown only on request, sort among "the others".
 */
export function byAttention(a: HomologationRow, b: HomologationRow): number {
  const urgent = (r: HomologationRow) => r.state === 'expiree' || r.state === 'expire_bientot';
  if (urgent(a) !== urgent(b)) return urgent(a) ? -1 : 1;
  if (urgent(a)) {
    const ea = a.decision?.endsOn ?? '';
    const eb = b.decision?.endsOn ?? '';
    if (ea !== eb) return ea < eb ? -1 : 1;
  }
  return byName.compare(a.title, b.title) || a.id - b.id;
}

/** French collation, made once: `localeCompare` with a locale builds a collator at every comparison (most of a 200-row sort). */
const byName = new Intl.Collator('fr', { sensitivity: 'base' });

/** The organisation's services with their instances, for the perimeter's checkboxes (services without instances left out). */
export async function perimeterChoices(db: Knex): Promise<{ service: Service; instances: Instance[] }[]> {
  const [serviceList, instanceList] = await Promise.all([serviceRepo.list(db), instanceRepo.list(db)]);
  return serviceList.map((service) => ({ service, instances: instanceList.filter((i) => i.serviceId === service.id) })).filter((g) => g.instances.length > 0);
}


/** The home page's filters as typed in the query string (empty: none). */
export interface HomeFilters { etat: string; service: string }

export type HomePage =
  /** A filter naming no state, or no service the homologations cover: an error, not an empty list that looks like good news. */
  | { ok: false; message: string }
  | { ok: true; shown: HomologationRow[]; services: { id: number; name: string }[]; archivedCount: number; filters: HomeFilters };

/**
 * The home page's list: the rows the filters keep (the archived ones only when asked for by their state), and the
 * services the homologations cover, for the filter's list.
 */
export function homePage(rows: HomologationRow[], filters: HomeFilters): HomePage {
  const { etat, service } = filters;
  if (etat && !(STATES as readonly string[]).includes(etat)) {
    return { ok: false, message: `Filtre inconnu : l'état « ${etat} » n'existe pas. Choisissez un état dans la liste.` };
  }
  const services = [...new Map(rows.flatMap((r) => r.services).map((s) => [s.id, s])).values()].sort((a, b) => frenchOrder.compare(a.name, b.name));
  if (service && !services.some((s) => String(s.id) === service)) {
    return { ok: false, message: `Filtre inconnu : le service « ${service} » n'existe pas ou n'est couvert par aucune homologation. Choisissez un service dans la liste.` };
  }
  const shown = rows.filter((r) => (etat ? r.state === etat : r.state !== 'archivee') && (!service || r.services.some((s) => String(s.id) === service)));
  return { ok: true, shown, services, archivedCount: rows.filter((r) => r.state === 'archivee').length, filters: { etat, service } };
}

/**
 * What a homologation's page offers of its life cycle: preparing the renewal (whoever edits it by role, unless it has
 * one or is archived), archiving it and deleting it while an empty draft (administrators; `held` is read for them only).
 */
export function lifecycleActions(
  plan: { nextId: number | null; archivedAt: string | null }, who: { editor: boolean; admin: boolean }, held: Parameters<typeof isEmptyDraft>[0] | null,
): { canRenew: boolean; canArchive: boolean; canDelete: boolean } {
  return {
    canRenew: who.editor && plan.nextId === null && plan.archivedAt === null,
    canArchive: who.admin && plan.archivedAt === null,
    canDelete: who.admin && held !== null && isEmptyDraft(held),
  };
}

/**
 * Whether an administrator may put a milestone in this homologation's calendar: not when it does not exist, nor when it
 * is archived or lapsed (its calendar no longer changes, as under its own pages).
 */
export async function calendarRefusal(db: Knex, planId: number, now: Date, timeZone: string): Promise<'unknown' | 'read_only' | null> {
  const hom = await getHomologation(db, planId);
  if (!hom) return 'unknown';
  return isReadOnly(homologationState(hom, localDate(now, timeZone), await reminderMonths(db))) ? 'read_only' : null;
}
