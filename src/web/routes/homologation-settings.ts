import { type Request, type Response, Router } from 'express';
import {
  addMember, type FicheUsingInstances, instancesInFicheScopes, listMembers, memberCandidates, planInstanceIds, removeMember, setMemberRole,
  updateHomologationSettings,
} from '../../data/homologations';
import { MEMBER_ROLE_LABELS, MEMBER_ROLES } from '../../domain/homologation';
import { ROLE_LABELS } from '../../domain/roles';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { idParam, notFound } from '../errors';
import { type FieldErrors, parseForm } from '../forms/fields';
import {
  type HomologationFormValues, homologationSettingsForm, INSTANCE_DELETED_MEANWHILE, memberForm, memberRoleForm, readHomologationForm,
} from '../forms/homologation';
import { scopeOf } from '../scope';
import { perimeterChoices } from '../../services/homologations';
import { notify } from '../notice';
import { setEvidenceRequired } from '../../data/evidence';

type SettingsValues = HomologationFormValues<typeof homologationSettingsForm>;

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
    const [groups, used] = await Promise.all([perimeterChoices(ctx.db), instancesInFicheScopes(ctx.db, hom.id)]);
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
    const form = readHomologationForm(homologationSettingsForm, req.body, await perimeterChoices(ctx.db));
    if (!form.ok) return renderSettings(res, 422, form.values, form.errors);
    const { values } = form;
    const saved = await updateHomologationSettings(ctx.db, hom.id, form.data, actor(req), ctx.now());
    if (saved.ok) {
      notify(req, "Les paramètres de l'homologation sont enregistrés.");
      return res.redirect(303, base);
    }
    if (saved.reason === 'not_found') throw notFound('Cette homologation');
    if (saved.reason === 'unknown_instance') return renderSettings(res, 422, values, { instanceIds: INSTANCE_DELETED_MEANWHILE });
    const names = saved.fiches.map((f) => `n°${f.number}`).join(', ');
    return renderSettings(res, 422, values, {
      instanceIds: `Des instances retirées du périmètre sont dans celui de fiches actions (${names}) : retirez-les d'abord de ces fiches, ou gardez-les dans le périmètre.`,
    }, saved.fiches);
  });

  /** Whether a step marked done must come with evidence (a checkbox: absent means no). */
  router.post('/parametres/pieces', admin, async (req: Request, res: Response) => {
    const { hom, base } = scopeOf(res);
    const required = req.body?.evidenceRequiredForDone === 'oui';
    if (!(await setEvidenceRequired(ctx.db, hom.id, required, actor(req), ctx.now()))) throw notFound('Cette homologation');
    notify(req, required
      ? "Une étape marquée « Fait » demandera désormais une pièce justificative ou une justification."
      : "Une étape peut désormais être marquée « Fait » sans pièce justificative.");
    res.redirect(303, `${base}/parametres`);
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
    const form = parseForm(memberForm, req.body);
    const { values } = form;
    if (!form.ok) return renderMembers(res, 422, { values, errors: form.errors });
    const saved = await addMember(ctx.db, hom.id, form.data.userId, form.data.role, actor(req), ctx.now());
    if (saved.ok) {
      notify(req, 'La personne est ajoutée aux membres de cette homologation.');
      return res.redirect(303, `${base}/membres`);
    }
    if (saved.reason === 'not_found') throw notFound('Cette homologation');
    const message = saved.reason === 'duplicate'
      ? 'Cette personne est déjà membre de cette homologation : changez son rôle dans la liste ci-dessus.'
      : "Cette personne ne peut pas être ajoutée : seuls les comptes actifs de l'équipe projet ou du comité le peuvent (un administrateur a déjà tous les droits ; un agent de commune suit ses instances).";
    return renderMembers(res, 422, { values, errors: { userId: message } });
  });

  router.post('/membres/:userId', admin, async (req, res) => {
    const { hom, base } = scopeOf(res);
    const userId = idParam(req.params.userId, 'Ce membre');
    const form = parseForm(memberRoleForm, req.body);
    if (!form.ok) return renderMembers(res, 422, { alert: form.errors.role ?? 'Choisissez un rôle dans la liste.' });
    const saved = await setMemberRole(ctx.db, hom.id, userId, form.data.role, actor(req), ctx.now());
    if (!saved.ok) throw notFound('Ce membre');
    notify(req, `Le rôle est enregistré : ${MEMBER_ROLE_LABELS[form.data.role]}.`);
    res.redirect(303, `${base}/membres`);
  });

  router.post('/membres/:userId/retirer', admin, async (req, res) => {
    const { hom, base } = scopeOf(res);
    const userId = idParam(req.params.userId, 'Ce membre');
    const saved = await removeMember(ctx.db, hom.id, userId, actor(req), ctx.now());
    if (!saved.ok) throw notFound('Ce membre');
    notify(req, 'La personne est retirée des membres de cette homologation.');
    res.redirect(303, `${base}/membres`);
  });

  return router;
}
