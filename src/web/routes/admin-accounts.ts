import { type Request, type Response, Router } from 'express';
import { communes, teams } from '../../data/referentials';
import { findUser, listUsers, type User } from '../../data/users';
import { ROLE_LABELS, ROLES } from '../../domain/roles';
import { type AccountProblems, accountService, type RemovalRefusal } from '../../services/accounts';
import { actor } from '../auth';
import { type AppContext, servicesOf } from '../context';
import { idParam, notFound } from '../errors';
import { accountForm } from '../forms/account';
import { type FieldErrors, parseForm } from '../forms/fields';
import { viewHelpers as h } from '../view-helpers';
import { type Field, formRenderer, optionsOf } from './admin-form';
import { notify } from '../notice';

const users = { slug: 'utilisateurs', title: 'Utilisateurs', one: 'un utilisateur' };

const userFields = (): Field[] => [
  { name: 'name', label: 'Nom et prénom', type: 'text', required: true, autocomplete: 'off' },
  { name: 'email', label: 'Adresse électronique', type: 'email', required: true, autocomplete: 'off', hint: 'Sert d’identifiant de connexion.' },
  { name: 'role', label: 'Rôle', type: 'select', required: true, options: async () => [{ value: '', label: '' }, ...ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r] }))] },
  { name: 'communeId', label: 'Commune', type: 'select', hint: 'Obligatoire pour un agent ou un administrateur de commune, qui ne verra que les fiches de ses instances.', options: optionsOf(communes, '') },
  { name: 'teamId', label: 'Équipe', type: 'select', hint: 'Ses membres reçoivent les alertes de retard des fiches dont l’équipe est responsable. Pas pour un agent de commune.', options: optionsOf(teams, 'Aucune') },
  { name: 'active', label: 'Compte actif', type: 'checkbox', hint: 'Un compte inactif (suspendu) ne peut plus se connecter.' },
];

const DUPLICATE: FieldErrors = { email: 'Un compte existe déjà avec cette adresse.' };

const PROBLEMS: { [F in keyof AccountProblems]-?: Record<NonNullable<AccountProblems[F]>, string> } = {
  communeId: { missing: 'Choisissez la commune de cet agent.', gone: "Cette commune n'existe plus." },
  teamId: { commune_agent: "Un agent de commune n'est membre d'aucune équipe : laissez le champ vide.", gone: "Cette équipe n'existe plus." },
  role: { last_admin: 'Ce compte est le dernier administrateur actif : nommez-en un autre avant de le modifier.' },
};

const problemMessages = (problems: AccountProblems): FieldErrors =>
  Object.fromEntries(Object.entries(problems).map(([field, p]) => [field, (PROBLEMS as Record<string, Record<string, string>>)[field]![p as string]!]));

const REMOVAL: Record<RemovalRefusal, string> = {
  self: 'Vous ne pouvez pas supprimer votre propre compte.',
  last_admin: 'Ce compte est le dernier administrateur actif : nommez-en un autre avant de le supprimer.',
};

/** The Métropole's accounts (/admin/utilisateurs): the pages; the rules are the account service's. */
export function adminAccountsRouter(ctx: AppContext): Router {
  const router = Router();
  const renderForm = formRenderer(ctx);
  const accounts = accountService(servicesOf(ctx));

  router.get('/utilisateurs', async (_req, res) => {
    const list = await listUsers(ctx.db);
    const now = ctx.now().toISOString();
    const state = (u: User) => (u.anonymizedAt ? 'Supprimé (anonymisé)' : !u.active ? 'Suspendu' : u.frozenUntil && u.frozenUntil > now ? 'Gelé' : 'Actif');
    res.render('admin/list', {
      title: users.title, entity: users,
      columns: ['Nom', 'Adresse électronique', 'Rôle', 'Commune', 'État', 'Double authentification', 'Dernière connexion'],
      rows: list.map((u) => ({ id: u.id, cells: [u.name, u.email, ROLE_LABELS[u.role], u.communeName ?? '—', state(u), u.totpEnabled ? 'Activée' : '—', h.dateTime(u.lastLoginAt)] })),
      canDelete: true,
    });
  });
  router.get('/utilisateurs/nouveau', async (_req, res) => {
    await renderForm(res, 200, { e: users, fields: userFields(), values: { active: 'on' } });
  });

  /** The one-time link of a new account, or a fresh one: e-mailed when SMTP is set, else shown here once. */
  const showLink = (res: Response, user: { id: number; email: string; name: string }, r: { link: string; emailed: boolean }, purpose: 'set' | 'reset', status: number) =>
    res.status(status).render('admin/user-link', { title: `Lien de mot de passe pour ${user.name}`, account: user, link: r.emailed ? null : r.link, purpose });

  router.post('/utilisateurs', async (req, res) => {
    const fields = userFields();
    const form = parseForm(accountForm, req.body);
    if (!form.ok) return renderForm(res, 422, { e: users, fields, values: form.values, errors: form.errors });
    // no password is typed by the admin: the new user chooses it through a one-time link
    const r = await accounts.create(actor(req), form.data, ctx.now());
    if (!r.ok) {
      const errors = r.reason === 'invalid' ? problemMessages(r.problems) : DUPLICATE;
      return renderForm(res, 422, { e: users, fields, values: form.values, errors });
    }
    showLink(res, { id: r.id, email: form.data.email, name: form.data.name }, r, 'set', 201);
  });
  const loadUser = async (req: Request) => {
    const user = await findUser(ctx.db, idParam(req.params.id, 'Ce compte'));
    if (!user || user.anonymizedAt) throw notFound('Ce compte');
    return user;
  };
  router.get('/utilisateurs/:id/modifier', async (req, res) => {
    const user = await loadUser(req);
    await renderForm(res, 200, {
      e: users, fields: userFields(), id: user.id, account: user,
      values: { name: user.name, email: user.email, role: user.role, communeId: user.communeId ? String(user.communeId) : '', teamId: user.teamId ? String(user.teamId) : '', active: user.active ? 'on' : '' },
    });
  });
  router.post('/utilisateurs/:id', async (req, res) => {
    const existing = await loadUser(req);
    const id = existing.id;
    const fields = userFields();
    const form = parseForm(accountForm, req.body);
    if (!form.ok) return renderForm(res, 422, { e: users, fields, id, values: form.values, errors: form.errors, account: existing });
    const r = await accounts.update(actor(req), id, form.data, ctx.now());
    if (!r.ok && r.reason === 'not_found') throw notFound('Ce compte');
    if (!r.ok) {
      const errors = r.reason === 'invalid' ? problemMessages(r.problems) : DUPLICATE;
      return renderForm(res, 422, { e: users, fields, id, values: form.values, errors, account: existing });
    }
    notify(req, `Le compte de ${form.data.name} est enregistré.`);
    res.redirect(303, '/admin/utilisateurs');
  });
  router.post('/utilisateurs/:id/lien', async (req, res) => {
    const user = await loadUser(req);
    const r = await accounts.sendPasswordLink(actor(req), user, ctx.now());
    showLink(res, user, r, r.purpose, 200);
  });
  router.post('/utilisateurs/:id/double-authentification', async (req, res) => {
    const user = await loadUser(req);
    await accounts.resetSecondFactor(actor(req), user.id, ctx.now());
    notify(req, `La double authentification de ${user.name} est réinitialisée : à sa prochaine connexion, il ou elle en configurera une nouvelle.`);
    res.redirect(303, `/admin/utilisateurs/${user.id}/modifier`);
  });
  router.post('/utilisateurs/:id/debloquer', async (req, res) => {
    const user = await loadUser(req);
    await accounts.unfreeze(actor(req), user.id, ctx.now());
    notify(req, `Le compte de ${user.name} est débloqué.`);
    res.redirect(303, `/admin/utilisateurs/${user.id}/modifier`);
  });
  const deletePage = (res: Response, status: number, user: User, problem: RemovalRefusal | null) =>
    res.status(status).render('admin/user-delete', { title: `Supprimer le compte de ${user.name}`, account: user, error: problem ? REMOVAL[problem] : null });
  router.get('/utilisateurs/:id/supprimer', async (req, res) => {
    const user = await loadUser(req);
    deletePage(res, 200, user, await accounts.removalProblem(actor(req), user));
  });
  router.post('/utilisateurs/:id/supprimer', async (req, res) => {
    const user = await loadUser(req);
    const r = await accounts.remove(actor(req), user.id, ctx.now());
    if (!r.ok) {
      if (r.reason === 'not_found') throw notFound('Ce compte');
      return deletePage(res, 409, user, r.reason);
    }
    notify(req, `Le compte de ${user.name} est supprimé.`);
    res.redirect(303, '/admin/utilisateurs');
  });

  return router;
}
