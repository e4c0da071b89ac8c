import { type Request, type Response, Router } from 'express';
import { communes } from '../../data/referentials';
import { listUsers } from '../../data/users';
import { accessRequests, decideAccess } from '../../data/identities';
import { accountService, type CommuneAgentChange } from '../../services/accounts';
import { actor, requirePermission } from '../auth';
import { type AppContext, servicesOf } from '../context';
import { forbidden, HttpError, idParam, notFound } from '../errors';
import { communeAgentForm } from '../forms/account';
import { type FieldErrors, parseForm } from '../forms/fields';
import { notify } from '../notice';

/**
 * Delegated administration (seed 003's "administrateur partenaire"): a commune administrator creates,
 * suspends and removes the agents of their own commune, always with the commune role. They never see
 * another commune's accounts, never touch a Métropole account or another commune administrator, and
 * cannot give anyone more rights than the commune role (the account service's rules).
 */
export function communeUsersRouter(ctx: AppContext): Router {
  const router = Router();
  router.use('/ma-commune', requirePermission('commune:users'));
  const accounts = accountService(servicesOf(ctx));

  const ownCommune = (req: Request) => {
    const me = actor(req);
    if (me.communeId === null) throw forbidden();
    return me.communeId;
  };
  const accountId = (req: Request) => idParam(req.params.id, 'Ce compte');
  /** The refusals of a change, as pages: an account that is not there, or not this administrator's to manage. */
  const done = (res: Response, r: CommuneAgentChange, told?: { req: Request; text: string }) => {
    if (r.ok) {
      if (told) notify(told.req, told.text);
      return res.redirect(303, '/ma-commune/utilisateurs');
    }
    if (r.reason === 'not_found') throw notFound('Ce compte');
    if (r.reason === 'suspended_by_metropole') {
      throw new HttpError(403, "Ce compte a été suspendu par un administrateur de l'outil : seul un administrateur de l'outil peut le réactiver.");
    }
    throw forbidden();
  };

  const renderList = async (req: Request, res: Response, status = 200, extra: { values?: Record<string, string>; errors?: FieldErrors } = {}) => {
    const communeId = ownCommune(req);
    const commune = await communes.get(ctx.db, communeId);
    const users = (await listUsers(ctx.db, { communeId })).filter((u) => !u.anonymizedAt);
    res.status(status).render('commune-users/index', {
      title: `Comptes de ${commune?.name ?? 'ma commune'}`, commune, users, now: ctx.now().toISOString(), me: actor(req),
      values: extra.values ?? { name: '', email: '' }, errors: extra.errors ?? {}, requests: await accessRequests(ctx.db, communeId),
    });
  };

  router.get('/ma-commune/utilisateurs', (req, res) => renderList(req, res));
  router.post('/ma-commune/utilisateurs', async (req, res) => {
    const communeId = ownCommune(req);
    const form = parseForm(communeAgentForm, req.body);
    if (!form.ok) return renderList(req, res, 422, { values: form.values, errors: form.errors });
    // the role is not a field of this form: a delegated administrator creates commune agents, nothing else
    const r = await accounts.createCommuneAgent(actor(req), form.data, ctx.now());
    if (!r.ok) throw forbidden();
    // the same page whether or not the address already had an account
    const commune = await communes.get(ctx.db, communeId);
    res.status(201).render('commune-users/created', { title: "Compte d'agent demandé", commune, email: form.data.email, link: r.link });
  });

  // the access requests of the commune's unknown agents (signed in through the identity provider): a commune agent's
  // account, no more, as every account this administrator creates
  for (const [path, accept] of [['accepter', true], ['refuser', false]] as const) {
    router.post(`/ma-commune/demandes/:id/${path}`, async (req, res) => {
      const communeId = ownCommune(req);
      const r = await decideAccess(ctx.db, { requestId: idParam(req.params.id, 'Cette demande'), communeId, accept, role: 'commune' }, actor(req), ctx.now());
      if (!r.ok && r.reason === 'not_found') throw notFound('Cette demande');
      if (!r.ok && r.reason === 'forbidden') throw forbidden();
      if (!r.ok && r.reason === 'decided') throw new HttpError(409, 'Cette demande a déjà reçu une décision (peut-être par un autre administrateur de la commune).');
      if (!r.ok) throw new HttpError(409, 'Un compte existe déjà pour cette adresse : la demande ne peut pas être acceptée. Vérifiez la liste des comptes de la commune.');
      notify(req, accept ? 'La demande est acceptée : l’agent peut se connecter par ProConnect.' : 'La demande est refusée.');
      res.redirect(303, '/ma-commune/utilisateurs');
    });
  }

  router.post('/ma-commune/utilisateurs/:id/suspendre', async (req, res) => {
    ownCommune(req);
    done(res, await accounts.suspendCommuneAgent(actor(req), accountId(req), ctx.now()), { req, text: 'Le compte est suspendu : il ne peut plus se connecter.' });
  });
  router.post('/ma-commune/utilisateurs/:id/reactiver', async (req, res) => {
    ownCommune(req);
    done(res, await accounts.reactivateCommuneAgent(actor(req), accountId(req), ctx.now()), { req, text: 'Le compte est réactivé.' });
  });
  router.get('/ma-commune/utilisateurs/:id/supprimer', async (req, res) => {
    ownCommune(req);
    const r = await accounts.communeAgent(actor(req), accountId(req));
    if (!r.ok) return done(res, r);
    res.render('commune-users/delete', { title: `Supprimer le compte de ${r.user.name}`, user: r.user });
  });
  router.post('/ma-commune/utilisateurs/:id/supprimer', async (req, res) => {
    ownCommune(req);
    done(res, await accounts.removeCommuneAgent(actor(req), accountId(req), ctx.now()), { req, text: 'Le compte est supprimé.' });
  });
  return router;
}
