import { type Request, type Response, Router } from 'express';
import { archiveHomologation, deleteEmptyDraft, holdings, isEmptyDraft, renewHomologation } from '../../data/lifecycle';
import { defaultRenewalTitle } from '../../domain/lifecycle';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { forbidden, HttpError, notFound } from '../errors';
import { type FieldErrors, parseForm } from '../forms/fields';
import { renewalForm } from '../forms/homologation';
import { scopeOf } from '../scope';
import { notify } from '../notice';

export const NEVER_DELETED = "Une homologation n'est jamais supprimée : archivez-la.";
export const ALREADY_ARCHIVED = 'Cette homologation est déjà archivée.';
export const ARCHIVED_NOT_RENEWED = 'Cette homologation est archivée : elle ne peut plus être renouvelée.';
export const alreadyRenewed = (title: string | null) =>
  `Cette homologation a déjà un renouvellement${title ? ` : « ${title} »` : ''}.`;

/**
 * The life cycle of a homologation beyond its decision (recorded at a signature meeting): preparing its renewal
 * (whoever edits it by role, even once it has expired), archiving it and deleting an empty draft (administrators).
 * Mounted under the scope (/homologations/:hid).
 */
export function lifecycleRouter(ctx: AppContext): Router {
  const router = Router();

  function requireAdmin(req: Request) {
    if (actor(req).role !== 'admin') throw forbidden();
  }

  function renderRenew(res: Response, status: number, o: { title: string; errors?: FieldErrors; alert?: string; next?: { id: number; title: string } | null }) {
    const { hom } = scopeOf(res);
    const next = o.next ?? (hom.nextId ? { id: hom.nextId, title: hom.nextTitle ?? '' } : null);
    res.status(status).render('lifecycle/renew', {
      title: `Renouveler « ${hom.title} »`, values: { title: o.title }, errors: o.errors ?? {}, alert: o.alert ?? null, next,
    });
  }

  router.get('/renouveler', (_req, res) => {
    const scope = scopeOf(res);
    if (!scope.editor) throw forbidden();
    const { hom } = scope;
    const alert = hom.nextId ? alreadyRenewed(hom.nextTitle) : hom.archivedAt ? ARCHIVED_NOT_RENEWED : undefined;
    renderRenew(res, 200, { title: defaultRenewalTitle(hom.title, scope.today), alert });
  });

  router.post('/renouveler', async (req, res) => {
    const scope = scopeOf(res);
    if (!scope.editor) throw forbidden();
    const form = parseForm(renewalForm, req.body);
    const { title } = form.values;
    if (!form.ok) return renderRenew(res, 422, { title, errors: form.errors });
    const result = await renewHomologation(ctx.db, scope.hom.id, form.data.title, actor(req), ctx.now());
    if (result.ok) {
      notify(req, `Le renouvellement « ${form.data.title} » est créé.`);
      return res.redirect(303, `/homologations/${result.id}`);
    }
    if (result.reason === 'already_renewed') return renderRenew(res, 409, { title, alert: alreadyRenewed(result.next?.title ?? null), next: result.next });
    if (result.reason === 'not_found') throw notFound('Cette homologation');
    return renderRenew(res, 409, { title, alert: ARCHIVED_NOT_RENEWED });
  });

  router.get('/archiver', (req, res) => {
    requireAdmin(req);
    const { hom } = scopeOf(res);
    res.render('lifecycle/archive', { title: `Archiver « ${hom.title} »`, alert: hom.archivedAt ? ALREADY_ARCHIVED : null });
  });

  router.post('/archiver', async (req, res) => {
    requireAdmin(req);
    const { hom, base } = scopeOf(res);
    const result = await archiveHomologation(ctx.db, hom.id, actor(req), ctx.now());
    if (result === 'not_found') throw notFound('Cette homologation');
    if (result === 'already') throw new HttpError(409, ALREADY_ARCHIVED);
    notify(req, `L'homologation « ${hom.title} » est archivée.`);
    res.redirect(303, base);
  });

  router.get('/supprimer', async (req, res) => {
    requireAdmin(req);
    const { hom } = scopeOf(res);
    const held = await holdings(ctx.db, hom.id);
    res.render('lifecycle/delete', { title: `Supprimer « ${hom.title} »`, held, deletable: isEmptyDraft(held), alert: isEmptyDraft(held) ? null : NEVER_DELETED });
  });

  router.post('/supprimer', async (req, res) => {
    requireAdmin(req);
    const { hom } = scopeOf(res);
    const result = await deleteEmptyDraft(ctx.db, hom.id, actor(req), ctx.now());
    if (result === 'not_found') throw notFound('Cette homologation');
    if (result === 'not_empty') {
      const held = await holdings(ctx.db, hom.id);
      return res.status(409).render('lifecycle/delete', { title: `Supprimer « ${hom.title} »`, held, deletable: false, alert: NEVER_DELETED });
    }
    notify(req, `L'homologation « ${hom.title} » est supprimée.`);
    res.redirect(303, '/homologations');
  });

  return router;
}
