import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { anonymizeUser, unusablePasswordHash } from '../../data/accounts';
import { recordAudit } from '../../data/audit';
import { communes } from '../../data/referentials';
import { createUser, findUser, lastSuspender, listUsers } from '../../data/users';
import { isCommuneRole } from '../../domain/roles';
import { passwordLink } from '../../services/accounts';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { forbidden, HttpError, idParam, notFound } from '../errors';
import { type FieldErrors, fieldErrors, requiredText, str } from '../forms/fields';

const newUserSchema = z.object({
  name: requiredText(150, 'Saisissez le nom et le prénom.'),
  email: z.string().trim().min(1, { error: "Saisissez l'adresse électronique." }).max(254, { error: '254 caractères au maximum.' })
    .regex(/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/, { error: 'Saisissez une adresse électronique valide (par exemple prenom.nom@commune.fr).' }),
});

/**
 * Delegated administration (seed 003's "administrateur partenaire"): a commune administrator creates,
 * suspends and removes the agents of their own commune, always with the commune role. They never see
 * another commune's accounts, never touch a Métropole account or another commune administrator, and
 * cannot give anyone more rights than the commune role.
 */
export function communeUsersRouter(ctx: AppContext): Router {
  const router = Router();
  router.use('/ma-commune', requirePermission('commune:users'));

  const ownCommune = (req: Request) => {
    const me = actor(req);
    if (me.communeId === null) throw forbidden();
    return me.communeId;
  };
  /** An agent this commune administrator may manage: same commune, commune role, not themself. */
  const managed = async (req: Request) => {
    const communeId = ownCommune(req);
    const user = await findUser(ctx.db, idParam(req.params.id, 'Ce compte'));
    if (!user || user.anonymizedAt) throw notFound('Ce compte');
    if (user.communeId !== communeId || user.role !== 'commune' || user.id === actor(req).id) throw forbidden();
    return user;
  };

  const renderList = async (req: Request, res: Response, status = 200, extra: { values?: Record<string, string>; errors?: FieldErrors; link?: { email: string; link: string | null } } = {}) => {
    const communeId = ownCommune(req);
    const commune = await communes.get(ctx.db, communeId);
    const users = (await listUsers(ctx.db, { communeId })).filter((u) => !u.anonymizedAt);
    res.status(status).render('commune-users/index', {
      title: `Comptes de ${commune?.name ?? 'ma commune'}`, commune, users, now: ctx.now().toISOString(), me: actor(req),
      values: extra.values ?? { name: '', email: '' }, errors: extra.errors ?? {}, created: extra.link ?? null,
    });
  };

  router.get('/ma-commune/utilisateurs', (req, res) => renderList(req, res));
  router.post('/ma-commune/utilisateurs', async (req, res) => {
    const communeId = ownCommune(req);
    const values = { name: str(req.body.name), email: str(req.body.email) };
    const parsed = newUserSchema.safeParse(values);
    if (!parsed.success) return renderList(req, res, 422, { values, errors: fieldErrors(parsed.error) });
    // the role is not a field of this form: a delegated administrator creates commune agents, nothing else
    const r = await createUser(ctx.db, { ...parsed.data, role: 'commune', communeId, active: true, teamId: null, passwordHash: unusablePasswordHash() }, actor(req), ctx.now());
    if (!r.ok) return renderList(req, res, 422, { values, errors: { email: 'Un compte existe déjà avec cette adresse.' } });
    const { link, emailed } = await passwordLink(ctx.db, ctx.config.mail, { id: r.id, ...parsed.data }, 'set', actor(req), ctx.now());
    ctx.wake?.();
    return renderList(req, res, 201, { link: { email: parsed.data.email, link: emailed ? null : link } });
  });

  router.post('/ma-commune/utilisateurs/:id/suspendre', async (req, res) => {
    const user = await managed(req);
    await ctx.db.transaction(async (trx) => {
      await trx('users').where('id', user.id).update({ active: false, session_token: null });
      await recordAudit(trx, { actor: actor(req), at: ctx.now(), action: 'suspend', entityType: 'user', entityId: user.id, summary: `${user.email} suspendu par l'administrateur de sa commune` });
    });
    res.redirect(303, '/ma-commune/utilisateurs');
  });
  router.post('/ma-commune/utilisateurs/:id/reactiver', async (req, res) => {
    const user = await managed(req);
    // a suspension decided by the Métropole (supervision, administration) is not the commune's to lift
    const suspender = await lastSuspender(ctx.db, user.id);
    if (!user.active && (!suspender || suspender.communeId !== user.communeId || !isCommuneRole(suspender.role))) {
      throw new HttpError(403, "Ce compte a été suspendu par la Métropole : seul un administrateur de la Métropole peut le réactiver.");
    }
    await ctx.db.transaction(async (trx) => {
      await trx('users').where('id', user.id).update({ active: true });
      await recordAudit(trx, { actor: actor(req), at: ctx.now(), action: 'update', entityType: 'user', entityId: user.id, summary: `${user.email} réactivé par l'administrateur de sa commune` });
    });
    res.redirect(303, '/ma-commune/utilisateurs');
  });
  router.get('/ma-commune/utilisateurs/:id/supprimer', async (req, res) => {
    const user = await managed(req);
    res.render('commune-users/delete', { title: `Supprimer le compte de ${user.name}`, user });
  });
  router.post('/ma-commune/utilisateurs/:id/supprimer', async (req, res) => {
    const user = await managed(req);
    await anonymizeUser(ctx.db, user.id, actor(req), ctx.now());
    res.redirect(303, '/ma-commune/utilisateurs');
  });
  return router;
}
