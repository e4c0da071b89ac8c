import { format } from 'date-fns';
import { type Request, type Response, Router } from 'express';
import { defaultHomologationId, listHomologations, planOfObject, reminderMonths } from '../../data/homologations';
import { daysLeft, OUTCOME_LABELS, STATE_BADGES, STATE_LABELS, STATES, stateOf, validityPhrase } from '../../domain/homologation';
import { readiness } from '../../domain/dashboard';
import { communeRestriction } from '../../domain/roles';
import type { Status } from '../../domain/statuses';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { HttpError, idParam, notFound } from '../errors';
import { str } from '../forms/fields';

/** The home page (the organisation's homologations) and the old one-plan addresses, redirected. */
export function homologationsRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/homologations', async (req, res) => {
    const restriction = communeRestriction(actor(req));
    const now = ctx.now();
    const today = format(now, 'yyyy-MM-dd');
    const [list, months] = [await listHomologations(ctx.db, { communeId: restriction, nowLocal: format(now, "yyyy-MM-dd'T'HH:mm") }), await reminderMonths(ctx.db)];
    const rows = list.map((h) => {
      const state = stateOf({ archivedAt: h.archivedAt, ficheCount: h.ficheCount, decision: h.decision }, today, months);
      const late = h.fiches.filter((f) => f.status !== 'fait' && f.targetDate !== null && f.targetDate < today);
      return {
        ...h, state, stateLabel: STATE_LABELS[state], stateBadge: STATE_BADGES[state],
        validity: h.decision?.endsOn && h.decision.outcome !== 'refusee' ? validityPhrase(h.decision.endsOn, today) : null,
        daysLeft: h.decision?.endsOn ? daysLeft(h.decision.endsOn, today) : null,
        readiness: h.ficheCount ? readiness(h.fiches.map((f) => ({
          id: f.id, number: 0, title: '', status: f.status as Status, targetDate: f.targetDate, owners: [], instanceIds: 'all' as const,
          steps: f.steps.map((st) => ({ label: '', status: st.status as Status })), strongEffects: Array.from({ length: f.strongEffects }, () => ''),
        })), today).index : undefined,
        lateCount: late.length, lateConditions: late.filter((f) => f.conditionOf !== null).length,
      };
    });
    const stateFilter = str(req.query.etat);
    if (stateFilter && !(STATES as readonly string[]).includes(stateFilter)) throw new HttpError(400, `Filtre inconnu : l'état « ${stateFilter} » n'existe pas.`);
    const serviceFilter = str(req.query.service);
    const services = [...new Map(rows.flatMap((r) => r.services).map((s) => [s.id, s])).values()].sort((a, b) => a.name.localeCompare(b.name, 'fr'));
    if (serviceFilter && !services.some((s) => String(s.id) === serviceFilter)) throw new HttpError(400, `Filtre inconnu : le service « ${serviceFilter} » n'existe pas.`);
    // archived homologations are listed only when asked for
    const shown = rows.filter((r) => (stateFilter ? r.state === stateFilter : r.state !== 'archivee') && (!serviceFilter || r.services.some((s) => String(s.id) === serviceFilter)));
    res.render('homologations/index', {
      title: 'Homologations', rows: shown, total: rows.length, archivedCount: rows.filter((r) => r.state === 'archivee').length,
      filters: { etat: stateFilter, service: serviceFilter }, services, STATES, STATE_LABELS, OUTCOME_LABELS, today,
      canCreate: actor(req).role === 'admin',
    });
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
    const rest = req.path.slice(`/${segment}/${id}`.length);
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    res.redirect(301, `/homologations/${planId}/${segment}/${id}${rest}${query}`);
  };
  router.get(['/fiches/:id', '/fiches/:id/modifier'], legacy('fiches', 'fiches', 'Cette fiche'));
  router.get(['/seances/:id', '/seances/:id/ordre-du-jour', '/seances/:id/ordre-du-jour.pdf', '/seances/:id/invitation.ics'], legacy('meetings', 'seances', 'Cette séance'));

  return router;
}
