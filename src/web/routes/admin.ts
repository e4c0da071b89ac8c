import { type Request, type Response, Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { getHomologation, homologationState, reminderMonths } from '../../data/homologations';
import { homologationChoices } from '../../data/plans';
import { isReadOnly } from '../../domain/homologation';
import { localDate } from '../../domain/schedule';
import { communes, environments, instances, milestones, type Repository, services, teams } from '../../data/referentials';
import { countAdmins, createUser, findUser, listUsers, updateUser, type User } from '../../data/users';
import { isCommuneRole, ROLE_LABELS, ROLES } from '../../domain/roles';
import { ENVIRONMENT_CODE } from '../../domain/statuses';
import { anonymizeUser, resetTotp, unfreeze, unusablePasswordHash } from '../../data/accounts';
import { passwordLink } from '../../services/accounts';
import { actor, requirePermission } from '../auth';
import type { AppContext } from '../context';
import { idParam, notFound } from '../errors';
import { type FieldErrors, fieldErrors, idString, isoDate, optionalText, requiredText, str } from '../forms/fields';
import { viewHelpers as h } from '../view-helpers';

interface Field {
  name: string;
  label: string;
  type: 'text' | 'textarea' | 'number' | 'date' | 'checkbox' | 'select' | 'email' | 'password';
  hint?: string;
  required?: boolean;
  autocomplete?: string;
  options?: (db: Knex) => Promise<{ value: string; label: string }[]>;
}

type Values = Record<string, string>;

interface Entity<T extends { id: number }, I> {
  slug: string;
  title: string;
  /** "une équipe", "un service": used in buttons and messages. */
  one: string;
  repo: Repository<T, I>;
  fields: Field[];
  schema: z.ZodType<unknown>;
  toInput: (data: never, ctx: AppContext) => Promise<I> | I;
  /** Checks that need the database: the rows a choice refers to still exist (another administrator may have deleted them). */
  check?: (data: never, ctx: AppContext) => Promise<FieldErrors>;
  toValues: (item: T) => Values;
  columns: { label: string; value: (item: T) => string }[];
  duplicate: string;
  /** The refusal of a deletion while other rows use this one, when more precise than the general one. */
  inUse?: string;
  /** Messages that depend on the database, replacing the schema's (the choices of a list, say). */
  refineErrors?: (errors: FieldErrors, ctx: AppContext) => Promise<FieldErrors>;
}

const optionsOf = (repo: Repository<{ id: number; name: string }, unknown>, none?: string) => async (db: Knex) => [
  ...(none !== undefined ? [{ value: '', label: none }] : []),
  ...(await repo.list(db)).map((i) => ({ value: String(i.id), label: i.name })),
];

/** "Choisissez l'environnement : production ou recette.", from the organisation's list. */
async function environmentChoice(db: Knex): Promise<string> {
  const labels = (await environments.list(db)).map((e) => e.label.toLocaleLowerCase('fr'));
  const list = labels.length > 1 ? `${labels.slice(0, -1).join(', ')} ou ${labels.at(-1)}` : labels.join('');
  return list ? `Choisissez l'environnement : ${list}.` : "Aucun environnement n'est défini : ajoutez-en un dans « Environnements ».";
}

const entity = <T extends { id: number }, I, S extends z.ZodType>(e: Omit<Entity<T, I>, 'schema' | 'toInput' | 'check'> & {
  schema: S;
  toInput: (data: z.output<S>, ctx: AppContext) => Promise<I> | I;
  check?: (data: z.output<S>, ctx: AppContext) => Promise<FieldErrors>;
}) =>
  e as unknown as Entity<{ id: number }, unknown>;

const ENTITIES: Entity<{ id: number }, unknown>[] = [
  entity({
    slug: 'equipes', title: 'Équipes', one: 'une équipe', repo: teams, duplicate: 'Une équipe porte déjà ce nom.',
    fields: [
      { name: 'name', label: 'Nom', type: 'text', required: true, hint: 'Par exemple : PWN, SNU 1' },
      { name: 'description', label: 'Rôle de l’équipe', type: 'textarea' },
    ],
    schema: z.object({ name: requiredText(100, "Saisissez le nom de l'équipe."), description: optionalText(500) }),
    toInput: (d) => d,
    toValues: (t) => ({ name: t.name, description: t.description }),
    columns: [{ label: 'Nom', value: (t) => t.name }, { label: 'Rôle', value: (t) => t.description }],
  }),
  entity({
    slug: 'communes', title: 'Communes', one: 'une commune', repo: communes, duplicate: 'Une commune porte déjà ce nom.',
    fields: [
      { name: 'name', label: 'Nom', type: 'text', required: true },
      { name: 'inseeCode', label: 'Code INSEE', type: 'text', hint: '5 caractères, facultatif (par exemple 69266)' },
    ],
    schema: z.object({
      name: requiredText(150, 'Saisissez le nom de la commune.'),
      inseeCode: z.string().trim().regex(/^(\d[\dAB]\d{3})?$/, { error: 'Le code INSEE compte 5 caractères (par exemple 69266 ou 2A004).' })
        .transform((v) => v || null),
    }),
    toInput: (d) => d,
    toValues: (c) => ({ name: c.name, inseeCode: c.inseeCode ?? '' }),
    columns: [{ label: 'Nom', value: (c) => c.name }, { label: 'Code INSEE', value: (c) => c.inseeCode ?? '—' }],
  }),
  entity({
    slug: 'services', title: 'Services', one: 'un service', repo: services, duplicate: 'Un service porte déjà ce nom.',
    fields: [
      { name: 'name', label: 'Nom', type: 'text', required: true },
      { name: 'description', label: 'Description', type: 'textarea' },
      { name: 'position', label: "Ordre d'affichage", type: 'number', hint: 'Les services sont présentés par ordre croissant.' },
    ],
    schema: z.object({
      name: requiredText(100, 'Saisissez le nom du service.'),
      description: optionalText(500),
      position: z.string().trim().regex(/^\d{0,4}$/, { error: 'Saisissez un nombre entier.' }).transform((v) => Number(v || 0)),
    }),
    toInput: (d) => d,
    toValues: (s) => ({ name: s.name, description: s.description, position: String(s.position) }),
    columns: [{ label: 'Ordre', value: (s) => String(s.position) }, { label: 'Nom', value: (s) => s.name }, { label: 'Description', value: (s) => s.description }],
  }),
  entity({
    slug: 'instances', title: 'Instances', one: 'une instance', repo: instances, duplicate: 'Ce service a déjà une instance de ce nom.',
    fields: [
      { name: 'name', label: 'Nom', type: 'text', required: true },
      { name: 'serviceId', label: 'Service', type: 'select', required: true, options: optionsOf(services, '') },
      {
        name: 'environment', label: 'Environnement', type: 'select', required: true, hint: 'La liste se gère dans « Environnements ».',
        options: async (db) => [{ value: '', label: '' }, ...(await environments.list(db)).map((e) => ({ value: e.code, label: e.label }))],
      },
      { name: 'teamId', label: 'Équipe gestionnaire', type: 'select', required: true, options: optionsOf(teams, '') },
      { name: 'communeId', label: 'Commune', type: 'select', hint: 'Pour une instance communale, co-gérée avec la commune.', options: optionsOf(communes, 'Aucune (instance de la collectivité)') },
    ],
    schema: z.object({
      name: requiredText(150, "Saisissez le nom de l'instance."),
      serviceId: idString('Choisissez le service.'),
      // whether the environment is in the list is checked inside the save's transaction (repository guard)
      environment: z.string().trim().regex(ENVIRONMENT_CODE, { error: "Choisissez l'environnement dans la liste." }), // message: refineErrors
      teamId: idString("Choisissez l'équipe qui gère l'instance."),
      communeId: z.string().regex(/^(\d{1,9})?$/, { error: 'Choisissez une commune dans la liste.' }).transform((v) => (v ? Number(v) : null)),
    }),
    toInput: (d) => d,
    refineErrors: async (errors, ctx) => (errors.environment ? { ...errors, environment: await environmentChoice(ctx.db) } : errors),
    check: async (d, ctx) => {
      const errors: FieldErrors = {};
      if (!(await services.get(ctx.db, d.serviceId))) errors.serviceId = "Ce service n'existe plus : choisissez-en un autre.";
      if (!(await teams.get(ctx.db, d.teamId))) errors.teamId = "Cette équipe n'existe plus : choisissez-en une autre.";
      if (d.communeId !== null && !(await communes.get(ctx.db, d.communeId))) errors.communeId = "Cette commune n'existe plus : choisissez-en une autre.";
      return errors;
    },
    toValues: (i) => ({ name: i.name, serviceId: String(i.serviceId), environment: i.environment, teamId: String(i.teamId), communeId: i.communeId ? String(i.communeId) : '' }),
    columns: [
      { label: 'Service', value: (i) => i.serviceName },
      { label: 'Nom', value: (i) => i.name },
      { label: 'Environnement', value: (i) => i.environmentLabel },
      { label: 'Équipe', value: (i) => i.teamName },
      { label: 'Commune', value: (i) => i.communeName ?? '—' },
    ],
  }),
  entity({
    slug: 'environnements', title: 'Environnements', one: 'un environnement', repo: environments, duplicate: 'Un environnement porte déjà ce code ou ce libellé.',
    inUse: "Impossible de supprimer : des instances sont dans cet environnement. Changez-les d'environnement d'abord.",
    fields: [
      { name: 'code', label: 'Code', type: 'text', required: true, hint: "Lettres minuscules, chiffres et tirets, 10 caractères au plus (par exemple preprod). Il ne peut plus changer tant qu'une instance est dans cet environnement." },
      { name: 'label', label: 'Libellé', type: 'text', required: true, hint: 'Par exemple : Préproduction, Formation' },
      { name: 'position', label: "Ordre d'affichage", type: 'number', hint: 'Les environnements sont présentés par ordre croissant (colonnes du périmètre, tableau de bord).' },
    ],
    schema: z.object({
      code: z.string().trim().min(1, { error: "Saisissez le code de l'environnement." })
        .regex(ENVIRONMENT_CODE, { error: 'Le code compte 10 caractères au plus : lettres minuscules sans accent, chiffres et tirets (par exemple preprod).' }),
      label: requiredText(60, "Saisissez le libellé de l'environnement."),
      position: z.string().trim().regex(/^\d{0,4}$/, { error: 'Saisissez un nombre entier.' }).transform((v) => Number(v || 0)),
    }),
    toInput: (d) => d,
    toValues: (e) => ({ code: e.code, label: e.label, position: String(e.position) }),
    columns: [{ label: 'Ordre', value: (e) => String(e.position) }, { label: 'Code', value: (e) => e.code }, { label: 'Libellé', value: (e) => e.label }],
  }),
  entity({
    slug: 'jalons', title: 'Jalons du calendrier', one: 'un jalon', repo: milestones, duplicate: 'Ce jalon existe déjà.',
    fields: [
      { name: 'title', label: 'Intitulé', type: 'text', required: true },
      {
        name: 'planId', label: 'Homologation', type: 'select', required: true, hint: 'Le jalon figure au calendrier de cette homologation.',
        options: async (db) => [{ value: '', label: '' }, ...(await homologationChoices(db)).map((p) => ({ value: String(p.id), label: p.archived ? `${p.title} (archivée)` : p.title }))],
      },
      { name: 'dueDate', label: 'Date', type: 'date', required: true },
      { name: 'done', label: 'Réalisé', type: 'checkbox', hint: 'Décoché : le jalon figure dans le « reste à faire ».' },
    ],
    schema: z.object({
      title: requiredText(300, "Saisissez l'intitulé du jalon."),
      planId: idString("Choisissez l'homologation du jalon."),
      dueDate: isoDate('Saisissez la date du jalon.'),
      done: z.string().transform((v) => v === 'on'),
    }),
    toInput: (d) => d,
    // an archived or lapsed homologation's calendar no longer changes, as under its own pages
    check: async (d, ctx): Promise<FieldErrors> => {
      const hom = await getHomologation(ctx.db, d.planId);
      if (!hom) return { planId: "Cette homologation n'existe pas : choisissez-en une autre." };
      const state = homologationState(hom, localDate(ctx.now(), ctx.config.mail.timeZone), await reminderMonths(ctx.db));
      return isReadOnly(state) ? { planId: 'Cette homologation est archivée ou expirée : son calendrier ne change plus.' } : {};
    },
    toValues: (m) => ({ planId: String(m.planId), title: m.title, dueDate: m.dueDate, done: m.done ? 'on' : '' }),
    columns: [
      { label: 'Date', value: (m) => h.date(m.dueDate) },
      { label: 'Intitulé', value: (m) => m.title },
      { label: 'État', value: (m) => (m.done ? 'Réalisé' : 'Reste à faire') },
    ],
  }),
];

const userFields = (): Field[] => [
  { name: 'name', label: 'Nom et prénom', type: 'text', required: true, autocomplete: 'off' },
  { name: 'email', label: 'Adresse électronique', type: 'email', required: true, autocomplete: 'off', hint: 'Sert d’identifiant de connexion.' },
  { name: 'role', label: 'Rôle', type: 'select', required: true, options: async () => [{ value: '', label: '' }, ...ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r] }))] },
  { name: 'communeId', label: 'Commune', type: 'select', hint: 'Obligatoire pour un agent ou un administrateur de commune, qui ne verra que les fiches de ses instances.', options: optionsOf(communes, '') },
  { name: 'teamId', label: 'Équipe', type: 'select', hint: 'Ses membres reçoivent les alertes de retard des fiches dont l’équipe est responsable. Pas pour un agent de commune.', options: optionsOf(teams, 'Aucune') },
  { name: 'active', label: 'Compte actif', type: 'checkbox', hint: 'Un compte inactif (suspendu) ne peut plus se connecter.' },
];

const userSchema = z.object({
  name: requiredText(150, 'Saisissez le nom.'),
  email: z.string().trim().min(1, { error: "Saisissez l'adresse électronique." }).max(254).pipe(z.email({ error: 'Saisissez une adresse électronique valide (par exemple prenom.nom@exemple.fr).' })),
  role: z.enum(ROLES, { error: 'Choisissez un rôle.' }),
  communeId: z.string().regex(/^(\d{1,9})?$/, { error: 'Choisissez une commune dans la liste.' }).transform((v) => (v ? Number(v) : null)),
  teamId: z.string().regex(/^(\d{1,9})?$/, { error: 'Choisissez une équipe dans la liste.' }).transform((v) => (v ? Number(v) : null)),
  active: z.string().transform((v) => v === 'on'),
});

export function adminRouter(ctx: AppContext): Router {
  const router = Router();
  router.use(requirePermission('admin'));

  router.get('/', (_req, res) => {
    res.render('admin/index', { title: 'Administration', entities: [...ENTITIES.map((e) => ({ slug: e.slug, title: e.title })), { slug: 'utilisateurs', title: 'Utilisateurs' }] });
  });

  const renderForm = async (res: Response, status: number, o: { e: { slug: string; title: string; one: string }; fields: Field[]; values: Values; errors?: FieldErrors; id?: number; alert?: string; account?: User }) => {
    const options: Record<string, { value: string; label: string }[]> = {};
    for (const f of o.fields) if (f.options) options[f.name] = await f.options(ctx.db);
    res.status(status).render('admin/form', {
      title: o.id ? `Modifier ${o.e.one}` : `Ajouter ${o.e.one}`,
      entity: o.e, fields: o.fields, options, values: o.values, errors: o.errors ?? {}, id: o.id ?? null, alert: o.alert ?? null, account: o.account ?? null, now: ctx.now().toISOString(),
    });
  };
  const read = (fields: Field[], body: Record<string, unknown>): Values =>
    Object.fromEntries(fields.map((f) => [f.name, str(body[f.name])]));

  // ---- users: same pages, with a password and role rules ----
  const users = { slug: 'utilisateurs', title: 'Utilisateurs', one: 'un utilisateur' };

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

  async function validateUser(values: Values, existing?: User) {
    const errors: FieldErrors = {};
    const parsed = userSchema.safeParse(values);
    if (!parsed.success) Object.assign(errors, fieldErrors(parsed.error));
    const data = parsed.success ? parsed.data : undefined;
    if (data) {
      if (isCommuneRole(data.role) && data.communeId === null) errors.communeId = 'Choisissez la commune de cet agent.';
      if (data.communeId !== null && !(await communes.get(ctx.db, data.communeId))) errors.communeId = "Cette commune n'existe plus.";
      if (data.teamId !== null && isCommuneRole(data.role)) errors.teamId = "Un agent de commune n'est membre d'aucune équipe de la Métropole.";
      else if (data.teamId !== null && !(await teams.get(ctx.db, data.teamId))) errors.teamId = "Cette équipe n'existe plus.";
      if (existing?.role === 'admin' && existing.active && (data.role !== 'admin' || !data.active) && (await countAdmins(ctx.db)) <= 1) {
        errors.role = 'Ce compte est le dernier administrateur actif : nommez-en un autre avant de le modifier.';
      }
    }
    if (!data || Object.keys(errors).length) return { ok: false as const, errors };
    return { ok: true as const, input: { ...data, communeId: isCommuneRole(data.role) ? data.communeId : null } };
  }

  /** The one-time link of a new account, or a fresh one: e-mailed when SMTP is set, else shown here once. */
  const showLink = async (req: Request, res: Response, user: { id: number; email: string; name: string }, purpose: 'set' | 'reset', status: number) => {
    const { link, emailed } = await passwordLink(ctx.db, ctx.config.mail, user, purpose, actor(req), ctx.now());
    ctx.wake?.();
    res.status(status).render('admin/user-link', { title: `Lien de mot de passe pour ${user.name}`, account: user, link: emailed ? null : link, purpose });
  };

  router.post('/utilisateurs', async (req, res) => {
    const fields = userFields();
    const values = read(fields, req.body);
    const v = await validateUser(values);
    if (!v.ok) return renderForm(res, 422, { e: users, fields, values, errors: v.errors });
    // no password is typed by the admin: the new user chooses it through a one-time link
    const r = await createUser(ctx.db, { ...v.input, passwordHash: unusablePasswordHash() }, actor(req), ctx.now());
    if (!r.ok) return renderForm(res, 422, { e: users, fields, values, errors: { email: 'Un compte existe déjà avec cette adresse.' } });
    await showLink(req, res, { id: r.id, email: v.input.email, name: v.input.name }, 'set', 201);
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
    const values = read(fields, req.body);
    const v = await validateUser(values, existing);
    if (!v.ok) return renderForm(res, 422, { e: users, fields, id, values, errors: v.errors, account: existing });
    const r = await updateUser(ctx.db, id, v.input, actor(req), ctx.now());
    if (!r.ok && r.reason === 'not_found') throw notFound('Ce compte');
    if (!r.ok) return renderForm(res, 422, { e: users, fields, id, values, errors: { email: 'Un compte existe déjà avec cette adresse.' }, account: existing });
    // a suspended account's session ends at once
    if (!v.input.active) await ctx.db('users').where('id', id).update({ session_token: null });
    res.redirect(303, '/admin/utilisateurs');
  });
  router.post('/utilisateurs/:id/lien', async (req, res) => {
    const user = await loadUser(req);
    await showLink(req, res, user, user.passwordChangedAt ? 'reset' : 'set', 200);
  });
  router.post('/utilisateurs/:id/double-authentification', async (req, res) => {
    const user = await loadUser(req);
    await resetTotp(ctx.db, user.id, actor(req), ctx.now());
    res.redirect(303, `/admin/utilisateurs/${user.id}/modifier`);
  });
  router.post('/utilisateurs/:id/debloquer', async (req, res) => {
    const user = await loadUser(req);
    await unfreeze(ctx.db, user.id, actor(req), ctx.now());
    res.redirect(303, `/admin/utilisateurs/${user.id}/modifier`);
  });
  const removalProblem = async (req: Request, user: User) => {
    if (user.id === actor(req).id) return 'Vous ne pouvez pas supprimer votre propre compte.';
    if (user.role === 'admin' && user.active && (await countAdmins(ctx.db)) <= 1) return 'Ce compte est le dernier administrateur actif : nommez-en un autre avant de le supprimer.';
    return null;
  };
  router.get('/utilisateurs/:id/supprimer', async (req, res) => {
    const user = await loadUser(req);
    res.render('admin/user-delete', { title: `Supprimer le compte de ${user.name}`, account: user, error: await removalProblem(req, user) });
  });
  router.post('/utilisateurs/:id/supprimer', async (req, res) => {
    const user = await loadUser(req);
    const problem = await removalProblem(req, user);
    if (problem) return res.status(409).render('admin/user-delete', { title: `Supprimer le compte de ${user.name}`, account: user, error: problem });
    await anonymizeUser(ctx.db, user.id, actor(req), ctx.now());
    res.redirect(303, '/admin/utilisateurs');
  });

  // ---- reference tables, one generic set of pages ----
  for (const e of ENTITIES) {
    const base = `/${e.slug}`;
    const load = async (req: Request) => {
      const item = await e.repo.get(ctx.db, idParam(req.params.id));
      if (!item) throw notFound();
      return item;
    };
    const save = async (req: Request, res: Response, id?: number) => {
      const values = read(e.fields, req.body);
      const parsed = e.schema.safeParse(values);
      if (!parsed.success) {
        const errors = fieldErrors(parsed.error);
        return renderForm(res, 422, { e, fields: e.fields, values, id, errors: e.refineErrors ? await e.refineErrors(errors, ctx) : errors });
      }
      const missing = e.check ? await e.check(parsed.data as never, ctx) : {};
      if (Object.keys(missing).length) return renderForm(res, 422, { e, fields: e.fields, values, id, errors: missing });
      const input = await e.toInput(parsed.data as never, ctx);
      const r = id === undefined ? await e.repo.create(ctx.db, input, actor(req), ctx.now()) : await e.repo.update(ctx.db, id, input, actor(req), ctx.now());
      if (!r.ok && r.reason === 'not_found') throw notFound();
      if (!r.ok && r.reason === 'refused') return renderForm(res, r.refusal.status, { e, fields: e.fields, values, id, errors: { [r.refusal.field]: r.refusal.message } });
      if (!r.ok) return renderForm(res, 422, { e, fields: e.fields, values, id, errors: { [e.fields[0]!.name]: e.duplicate } });
      res.redirect(303, `/admin${base}`);
    };

    router.get(base, async (_req, res) => {
      const list = await e.repo.list(ctx.db);
      res.render('admin/list', {
        title: e.title, entity: e, columns: e.columns.map((c) => c.label),
        rows: list.map((item) => ({ id: item.id, cells: e.columns.map((c) => c.value(item)) })), canDelete: true,
      });
    });
    router.get(`${base}/nouveau`, async (_req, res) => renderForm(res, 200, { e, fields: e.fields, values: {} }));
    router.post(base, (req, res) => save(req, res));
    router.get(`${base}/:id/modifier`, async (req, res) => {
      const item = await load(req);
      await renderForm(res, 200, { e, fields: e.fields, values: e.toValues(item), id: item.id });
    });
    router.post(`${base}/:id`, async (req, res) => save(req, res, (await load(req)).id));
    router.get(`${base}/:id/supprimer`, async (req, res) => {
      const item = await load(req);
      res.render('admin/delete', { title: `Supprimer ${e.one}`, entity: e, id: item.id, label: e.columns.map((c) => c.value(item)).join(' — '), error: null });
    });
    router.post(`${base}/:id/supprimer`, async (req, res) => {
      const item = await load(req);
      const r = await e.repo.remove(ctx.db, item.id, actor(req), ctx.now());
      if (r.ok) return res.redirect(303, `/admin${base}`);
      if (r.reason === 'not_found') throw notFound();
      res.status(409).render('admin/delete', {
        title: `Supprimer ${e.one}`, entity: e, id: item.id, label: e.columns.map((c) => c.value(item)).join(' — '),
        error: e.inUse ?? "Impossible de supprimer : d'autres éléments y font référence (instances, fiches ou comptes). Modifiez-les d'abord.",
      });
    });
  }

  return router;
}
