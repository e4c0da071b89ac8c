import { randomBytes } from 'node:crypto';
import { format } from 'date-fns';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { anonymizeUser, unusablePasswordHash } from '../../data/accounts';
import { recordAudit } from '../../data/audit';
import { enqueue } from '../../data/outbox';
import { organisationName } from '../../data/plans';
import { communes } from '../../data/referentials';
import { createUser, findCredentials, findUser, lastSuspender, listUsers } from '../../data/users';
import { type Actor, isCommuneRole } from '../../domain/roles';
import { localDate } from '../../domain/schedule';
import { renderMail } from '../../mail/render';
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

  const renderList = async (req: Request, res: Response, status = 200, extra: { values?: Record<string, string>; errors?: FieldErrors } = {}) => {
    const communeId = ownCommune(req);
    const commune = await communes.get(ctx.db, communeId);
    const users = (await listUsers(ctx.db, { communeId })).filter((u) => !u.anonymizedAt);
    res.status(status).render('commune-users/index', {
      title: `Comptes de ${commune?.name ?? 'ma commune'}`, commune, users, now: ctx.now().toISOString(), me: actor(req),
      values: extra.values ?? { name: '', email: '' }, errors: extra.errors ?? {},
    });
  };

  /**
   * Someone asked for an account with an address that already has one: nothing is created or changed,
   * the attempt is audited and the owner is told by e-mail (at most once a day for each commune).
   */
  const tellExistingOwner = async (email: string, communeId: number, me: Actor) => {
    const owner = await findCredentials(ctx.db, email);
    if (!owner) return;
    const now = ctx.now();
    const commune = (await communes.get(ctx.db, communeId))?.name ?? `n°${communeId}`;
    await ctx.db.transaction(async (trx) => {
      const organisation = await organisationName(trx);
      const subject = 'Sécurité : une création de compte a été demandée avec votre adresse';
      const { html, text } = await renderMail('account-exists', {
        subject, organisation, name: owner.name, email: owner.email, commune, requester: me.name, at: format(now, "dd/MM/yyyy 'à' HH:mm"),
        link: `${ctx.config.mail.publicUrl}/connexion`,
      });
      await enqueue(trx, [{
        kind: 'security', dedupKey: `account-exists:${owner.id}:${communeId}:${localDate(now, ctx.config.mail.timeZone)}`, communeId,
        toAddress: owner.email, toName: owner.name, subject, text, html,
      }], now);
      await recordAudit(trx, {
        actor: me, at: now, action: 'duplicate_account', entityType: 'user', entityId: owner.id,
        summary: `Création d'un compte avec l'adresse ${owner.email} demandée par l'administrateur de la commune de ${commune} : adresse déjà inscrite, aucun compte créé, titulaire averti par courriel`,
      });
    });
  };

  /** What the administrator reads once an account is asked for: the same whether or not the address already had one. */
  const renderCreated = async (req: Request, res: Response, email: string, link: string | null) => {
    const commune = await communes.get(ctx.db, ownCommune(req));
    res.status(201).render('commune-users/created', { title: "Compte d'agent demandé", commune, email, link });
  };

  router.get('/ma-commune/utilisateurs', (req, res) => renderList(req, res));
  router.post('/ma-commune/utilisateurs', async (req, res) => {
    const communeId = ownCommune(req);
    const values = { name: str(req.body.name), email: str(req.body.email) };
    const parsed = newUserSchema.safeParse(values);
    if (!parsed.success) return renderList(req, res, 422, { values, errors: fieldErrors(parsed.error) });
    // the role is not a field of this form: a delegated administrator creates commune agents, nothing else
    const r = await createUser(ctx.db, { ...parsed.data, role: 'commune', communeId, active: true, teamId: null, passwordHash: unusablePasswordHash() }, actor(req), ctx.now());
    if (!r.ok) {
      // Whether an address has an account is not a commune's business: the same answer as for a new one (with a link
      // that will never work when there is no SMTP server), and the owner is the one told.
      await tellExistingOwner(parsed.data.email, communeId, actor(req));
      ctx.wake?.();
      const decoy = `${ctx.config.mail.publicUrl}/mot-de-passe/${randomBytes(32).toString('base64url')}`;
      return renderCreated(req, res, parsed.data.email, ctx.config.mail.smtpUrl ? null : decoy);
    }
    const { link, emailed } = await passwordLink(ctx.db, ctx.config.mail, { id: r.id, ...parsed.data }, 'set', actor(req), ctx.now());
    ctx.wake?.();
    return renderCreated(req, res, parsed.data.email, emailed ? null : link);
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
