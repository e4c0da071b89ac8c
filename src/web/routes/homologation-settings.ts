import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import {
  addMember, type FicheUsingInstances, instancesInFicheScopes, listMembers, memberCandidates, planInstanceIds, removeMember, setMemberRole,
  updateHomologationSettings,
} from '../../data/homologations';
import { MEMBER_ROLE_LABELS, MEMBER_ROLES, type MemberRole } from '../../domain/homologation';
import { ROLE_LABELS } from '../../domain/roles';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { idParam, notFound } from '../errors';
import { type FieldErrors, fieldErrors, optionalText, str } from '../forms/fields';
import { scopeOf } from '../scope';
import { homologationFields, type PerimeterValues, perimeterChoices, readPerimeter } from './homologations';

const settingsSchema = z.object({ ...homologationFields, reminder: optionalText(2000) });

interface SettingsValues extends PerimeterValues { title: string; organisation: string; description: string; reminder: string }

const memberRole = z.enum(MEMBER_ROLES, { error: 'Choisissez un rôle dans la liste : équipe projet ou comité.' });
const addSchema = z.object({
  userId: z.string().regex(/^\d{1,9}$/, { error: 'Choisissez une personne dans la liste.' }).transform(Number),
  role: memberRole,
});

/**
 * A homologation's settings (name, organisation, description, reminder, perimeter) and its members, under
 * /homologations/:hid: administrators only. Writes on an archived or expired homologation are refused by the scope (409).
 */
export function homologationSettingsRouter(ctx: AppContext): Router {
  const router = Router();
  // on each route, not router.use: this router sees every request of the homologation that the others left
  const admin = requirePermission('admin');

  // ---- settings
  const renderSettings = async (res: Response, status: number, values: SettingsValues, errors: FieldErrors = {}, inUse: FicheUsingInstances[] = []) => {
    const { hom, base } = scopeOf(res);
    const [groups, used] = await Promise.all([perimeterChoices(ctx), instancesInFicheScopes(ctx.db, hom.id)]);
    res.status(status).render('homologations/settings', {
      title: `Paramètres — ${hom.title}`, values, errors, groups, usedBy: Object.fromEntries(used), inUse, base, readOnly: scopeOf(res).readOnly,
    });
  };

  router.get('/parametres', admin, async (_req, res) => {
    const { hom } = scopeOf(res);
    const instanceIds = await planInstanceIds(ctx.db, hom.id);
    await renderSettings(res, 200, {
      title: hom.title, organisation: hom.organisation, description: hom.description, reminder: hom.reminder,
      instanceIds: instanceIds.map(String), serviceIds: [],
    });
  });

  router.post('/parametres', admin, async (req: Request, res: Response) => {
    const { hom, base } = scopeOf(res);
    const body = req.body as Record<string, unknown>;
    const perimeter = readPerimeter(body, await perimeterChoices(ctx));
    const values: SettingsValues = {
      title: str(body.title), organisation: str(body.organisation), description: str(body.description), reminder: str(body.reminder), ...perimeter.values,
    };
    const parsed = settingsSchema.safeParse(values);
    const errors: FieldErrors = parsed.success ? {} : fieldErrors(parsed.error);
    if (perimeter.error) errors.instanceIds = perimeter.error;
    if (!parsed.success || perimeter.error) return renderSettings(res, 422, values, errors);
    const saved = await updateHomologationSettings(ctx.db, hom.id, { ...parsed.data, instanceIds: perimeter.ids }, actor(req), ctx.now());
    if (saved.ok) return res.redirect(303, base);
    if (saved.reason === 'not_found') throw notFound('Cette homologation');
    if (saved.reason === 'unknown_instance') {
      return renderSettings(res, 422, values, { instanceIds: "Une instance cochée vient d'être supprimée du catalogue : vérifiez le périmètre et enregistrez à nouveau." });
    }
    const names = saved.fiches.map((f) => `n°${f.number}`).join(', ');
    return renderSettings(res, 422, values, {
      instanceIds: `Des instances retirées du périmètre sont dans celui de fiches actions (${names}) : retirez-les d'abord de ces fiches, ou gardez-les dans le périmètre.`,
    }, saved.fiches);
  });

  // ---- members
  const renderMembers = async (res: Response, status: number, opts: { values?: { userId: string; role: string }; errors?: FieldErrors; alert?: string } = {}) => {
    const { hom, base, readOnly } = scopeOf(res);
    const [members, candidates] = await Promise.all([listMembers(ctx.db, hom.id), memberCandidates(ctx.db, hom.id)]);
    res.status(status).render('homologations/members', {
      title: `Membres — ${hom.title}`, members, candidates, values: opts.values ?? { userId: '', role: 'editor' }, errors: opts.errors ?? {},
      alert: opts.alert ?? null, MEMBER_ROLES, MEMBER_ROLE_LABELS, ROLE_LABELS, base, readOnly,
    });
  };

  router.get('/membres', admin, async (_req, res) => renderMembers(res, 200));

  router.post('/membres', admin, async (req, res) => {
    const { hom, base } = scopeOf(res);
    const body = req.body as Record<string, unknown>;
    const values = { userId: str(body.userId), role: str(body.role) };
    const parsed = addSchema.safeParse(values);
    if (!parsed.success) return renderMembers(res, 422, { values, errors: fieldErrors(parsed.error) });
    const saved = await addMember(ctx.db, hom.id, parsed.data.userId, parsed.data.role, actor(req), ctx.now());
    if (saved.ok) return res.redirect(303, `${base}/membres`);
    if (saved.reason === 'not_found') throw notFound('Cette homologation');
    const message = saved.reason === 'duplicate'
      ? 'Cette personne est déjà membre de cette homologation : changez son rôle dans la liste ci-dessus.'
      : "Cette personne ne peut pas être ajoutée : seuls les comptes actifs de l'équipe projet ou du comité le peuvent (un administrateur a déjà tous les droits ; un agent de commune suit ses instances).";
    return renderMembers(res, 422, { values, errors: { userId: message } });
  });

  router.post('/membres/:userId', admin, async (req, res) => {
    const { hom, base } = scopeOf(res);
    const userId = idParam(req.params.userId, 'Ce membre');
    const parsed = memberRole.safeParse(str((req.body as Record<string, unknown>).role));
    if (!parsed.success) return renderMembers(res, 422, { alert: parsed.error.issues[0]?.message ?? 'Choisissez un rôle dans la liste.' });
    const saved = await setMemberRole(ctx.db, hom.id, userId, parsed.data as MemberRole, actor(req), ctx.now());
    if (!saved.ok) throw notFound('Ce membre');
    res.redirect(303, `${base}/membres`);
  });

  router.post('/membres/:userId/retirer', admin, async (req, res) => {
    const { hom, base } = scopeOf(res);
    const userId = idParam(req.params.userId, 'Ce membre');
    const saved = await removeMember(ctx.db, hom.id, userId, actor(req), ctx.now());
    if (!saved.ok) throw notFound('Ce membre');
    res.redirect(303, `${base}/membres`);
  });

  return router;
}
