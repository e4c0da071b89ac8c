import { type Request, type Response, Router } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import { homologationChoices } from '../../data/plans';
import { communes, environments, instances, milestones, type Repository, services, teams } from '../../data/referentials';
import { calendarRefusal } from '../../services/homologations';
import { actor } from '../auth';
import type { AppContext } from '../context';
import { idParam, notFound } from '../errors';
import { type FieldErrors, fieldErrors } from '../forms/fields';
import { communeForm, environmentForm, instanceForm, milestoneForm, serviceForm, teamForm } from '../forms/references';
import { viewHelpers as h } from '../view-helpers';
import { type Field, formRenderer, optionsOf, readValues, type Values } from './admin-form';
import { notify } from '../notice';

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
      { name: 'name', label: 'Nom', type: 'text', required: true, hint: 'Par exemple : Équipe réseau, Pôle applications' },
      { name: 'description', label: 'Rôle de l’équipe', type: 'textarea' },
    ],
    schema: teamForm,
    toInput: (d) => d,
    toValues: (t) => ({ name: t.name, description: t.description }),
    columns: [{ label: 'Nom', value: (t) => t.name }, { label: 'Rôle', value: (t) => t.description }],
  }),
  entity({
    slug: 'communes', title: 'Communes', one: 'une commune', repo: communes, duplicate: 'Une commune porte déjà ce nom.',
    fields: [
      { name: 'name', label: 'Nom', type: 'text', required: true },
      { name: 'inseeCode', label: 'Code INSEE', type: 'text', hint: '5 caractères, facultatif (par exemple 69266)' },
      { name: 'siret', label: 'SIRET de la commune', type: 'text', hint: '14 chiffres, facultatif : reconnaît ses agents qui se connectent par ProConnect' },
      { name: 'agentDomain', label: 'Domaine des adresses de ses agents', type: 'text', hint: 'Facultatif, par exemple mairie-villeurbanne.fr : reconnaît aussi ses agents par leur adresse' },
      { name: 'accessRequests', label: 'Accepter les demandes d’accès de ses agents', type: 'checkbox', hint: 'Un agent inconnu reconnu par le SIRET ou le domaine, connecté par ProConnect, dépose une demande que l’administrateur de la commune accepte ou refuse.' },
    ],
    schema: communeForm,
    toInput: (d) => d,
    toValues: (c) => ({ name: c.name, inseeCode: c.inseeCode ?? '', siret: c.siret ?? '', agentDomain: c.agentDomain ?? '', accessRequests: c.accessRequests ? 'on' : '' }),
    columns: [{ label: 'Nom', value: (c) => c.name }, { label: 'Code INSEE', value: (c) => c.inseeCode ?? '—' }],
  }),
  entity({
    slug: 'services', title: 'Services', one: 'un service', repo: services, duplicate: 'Un service porte déjà ce nom.',
    fields: [
      { name: 'name', label: 'Nom', type: 'text', required: true },
      { name: 'description', label: 'Description', type: 'textarea' },
      { name: 'position', label: "Ordre d'affichage", type: 'number', hint: 'Les services sont présentés par ordre croissant.' },
    ],
    schema: serviceForm,
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
    schema: instanceForm,
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
    schema: environmentForm,
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
    schema: milestoneForm,
    toInput: (d) => d,
    // an archived or lapsed homologation's calendar no longer changes, as under its own pages
    check: async (d, ctx): Promise<FieldErrors> => {
      const refusal = await calendarRefusal(ctx.db, d.planId, ctx.now(), ctx.config.mail.timeZone);
      if (refusal === 'unknown') return { planId: "Cette homologation n'existe pas : choisissez-en une autre." };
      return refusal === 'read_only' ? { planId: 'Cette homologation est archivée ou expirée : son calendrier ne change plus.' } : {};
    },
    toValues: (m) => ({ planId: String(m.planId), title: m.title, dueDate: m.dueDate, done: m.done ? 'on' : '' }),
    columns: [
      { label: 'Date', value: (m) => h.date(m.dueDate) },
      { label: 'Intitulé', value: (m) => m.title },
      { label: 'État', value: (m) => (m.done ? 'Réalisé' : 'Reste à faire') },
    ],
  }),
];

/** The reference tables' pages, as the administration's index lists them. */
export const ADMIN_TABLES = ENTITIES.map((e) => ({ slug: e.slug, title: e.title }));

/** The reference tables (teams, communes, services, instances, environments, milestones): one generic set of pages. */
export function adminReferencesRouter(ctx: AppContext): Router {
  const router = Router();
  const renderForm = formRenderer(ctx);

  // ---- reference tables, one generic set of pages ----
  for (const e of ENTITIES) {
    const base = `/${e.slug}`;
    // "L'équipe « PWN »", "Le service « Voirie »": the row a notice speaks of, from "une équipe", "un service"
    const [article, ...words] = e.one.split(' ');
    const noun = words.join(' ');
    const agreement = article === 'une' ? 'e' : '';
    const nameColumn = e.columns.find((c) => ['Nom', 'Intitulé', 'Libellé'].includes(c.label)) ?? e.columns[0];
    const named = (item: Parameters<typeof e.toValues>[0] | undefined) =>
      `${/^[aeiouéèê]/i.test(noun) ? "L'" : article === 'une' ? 'La ' : 'Le '}${noun}${item && nameColumn ? ` « ${nameColumn.value(item)} »` : ''}`;
    const load = async (req: Request) => {
      const item = await e.repo.get(ctx.db, idParam(req.params.id));
      if (!item) throw notFound();
      return item;
    };
    const save = async (req: Request, res: Response, id?: number) => {
      const values = readValues(e.fields, req.body);
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
      notify(req, `${named(await e.repo.get(ctx.db, r.id))} est ${id === undefined ? 'ajouté' : 'enregistré'}${agreement}.`);
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
      if (r.ok) {
        notify(req, `${named(item)} est supprimé${agreement}.`);
        return res.redirect(303, `/admin${base}`);
      }
      if (r.reason === 'not_found') throw notFound();
      res.status(409).render('admin/delete', {
        title: `Supprimer ${e.one}`, entity: e, id: item.id, label: e.columns.map((c) => c.value(item)).join(' — '),
        error: e.inUse ?? "Impossible de supprimer : d'autres éléments y font référence (instances, fiches ou comptes). Modifiez-les d'abord.",
      });
    });
  }

  return router;
}
