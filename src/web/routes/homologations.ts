import { format } from 'date-fns';
import { type Request, type Response, Router } from 'express';
import {
  createHomologation, defaultHomologationId, type HomologationSummary, latestOrganisation, listHomologations, planOfObject, reminderMonths, touchesCommune,
} from '../../data/homologations';
import { instances as instanceRepo, services as serviceRepo } from '../../data/referentials';
import {
  daysLeft, type HomologationState, OUTCOME_LABELS, STATE_BADGES, STATE_LABELS, STATES, stateOf, validityPhrase,
} from '../../domain/homologation';
import { readiness } from '../../domain/dashboard';
import { type Actor, communeRestriction } from '../../domain/roles';
import type { Status } from '../../domain/statuses';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { forbidden, HttpError, idParam, notFound } from '../errors';
import { type FieldErrors, str } from '../forms/fields';
import { homologationForm, type HomologationFormValues, INSTANCE_DELETED_MEANWHILE, type PerimeterGroup, readHomologationForm } from '../forms/homologation';

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
export async function homologationRows(ctx: AppContext, user: Actor): Promise<{ rows: HomologationRow[]; today: string }> {
  const now = ctx.now();
  const today = format(now, 'yyyy-MM-dd');
  const [list, months] = await Promise.all([
    listHomologations(ctx.db, { communeId: communeRestriction(user), nowLocal: format(now, "yyyy-MM-dd'T'HH:mm") }),
    reminderMonths(ctx.db),
  ]);
  const rows = list.map((h): HomologationRow => {
    const state = stateOf({ archivedAt: h.archivedAt, ficheCount: h.ficheCount, decision: h.decision }, today, months);
    const late = h.fiches.filter((f) => f.status !== 'fait' && f.targetDate !== null && f.targetDate < today);
    const valid = h.decision?.endsOn && h.decision.outcome !== 'refusee' ? h.decision.endsOn : null;
    return {
      ...h, state, stateLabel: STATE_LABELS[state], stateBadge: STATE_BADGES[state],
      validity: valid ? validityPhrase(valid, today) : null,
      daysLeft: valid ? daysLeft(valid, today) : null,
      readiness: h.fiches.length ? readiness(h.fiches.map((f) => ({
        id: f.id, number: 0, title: '', status: f.status as Status, targetDate: f.targetDate, owners: [], instanceIds: 'all' as const,
        steps: f.steps.map((st) => ({ label: '', status: st.status as Status })), strongEffects: Array.from({ length: f.strongEffects }, () => ''),
      })), today).index : undefined,
      lateCount: late.length, lateConditions: late.filter((f) => f.conditionOf !== null).length,
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
  return a.title.localeCompare(b.title, 'fr', { sensitivity: 'base' }) || a.id - b.id;
}

// ---------------------------------------------------------------- the perimeter form (creation and settings)

/** The organisation's services with their instances, for the perimeter's checkboxes (services without instances left out). */
export async function perimeterChoices(ctx: AppContext): Promise<PerimeterGroup[]> {
  const [serviceList, instanceList] = await Promise.all([serviceRepo.list(ctx.db), instanceRepo.list(ctx.db)]);
  return serviceList.map((service) => ({ service, instances: instanceList.filter((i) => i.serviceId === service.id) })).filter((g) => g.instances.length > 0);
}

/** The home page (the organisation's homologations), the creation of one, and the old one-plan addresses, redirected. */
export function homologationsRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/homologations', async (req, res) => {
    const { rows, today } = await homologationRows(ctx, actor(req));
    const stateFilter = str(req.query.etat);
    if (stateFilter && !(STATES as readonly string[]).includes(stateFilter)) throw new HttpError(400, `Filtre inconnu : l'état « ${stateFilter} » n'existe pas. Choisissez un état dans la liste.`);
    const serviceFilter = str(req.query.service);
    const services = [...new Map(rows.flatMap((r) => r.services).map((s) => [s.id, s])).values()].sort((a, b) => a.name.localeCompare(b.name, 'fr'));
    if (serviceFilter && !services.some((s) => String(s.id) === serviceFilter)) throw new HttpError(400, `Filtre inconnu : le service « ${serviceFilter} » n'existe pas ou n'est couvert par aucune homologation. Choisissez un service dans la liste.`);
    // archived homologations are listed only when asked for
    const shown = rows.filter((r) => (stateFilter ? r.state === stateFilter : r.state !== 'archivee') && (!serviceFilter || r.services.some((s) => String(s.id) === serviceFilter)));
    res.render('homologations/index', {
      title: 'Homologations', rows: shown, total: rows.length, archivedCount: rows.filter((r) => r.state === 'archivee').length,
      filters: { etat: stateFilter, service: serviceFilter }, services, STATES, STATE_LABELS, OUTCOME_LABELS, today,
      canCreate: actor(req).role === 'admin',
    });
  });

  // ---- creating a homologation (administrators)
  const renderNew = async (res: Response, status: number, values: HomologationFormValues<typeof homologationForm>, errors: FieldErrors = {}) => {
    res.status(status).render('homologations/new', { title: 'Nouvelle homologation', values, errors, groups: await perimeterChoices(ctx) });
  };
  router.get('/homologations/nouvelle', requirePermission('admin'), async (_req, res) => {
    await renderNew(res, 200, { title: '', organisation: await latestOrganisation(ctx.db), description: '', instanceIds: [], serviceIds: [] });
  });
  router.post('/homologations/nouvelle', requirePermission('admin'), async (req: Request, res: Response) => {
    const form = readHomologationForm(homologationForm, req.body, await perimeterChoices(ctx));
    if (!form.ok) return renderNew(res, 422, form.values, form.errors);
    const saved = await createHomologation(ctx.db, form.data, actor(req), ctx.now());
    if (!saved.ok) return renderNew(res, 422, form.values, { instanceIds: INSTANCE_DELETED_MEANWHILE });
    res.redirect(303, `/homologations/${saved.id}`);
  });

  // ---- the addresses of the one-plan product, kept working
  router.get('/plan', async (req, res) => {
    const id = await defaultHomologationId(ctx.db, communeRestriction(actor(req)));
    res.redirect(301, id === null ? '/homologations' : `/homologations/${id}`);
  });
  router.get('/seances', (_req, res) => res.redirect(301, '/homologations'));
  const legacy = (table: 'fiches' | 'meetings', segment: string, what: string) => async (req: Request, res: Response) => {
    const id = idParam(req.params.id, what);
    const planId = await planOfObject(ctx.db, table, id);
    if (planId === null) throw notFound(what);
    // a commune's staff are not told which homologation holds an object of one that does not touch their commune
    const restriction = communeRestriction(actor(req));
    if (restriction !== null && !(await touchesCommune(ctx.db, planId, restriction))) throw forbidden();
    const rest = req.path.slice(`/${segment}/${id}`.length);
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    res.redirect(301, `/homologations/${planId}/${segment}/${id}${rest}${query}`);
  };
  router.get(['/fiches/:id', '/fiches/:id/modifier'], legacy('fiches', 'fiches', 'Cette fiche'));
  router.get(['/seances/:id', '/seances/:id/ordre-du-jour', '/seances/:id/ordre-du-jour.pdf', '/seances/:id/invitation.ics'], legacy('meetings', 'seances', 'Cette séance'));

  return router;
}
