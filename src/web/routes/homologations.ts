import { type Request, type Response, Router } from 'express';
import { createHomologation, defaultHomologationId, latestOrganisation, planOfObject, touchesCommune } from '../../data/homologations';
import { OUTCOME_LABELS, STATE_LABELS, STATES } from '../../domain/homologation';
import { communeRestriction } from '../../domain/roles';
import { homePage, homologationRows, perimeterChoices } from '../../services/homologations';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { forbidden, HttpError, idParam, notFound } from '../errors';
import { type FieldErrors, str } from '../forms/fields';
import { homologationForm, type HomologationFormValues, INSTANCE_DELETED_MEANWHILE, readHomologationForm } from '../forms/homologation';
import { notify } from '../notice';

/** The home page (the organisation's homologations), the creation of one, and the old one-plan addresses, redirected. */
export function homologationsRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/homologations', async (req, res) => {
    const { rows, today } = await homologationRows(ctx.db, actor(req), ctx.now());
    const list = homePage(rows, { etat: str(req.query.etat), service: str(req.query.service) });
    if (!list.ok) throw new HttpError(400, list.message);
    res.render('homologations/index', {
      title: 'Homologations', rows: list.shown, total: rows.length, archivedCount: list.archivedCount,
      filters: list.filters, services: list.services, STATES, STATE_LABELS, OUTCOME_LABELS, today,
      canCreate: actor(req).role === 'admin',
    });
  });

  // ---- creating a homologation (administrators)
  const renderNew = async (res: Response, status: number, values: HomologationFormValues<typeof homologationForm>, errors: FieldErrors = {}) => {
    res.status(status).render('homologations/new', { title: 'Nouvelle homologation', values, errors, groups: await perimeterChoices(ctx.db) });
  };
  router.get('/homologations/nouvelle', requirePermission('admin'), async (_req, res) => {
    await renderNew(res, 200, { title: '', organisation: await latestOrganisation(ctx.db), description: '', instanceIds: [], serviceIds: [] });
  });
  router.post('/homologations/nouvelle', requirePermission('admin'), async (req: Request, res: Response) => {
    const form = readHomologationForm(homologationForm, req.body, await perimeterChoices(ctx.db));
    if (!form.ok) return renderNew(res, 422, form.values, form.errors);
    const saved = await createHomologation(ctx.db, form.data, actor(req), ctx.now());
    if (!saved.ok) return renderNew(res, 422, form.values, { instanceIds: INSTANCE_DELETED_MEANWHILE });
    notify(req, `L'homologation « ${form.data.title} » est créée.`);
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
