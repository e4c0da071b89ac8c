import { expect } from 'chai';
import type { Knex } from 'knex';
import request from 'supertest';
import { DEMO_PASSWORD } from '../db/seeds/demo';
import { ACCOUNTS, type Agent, csrfOf, formBody, freshApp, NOW, postForm, signIn, type TestApp, textOf } from './helpers';

// ---- reading the admin pages the way a user (or a screen reader) does ----

const unescape = (s: string) =>
  s.replace(/&#39;/g, "'").replace(/&#34;|&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The message under a field: the fr-error-text paragraph, which the field's control must point to. */
function fieldError(html: string, field: string): string | null {
  const message = new RegExp(`<p id="${field}-error" class="fr-error-text">([\\s\\S]*?)</p>`).exec(html);
  if (!message) return null;
  expect(controlTag(html, field), `the control of ${field} points to its error`).to.contain(`aria-describedby="${field}-error"`);
  return textOf(message[1]!).trim();
}

function controlTag(html: string, field: string): string {
  const tag = new RegExp(`<(input|select|textarea)\\b[^>]*\\bid="${field}"[^>]*>`).exec(html);
  if (!tag) throw new Error(`Pas de champ ${field} dans la page`);
  return tag[0];
}

/** What the re-rendered form shows in a field: the value of an input, a textarea's text, the selected option, 'on' for a ticked box. */
function fieldValue(html: string, field: string): string {
  const tag = controlTag(html, field);
  if (tag.startsWith('<select')) {
    const block = new RegExp(`<select\\b[^>]*\\bid="${field}"[^>]*>([\\s\\S]*?)</select>`).exec(html)![1]!;
    const selected = /<option value="([^"]*)"\s+selected>/.exec(block);
    return selected ? unescape(selected[1]!) : '';
  }
  if (tag.startsWith('<textarea')) {
    return unescape(new RegExp(`<textarea\\b[^>]*\\bid="${field}"[^>]*>([\\s\\S]*?)</textarea>`).exec(html)![1]!);
  }
  if (/type="checkbox"/.test(tag)) return /\bchecked\b/.test(tag) ? 'on' : '';
  return unescape(/value="([^"]*)"/.exec(tag)?.[1] ?? '');
}

const count = async (db: Knex, table: string) => Number((await db(table).count({ n: '*' }).first())!.n);

async function auditOf(db: Knex, entityType: string, entityId: number) {
  const rows = await db('audit_log').where({ entity_type: entityType, entity_id: entityId }).orderBy('id');
  return rows.map((r) => ({
    action: r.action as string,
    userId: r.user_id === null ? null : Number(r.user_id),
    actor: r.actor as string,
    summary: r.summary as string,
    before: r.before ? JSON.parse(r.before) : null,
    after: r.after ? JSON.parse(r.after) : null,
  }));
}

/** Ids of the demo plan's reference rows, by name (they differ between engines and runs only in theory). */
async function demoIds(db: Knex) {
  const id = async (table: string, where: Record<string, string>) => Number((await db(table).where(where).first()).id);
  return {
    pwn: await id('teams', { name: 'PWN' }),
    snu1: await id('teams', { name: 'SNU 1' }),
    intranet: await id('services', { name: 'Intranet' }),
    extranet: await id('services', { name: 'Extranet' }),
    bron: await id('communes', { name: 'Bron' }),
    villeurbanne: await id('communes', { name: 'Villeurbanne' }),
    admin: await id('users', { email: ACCOUNTS.admin }),
    viewer: await id('users', { email: ACCOUNTS.viewer }),
    plan: Number((await db('plans').orderBy('id').first()).id),
  };
}
type Ids = Awaited<ReturnType<typeof demoIds>>;

// ---- one create → list → edit → delete round per reference table ----

interface Round {
  slug: string;
  table: string;
  entityType: string;
  /** Finds the row the form created. */
  where: (fields: Record<string, string>) => Record<string, unknown>;
  create: (ids: Ids) => Record<string, string>;
  edit: (ids: Ids) => Record<string, string>;
  /** The row as stored, the columns we check. */
  row: (r: Record<string, unknown>) => Record<string, unknown>;
  created: (ids: Ids) => Record<string, unknown>;
  edited: (ids: Ids) => Record<string, unknown>;
  /** The audit snapshot (the item as the application reads it). */
  snapshotCreated: (ids: Ids) => Record<string, unknown>;
  snapshotEdited: (ids: Ids) => Record<string, unknown>;
  /** Text the list shows for the item, before and after the edit. */
  listCreated: string[];
  listEdited: string[];
}

const ROUNDS: Round[] = [
  {
    slug: 'equipes', table: 'teams', entityType: 'team',
    where: (f) => ({ name: f.name }),
    create: () => ({ name: 'Équipe sécurité', description: 'Suit les vulnérabilités' }),
    edit: () => ({ name: 'Équipe cybersécurité', description: 'Suit les vulnérabilités et les correctifs' }),
    row: (r) => ({ name: r.name, description: r.description }),
    created: () => ({ name: 'Équipe sécurité', description: 'Suit les vulnérabilités' }),
    edited: () => ({ name: 'Équipe cybersécurité', description: 'Suit les vulnérabilités et les correctifs' }),
    snapshotCreated: () => ({ name: 'Équipe sécurité', description: 'Suit les vulnérabilités' }),
    snapshotEdited: () => ({ name: 'Équipe cybersécurité', description: 'Suit les vulnérabilités et les correctifs' }),
    listCreated: ['Équipe sécurité Suit les vulnérabilités'],
    listEdited: ['Équipe cybersécurité Suit les vulnérabilités et les correctifs'],
  },
  {
    slug: 'communes', table: 'communes', entityType: 'commune',
    where: (f) => ({ name: f.name }),
    create: () => ({ name: 'Saint-Genis-Laval', inseeCode: '69204' }),
    edit: () => ({ name: 'Saint-Genis-Laval (ville)', inseeCode: '' }),
    row: (r) => ({ name: r.name, insee_code: r.insee_code }),
    created: () => ({ name: 'Saint-Genis-Laval', insee_code: '69204' }),
    edited: () => ({ name: 'Saint-Genis-Laval (ville)', insee_code: null }),
    snapshotCreated: () => ({ name: 'Saint-Genis-Laval', inseeCode: '69204' }),
    snapshotEdited: () => ({ name: 'Saint-Genis-Laval (ville)', inseeCode: null }),
    listCreated: ['Saint-Genis-Laval 69204'],
    listEdited: ['Saint-Genis-Laval (ville) —'],
  },
  {
    slug: 'services', table: 'services', entityType: 'service',
    where: (f) => ({ name: f.name }),
    create: () => ({ name: 'GED', description: 'Gestion électronique des documents', position: '7' }),
    edit: () => ({ name: 'GED métropolitaine', description: 'Gestion électronique des documents', position: '2' }),
    row: (r) => ({ name: r.name, description: r.description, position: Number(r.position) }),
    created: () => ({ name: 'GED', description: 'Gestion électronique des documents', position: 7 }),
    edited: () => ({ name: 'GED métropolitaine', description: 'Gestion électronique des documents', position: 2 }),
    snapshotCreated: () => ({ name: 'GED', position: 7 }),
    snapshotEdited: () => ({ name: 'GED métropolitaine', position: 2 }),
    // Listed by display order, then name: last at 7 (after Toodego, 4), then between Extranet (2) and SAU (3).
    listCreated: ['Toodego', '7 GED Gestion électronique des documents'],
    listEdited: ['Extranet', '2 GED métropolitaine Gestion électronique des documents', 'SAU'],
  },
  {
    slug: 'instances', table: 'instances', entityType: 'instance',
    where: (f) => ({ name: f.name }),
    create: (ids) => ({ name: 'Extranet préproduction', serviceId: String(ids.extranet), environment: 'prod', teamId: String(ids.pwn), communeId: '' }),
    edit: (ids) => ({ name: 'Extranet Bron', serviceId: String(ids.extranet), environment: 'recette', teamId: String(ids.snu1), communeId: String(ids.bron) }),
    row: (r) => ({ name: r.name, service_id: Number(r.service_id), environment: r.environment, team_id: Number(r.team_id), commune_id: r.commune_id === null ? null : Number(r.commune_id) }),
    created: (ids) => ({ name: 'Extranet préproduction', service_id: ids.extranet, environment: 'prod', team_id: ids.pwn, commune_id: null }),
    edited: (ids) => ({ name: 'Extranet Bron', service_id: ids.extranet, environment: 'recette', team_id: ids.snu1, commune_id: ids.bron }),
    snapshotCreated: (ids) => ({ name: 'Extranet préproduction', serviceName: 'Extranet', environment: 'prod', teamId: ids.pwn, teamName: 'PWN', communeId: null }),
    snapshotEdited: (ids) => ({ name: 'Extranet Bron', environment: 'recette', teamId: ids.snu1, teamName: 'SNU 1', communeId: ids.bron, communeName: 'Bron' }),
    listCreated: ['Extranet Extranet préproduction Production PWN —'],
    listEdited: ['Extranet Extranet Bron Recette SNU 1 Bron'],
  },
  {
    slug: 'jalons', table: 'milestones', entityType: 'milestone',
    where: (f) => ({ title: f.title }),
    // An unticked box is not sent at all by a browser.
    create: (ids) => ({ planId: String(ids.plan), title: 'Audit de sécurité externe', dueDate: '2026-05-20' }),
    edit: (ids) => ({ planId: String(ids.plan), title: 'Audit de sécurité externe (seconde passe)', dueDate: '2026-06-02', done: 'on' }),
    row: (r) => ({ title: r.title, due_date: r.due_date, done: Boolean(r.done), plan_id: Number(r.plan_id) }),
    created: (ids) => ({ title: 'Audit de sécurité externe', due_date: '2026-05-20', done: false, plan_id: ids.plan }),
    edited: (ids) => ({ title: 'Audit de sécurité externe (seconde passe)', due_date: '2026-06-02', done: true, plan_id: ids.plan }),
    snapshotCreated: (ids) => ({ title: 'Audit de sécurité externe', dueDate: '2026-05-20', done: false, planId: ids.plan }),
    snapshotEdited: () => ({ title: 'Audit de sécurité externe (seconde passe)', dueDate: '2026-06-02', done: true }),
    listCreated: ['20/05/2026 Audit de sécurité externe Reste à faire'],
    listEdited: ['02/06/2026 Audit de sécurité externe (seconde passe) Réalisé'],
  },
];

/** The list's text, and checks that each expected piece appears, in order. */
function expectInOrder(text: string, pieces: string[], what: string) {
  let from = 0;
  for (const piece of pieces) {
    const at = text.indexOf(piece, from);
    expect(at, `${what}: « ${piece} » after position ${from}`).to.be.greaterThan(-1);
    from = at + piece.length;
  }
}

describe('administration: reference tables', () => {
  let t: TestApp;
  let admin: Agent;
  let ids: Ids;
  beforeEach(async () => {
    t = await freshApp();
    admin = await signIn(t.app, ACCOUNTS.admin);
    ids = await demoIds(t.db);
  });
  afterEach(() => t.close());

  for (const r of ROUNDS) {
    it(`${r.slug}: creates, lists, edits and deletes, each step in the database and the audit log`, async () => {
      const rowsBefore = await count(t.db, r.table);
      const auditBefore = await count(t.db, 'audit_log');

      // Create
      const create = r.create(ids);
      const form = await admin.get(`/admin/${r.slug}/nouveau`).expect(200);
      for (const name of Object.keys(create)) controlTag(form.text, name);
      const created = await postForm(admin, `/admin/${r.slug}/nouveau`, `/admin/${r.slug}`, create);
      expect(created.status, created.text.slice(0, 300)).to.equal(303);
      expect(created.headers.location).to.equal(`/admin/${r.slug}`);
      const row = await t.db(r.table).where(r.where(create)).first();
      expect(row, 'row created').to.exist;
      const id = Number(row.id);
      expect(r.row(row)).to.deep.equal(r.created(ids));
      expect(await count(t.db, r.table)).to.equal(rowsBefore + 1);

      const list = await admin.get(`/admin/${r.slug}`).expect(200);
      expectInOrder(textOf(list.text), r.listCreated, 'list after creation');
      expect(list.text).to.contain(`href="/admin/${r.slug}/${id}/modifier"`);
      expect(list.text).to.contain(`href="/admin/${r.slug}/${id}/supprimer"`);

      // Edit: the form shows the stored values, the save replaces them.
      const editForm = await admin.get(`/admin/${r.slug}/${id}/modifier`).expect(200);
      for (const [name, value] of Object.entries(create)) expect(fieldValue(editForm.text, name), `edit form, ${name}`).to.equal(value);
      const edit = r.edit(ids);
      const edited = await postForm(admin, `/admin/${r.slug}/${id}/modifier`, `/admin/${r.slug}/${id}`, edit);
      expect(edited.status, edited.text.slice(0, 300)).to.equal(303);
      expect(r.row(await t.db(r.table).where({ id }).first())).to.deep.equal(r.edited(ids));
      expect(await count(t.db, r.table)).to.equal(rowsBefore + 1);
      expectInOrder(textOf((await admin.get(`/admin/${r.slug}`).expect(200)).text), r.listEdited, 'list after edit');

      // Delete, after the confirmation page.
      const confirm = await admin.get(`/admin/${r.slug}/${id}/supprimer`).expect(200);
      expect(textOf(confirm.text)).to.contain('Vous allez supprimer');
      const deleted = await postForm(admin, `/admin/${r.slug}/${id}/supprimer`, `/admin/${r.slug}/${id}/supprimer`, {});
      expect(deleted.status).to.equal(303);
      expect(await t.db(r.table).where({ id }).first()).to.equal(undefined);
      expect(await count(t.db, r.table)).to.equal(rowsBefore);
      expect(list.text).to.contain(`/admin/${r.slug}/${id}/modifier`);
      expect((await admin.get(`/admin/${r.slug}`).expect(200)).text).not.to.contain(`/admin/${r.slug}/${id}/modifier`);
      await admin.get(`/admin/${r.slug}/${id}/modifier`).expect(404);

      // Three audit entries, by the administrator, with the item before and after each change.
      const audit = await auditOf(t.db, r.entityType, id);
      expect(audit.map((a) => a.action)).to.deep.equal(['create', 'update', 'delete']);
      expect(await count(t.db, 'audit_log')).to.equal(auditBefore + 3);
      for (const a of audit) {
        expect(a.userId).to.equal(ids.admin);
        expect(a.actor).to.equal(`Camille Martin <${ACCOUNTS.admin}>`);
      }
      const [c, u, d] = audit as [typeof audit[0], typeof audit[0], typeof audit[0]];
      expect(c.before).to.equal(null);
      expect(c.after).to.include({ id, ...r.snapshotCreated(ids) });
      expect(u.before).to.deep.equal(c.after);
      expect(u.after).to.include({ id, ...r.snapshotEdited(ids) });
      expect(d.before).to.deep.equal(u.after);
      expect(d.after).to.equal(null);
      expect(d.summary).to.equal(String(r.snapshotEdited(ids).name ?? r.snapshotEdited(ids).title));
    });
  }

  it('refuses an empty team name: 422, the message under the field, the description kept, nothing written', async () => {
    const [teams, audit] = [await count(t.db, 'teams'), await count(t.db, 'audit_log')];
    const res = await postForm(admin, '/admin/equipes/nouveau', '/admin/equipes', { name: '   ', description: "Astreinte <nuit> & week-end" });
    expect(res.status).to.equal(422);
    expect(fieldError(res.text, 'name')).to.equal("Saisissez le nom de l'équipe.");
    expect(fieldError(res.text, 'description')).to.equal(null);
    expect(fieldValue(res.text, 'description')).to.equal('Astreinte <nuit> & week-end');
    expect(res.text).not.to.contain('<nuit>');
    expect(textOf(res.text)).to.contain('Le formulaire contient une erreur');
    expect(await count(t.db, 'teams')).to.equal(teams);
    expect(await count(t.db, 'audit_log')).to.equal(audit);
  });

  it('refuses an instance without service nor environment, keeping the name, team and commune chosen', async () => {
    const [instances, audit] = [await count(t.db, 'instances'), await count(t.db, 'audit_log')];
    const res = await postForm(admin, '/admin/instances/nouveau', '/admin/instances', {
      name: 'Portail des aidants', serviceId: '', environment: '', teamId: String(ids.snu1), communeId: String(ids.bron),
    });
    expect(res.status).to.equal(422);
    expect(fieldError(res.text, 'serviceId')).to.equal('Choisissez le service.');
    expect(fieldError(res.text, 'environment')).to.equal("Choisissez l'environnement : production ou recette.");
    expect(fieldError(res.text, 'name')).to.equal(null);
    expect(fieldError(res.text, 'teamId')).to.equal(null);
    expect(textOf(res.text)).to.contain('Le formulaire contient 2 erreurs');
    expect(fieldValue(res.text, 'name')).to.equal('Portail des aidants');
    expect(fieldValue(res.text, 'teamId')).to.equal(String(ids.snu1));
    expect(fieldValue(res.text, 'communeId')).to.equal(String(ids.bron));
    expect(fieldValue(res.text, 'serviceId')).to.equal('');
    expect(await count(t.db, 'instances')).to.equal(instances);
    expect(await count(t.db, 'audit_log')).to.equal(audit);
  });

  it('refuses an instance whose service, team or commune was deleted meanwhile, with a message rather than an error page', async () => {
    const instances = await count(t.db, 'instances');
    const res = await postForm(admin, '/admin/instances/nouveau', '/admin/instances', {
      name: 'Instance orpheline', serviceId: '999999', environment: 'prod', teamId: '999998', communeId: '999997',
    });
    expect(res.status).to.equal(422);
    expect(fieldError(res.text, 'serviceId')).to.equal("Ce service n'existe plus : choisissez-en un autre.");
    expect(fieldError(res.text, 'teamId')).to.equal("Cette équipe n'existe plus : choisissez-en une autre.");
    expect(fieldError(res.text, 'communeId')).to.equal("Cette commune n'existe plus : choisissez-en une autre.");
    expect(fieldValue(res.text, 'name')).to.equal('Instance orpheline');
    expect(await count(t.db, 'instances')).to.equal(instances);
  });

  it('files a milestone under the homologation chosen, refusing none, an unknown one or an archived one next to the field', async () => {
    const [milestones, audit] = [await count(t.db, 'milestones'), await count(t.db, 'audit_log')];
    const none = await postForm(admin, '/admin/jalons/nouveau', '/admin/jalons', { title: 'Revue RH', dueDate: '2026-05-04' });
    expect(none.status).to.equal(422);
    expect(fieldError(none.text, 'planId')).to.equal("Choisissez l'homologation du jalon.");
    expect(fieldValue(none.text, 'title')).to.equal('Revue RH');
    const unknown = await postForm(admin, '/admin/jalons/nouveau', '/admin/jalons', { planId: '999999', title: 'Revue RH', dueDate: '2026-05-04' });
    expect(fieldError(unknown.text, 'planId')).to.equal("Cette homologation n'existe pas : choisissez-en une autre.");
    const [row] = await t.db('plans').insert({ title: 'Ancien portail', organisation: 'Métropole', reminder: '', is_demo: false, archived_at: NOW.toISOString(), archived_reason: 'manuel' }).returning('id');
    const archived = Number(typeof row === 'object' ? row.id : row);
    const refused = await postForm(admin, '/admin/jalons/nouveau', '/admin/jalons', { planId: String(archived), title: 'Revue RH', dueDate: '2026-05-04' });
    expect(refused.status).to.equal(422);
    expect(fieldError(refused.text, 'planId')).to.equal('Cette homologation est archivée ou expirée : son calendrier ne change plus.');
    expect(await count(t.db, 'milestones')).to.equal(milestones);
    expect(await count(t.db, 'audit_log')).to.equal(audit);
    const hr = Number((await t.db('plans').where({ title: 'Homologation du portail RH' }).first()).id);
    expect((await postForm(admin, '/admin/jalons/nouveau', '/admin/jalons', { planId: String(hr), title: 'Revue RH', dueDate: '2026-05-04' })).status).to.equal(303);
    expect(Number((await t.db('milestones').where({ title: 'Revue RH' }).first()).plan_id)).to.equal(hr);
  });

  it('refuses a milestone dated 31 February, keeping the title, the date typed and the ticked box', async () => {
    const [milestones, audit] = [await count(t.db, 'milestones'), await count(t.db, 'audit_log')];
    const res = await postForm(admin, '/admin/jalons/nouveau', '/admin/jalons', { title: 'Revue de direction', dueDate: '2026-02-31', done: 'on' });
    expect(res.status).to.equal(422);
    expect(fieldError(res.text, 'dueDate')).to.equal("Cette date n'existe pas.");
    expect(fieldError(res.text, 'title')).to.equal(null);
    expect(fieldValue(res.text, 'title')).to.equal('Revue de direction');
    expect(fieldValue(res.text, 'dueDate')).to.equal('2026-02-31');
    expect(fieldValue(res.text, 'done')).to.equal('on');
    const missing = await postForm(admin, '/admin/jalons/nouveau', '/admin/jalons', { title: '', dueDate: '' });
    expect(missing.status).to.equal(422);
    expect(fieldError(missing.text, 'title')).to.equal("Saisissez l'intitulé du jalon.");
    expect(fieldError(missing.text, 'dueDate')).to.equal('Saisissez la date du jalon.');
    expect(fieldValue(missing.text, 'done')).to.equal('');
    expect(await count(t.db, 'milestones')).to.equal(milestones);
    expect(await count(t.db, 'audit_log')).to.equal(audit);
  });

  it('refuses a malformed INSEE code and a non-numeric display order, on creation and on edit', async () => {
    const commune = await postForm(admin, '/admin/communes/nouveau', '/admin/communes', { name: 'Irigny', inseeCode: '6910' });
    expect(commune.status).to.equal(422);
    expect(fieldError(commune.text, 'inseeCode')).to.equal('Le code INSEE compte 5 caractères (par exemple 69266 ou 2A004).');
    expect(fieldValue(commune.text, 'name')).to.equal('Irigny');
    expect(await t.db('communes').where({ name: 'Irigny' })).to.have.length(0);

    const edit = await postForm(admin, `/admin/services/${ids.intranet}/modifier`, `/admin/services/${ids.intranet}`, { name: 'Intranet des agents', description: '', position: 'premier' });
    expect(edit.status).to.equal(422);
    expect(fieldError(edit.text, 'position')).to.equal('Saisissez un nombre entier.');
    expect(fieldValue(edit.text, 'name')).to.equal('Intranet des agents');
    // The form still posts to the same item.
    expect(edit.text).to.contain(`action="/admin/services/${ids.intranet}"`);
    expect((await t.db('services').where({ id: ids.intranet }).first()).name).to.equal('Intranet');
  });

  it('refuses a duplicate name on creation and on renaming, with the duplicate message, and writes nothing', async () => {
    const [teams, audit] = [await count(t.db, 'teams'), await count(t.db, 'audit_log')];
    const dup = await postForm(admin, '/admin/equipes/nouveau', '/admin/equipes', { name: 'PWN', description: 'Doublon' });
    expect(dup.status).to.equal(422);
    expect(fieldError(dup.text, 'name')).to.equal('Une équipe porte déjà ce nom.');
    expect(fieldValue(dup.text, 'description')).to.equal('Doublon');
    expect(await t.db('teams').where({ name: 'PWN' })).to.have.length(1);

    const rename = await postForm(admin, `/admin/equipes/${ids.snu1}/modifier`, `/admin/equipes/${ids.snu1}`, { name: 'PWN', description: 'Renommée' });
    expect(rename.status).to.equal(422);
    expect(fieldError(rename.text, 'name')).to.equal('Une équipe porte déjà ce nom.');
    expect((await t.db('teams').where({ id: ids.snu1 }).first()).name).to.equal('SNU 1');

    // Instances are unique per service: the same name under another service is accepted.
    const sameService = await postForm(admin, '/admin/instances/nouveau', '/admin/instances', {
      name: 'Intranet production', serviceId: String(ids.intranet), environment: 'prod', teamId: String(ids.pwn), communeId: '',
    });
    expect(sameService.status).to.equal(422);
    expect(fieldError(sameService.text, 'name')).to.equal('Ce service a déjà une instance de ce nom.');
    const otherService = await postForm(admin, '/admin/instances/nouveau', '/admin/instances', {
      name: 'Intranet production', serviceId: String(ids.extranet), environment: 'prod', teamId: String(ids.pwn), communeId: '',
    });
    expect(otherService.status).to.equal(303);

    expect(await count(t.db, 'teams')).to.equal(teams);
    expect(await count(t.db, 'audit_log')).to.equal(audit + 1);
  });

  it('refuses to delete a team, a service, a commune or an instance still in use (409) and keeps them', async () => {
    const audit = await count(t.db, 'audit_log');
    const cases = [
      { slug: 'equipes', table: 'teams', id: ids.pwn },
      { slug: 'services', table: 'services', id: ids.intranet },
      { slug: 'communes', table: 'communes', id: ids.villeurbanne },
      // in a fiche's scope (fiche 2 concerns the Intranet instances)
      { slug: 'instances', table: 'instances', id: Number((await t.db('instances').where({ name: 'Intranet production' }).first()).id) },
    ];
    for (const c of cases) {
      const res = await postForm(admin, `/admin/${c.slug}/${c.id}/supprimer`, `/admin/${c.slug}/${c.id}/supprimer`, {});
      expect(res.status, c.slug).to.equal(409);
      expect(textOf(res.text)).to.contain("Impossible de supprimer : d'autres éléments y font référence");
      // The page still offers the confirmation for the same item.
      expect(res.text).to.contain(`action="/admin/${c.slug}/${c.id}/supprimer"`);
      expect(await t.db(c.table).where({ id: c.id }).first(), c.slug).to.exist;
    }
    expect(await t.db('instances').where({ team_id: ids.pwn })).to.have.length.greaterThan(0);
    expect(await count(t.db, 'audit_log')).to.equal(audit);
    expect(await t.db('audit_log').where({ action: 'delete' })).to.have.length(0);
  });

  it('answers 404 for an unknown or malformed id', async () => {
    for (const url of ['/admin/equipes/999999/modifier', '/admin/jalons/abc/modifier', '/admin/communes/999999/supprimer', '/admin/utilisateurs/999999/modifier']) {
      const res = await admin.get(url);
      expect(res.status, url).to.equal(404);
    }
    const res = await postForm(admin, '/admin/equipes', '/admin/equipes/999999', { name: 'Fantôme', description: '' });
    expect(res.status).to.equal(404);
    expect(await t.db('teams').where({ name: 'Fantôme' })).to.have.length(0);
  });
});

describe('administration: accounts', () => {
  let t: TestApp;
  let admin: Agent;
  let ids: Ids;
  beforeEach(async () => {
    t = await freshApp();
    admin = await signIn(t.app, ACCOUNTS.admin);
    ids = await demoIds(t.db);
  });
  afterEach(() => t.close());

  const userValues = (id: number, db: Knex) => db('users').where({ id }).first();

  it('creates an account without a password: a one-time link, shown once, lets its owner choose one', async () => {
    const res = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', {
      name: 'Lucie Garnier', email: ' Lucie.Garnier@Metropole.example.org ', role: 'editor', communeId: '', active: 'on',
    });
    expect(res.status, res.text.slice(0, 300)).to.equal(201);
    const link = /https:\/\/plan\.metropole\.example\.org(\/mot-de-passe\/[\w-]+)/.exec(res.text)![1]!;
    expect(textOf(res.text)).to.contain('Lien affiché une seule fois');
    const row = await t.db('users').where({ email: 'lucie.garnier@metropole.example.org' }).first();
    expect({ name: row.name, role: row.role, communeId: row.commune_id, active: Boolean(row.active) })
      .to.deep.equal({ name: 'Lucie Garnier', role: 'editor', communeId: null, active: true });
    // only the link's hash is kept
    expect(await t.db('auth_tokens').where({ user_id: row.id }).first().then((r) => r.token_hash)).not.to.contain(link.split('/').pop()!);
    const list = textOf((await admin.get('/admin/utilisateurs').expect(200)).text);
    expect(list).to.contain('Lucie Garnier lucie.garnier@metropole.example.org Équipe projet (édition) — Actif');
    const [audit] = await auditOf(t.db, 'user', Number(row.id));
    expect(audit).to.include({ action: 'create', userId: ids.admin, summary: 'Lucie.Garnier@Metropole.example.org' });
    expect((await t.db('audit_log').where({ entity_type: 'user', entity_id: row.id, action: 'password_link' })).length).to.equal(1);

    // the owner opens the link (no session needed), a weak password is refused next to the field, a good one saved
    const owner = request.agent(t.app);
    const page = await owner.get(link).expect(200);
    const weak = await owner.post(link).type('form').send({ _csrf: csrfOf(page.text), password: 'Court-9876', confirm: 'Court-9876' });
    expect(weak.status).to.equal(422);
    expect(weak.text).to.contain('Le mot de passe doit contenir au moins 12 caractères.').and.not.contain('Court-9876');
    const password = 'une phrase de passe solide';
    const set = await owner.post(link).type('form').send({ _csrf: csrfOf(weak.text), password, confirm: password });
    expect(set.status).to.equal(303);
    expect(set.headers.location).to.equal('/connexion?mot-de-passe=1');
    const lucie = await signIn(t.app, 'lucie.garnier@metropole.example.org', password);
    expect((await lucie.get('/homologations/1').expect(200)).text).to.contain('Lucie Garnier');
    await lucie.get('/admin').expect(403);
    // the link served once
    expect(textOf((await request(t.app).get(link).expect(404)).text)).to.contain('Lien expiré ou déjà utilisé');
    const raw = await t.db('audit_log').where({ entity_type: 'user', entity_id: row.id }).select('after');
    expect(raw.map((r) => String(r.after)).join(' ')).not.to.contain('argon2').and.not.to.contain(password);
  });

  it("puts a user in a team, whose late-fiche alerts they then receive, but never a commune agent", async () => {
    const pwn = await t.db('teams').where({ name: 'PWN' }).first();
    const res = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', {
      name: 'Hugo Marchand', email: 'hugo.marchand@metropole.example.org', role: 'viewer', communeId: '', teamId: String(pwn.id), active: 'on', password: 'une phrase de passe solide',
    });
    expect(res.status).to.equal(201);
    const hugo = await t.db('users').where({ email: 'hugo.marchand@metropole.example.org' }).first();
    expect(await t.db('team_members').where({ user_id: hugo.id }).select('team_id')).to.deep.equal([{ team_id: pwn.id }]);
    const form = await admin.get(`/admin/utilisateurs/${hugo.id}/modifier`).expect(200);
    expect(fieldValue(form.text, 'teamId')).to.equal(String(pwn.id));
    const refused = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', {
      name: 'Agent Bron', email: 'agent@bron.example.org', role: 'commune', communeId: String((await t.db('communes').where({ name: 'Bron' }).first()).id), teamId: String(pwn.id), active: 'on', password: 'une phrase de passe solide',
    });
    expect(refused.status).to.equal(422);
    expect(fieldError(refused.text, 'teamId')).to.equal("Un agent de commune n'est membre d'aucune équipe : laissez le champ vide.");
  });

  it('requires a commune for a commune agent, and keeps none for other roles', async () => {
    const users = await count(t.db, 'users');
    const res = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', {
      name: 'Agent sans commune', email: 'agent@bron.example.org', role: 'commune', communeId: '', active: 'on', password: 'une phrase de passe solide',
    });
    expect(res.status).to.equal(422);
    expect(fieldError(res.text, 'communeId')).to.equal('Choisissez la commune de cet agent.');
    expect(fieldValue(res.text, 'role')).to.equal('commune');
    expect(await count(t.db, 'users')).to.equal(users);

    const ok = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', {
      name: 'Agent de Bron', email: 'agent@bron.example.org', role: 'commune', communeId: String(ids.bron), active: 'on', password: 'une phrase de passe solide',
    });
    expect(ok.status).to.equal(201);
    expect(Number((await t.db('users').where({ email: 'agent@bron.example.org' }).first()).commune_id)).to.equal(ids.bron);

    // A commune chosen for another role is not kept: it would mean nothing.
    const viewer = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', {
      name: 'Élu de Bron', email: 'elu@bron.example.org', role: 'viewer', communeId: String(ids.bron), active: 'on', password: 'une phrase de passe solide',
    });
    expect(viewer.status).to.equal(201);
    expect((await t.db('users').where({ email: 'elu@bron.example.org' }).first()).commune_id).to.equal(null);
  });

  it('refuses an e-mail already used, whatever its case', async () => {
    const users = await count(t.db, 'users');
    const res = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', {
      name: 'Homonyme', email: ACCOUNTS.viewer.toUpperCase(), role: 'viewer', active: 'on', password: 'une phrase de passe solide',
    });
    expect(res.status).to.equal(422);
    expect(fieldError(res.text, 'email')).to.equal('Un compte existe déjà avec cette adresse.');
    expect(fieldValue(res.text, 'name')).to.equal('Homonyme');
    expect(await count(t.db, 'users')).to.equal(users);
  });

  it('keeps at least one active administrator: the last one cannot become a viewer, nor be deactivated', async () => {
    const fields = { name: 'Camille Martin', email: ACCOUNTS.admin, role: 'viewer', communeId: '', active: 'on', password: '' };
    const demote = await postForm(admin, `/admin/utilisateurs/${ids.admin}/modifier`, `/admin/utilisateurs/${ids.admin}`, fields);
    expect(demote.status).to.equal(422);
    expect(fieldError(demote.text, 'role')).to.equal('Ce compte est le dernier administrateur actif : nommez-en un autre avant de le modifier.');
    expect(fieldValue(demote.text, 'role')).to.equal('viewer');
    const deactivate = await postForm(admin, `/admin/utilisateurs/${ids.admin}/modifier`, `/admin/utilisateurs/${ids.admin}`, { ...fields, role: 'admin', active: undefined });
    expect(deactivate.status).to.equal(422);
    expect(fieldError(deactivate.text, 'role')).to.contain('dernier administrateur actif');
    expect(fieldValue(deactivate.text, 'active')).to.equal('');
    const row = await userValues(ids.admin, t.db);
    expect({ role: row.role, active: Boolean(row.active) }).to.deep.equal({ role: 'admin', active: true });
    await admin.get('/admin').expect(200);

    // Once another administrator exists, the change is accepted.
    const other = await postForm(admin, '/admin/utilisateurs/nouveau', '/admin/utilisateurs', {
      name: 'Second Admin', email: 'admin2@metropole.example.org', role: 'admin', active: 'on', password: 'une phrase de passe solide',
    });
    expect(other.status).to.equal(201);
    const again = await postForm(admin, `/admin/utilisateurs/${ids.admin}/modifier`, `/admin/utilisateurs/${ids.admin}`, fields);
    expect(again.status).to.equal(303);
    expect((await userValues(ids.admin, t.db)).role).to.equal('viewer');
    // The session follows the account: the former administrator is now refused.
    await admin.get('/admin').expect(403);
  });

  it('a deactivated account can no longer sign in, and its open session ends', async () => {
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    await viewer.get('/homologations/1').expect(200);
    const before = await userValues(ids.viewer, t.db);
    // The box left unticked: the browser sends no "active" field.
    const res = await postForm(admin, `/admin/utilisateurs/${ids.viewer}/modifier`, `/admin/utilisateurs/${ids.viewer}`, {
      name: 'Sophie Bernard', email: ACCOUNTS.viewer, role: 'viewer', communeId: '', password: '',
    });
    expect(res.status, res.text.slice(0, 300)).to.equal(303);
    const after = await userValues(ids.viewer, t.db);
    expect(Boolean(after.active)).to.equal(false);
    expect(after.password_hash, 'an empty password field keeps the password').to.equal(before.password_hash);
    expect(textOf((await admin.get('/admin/utilisateurs')).text)).to.contain(`Sophie Bernard ${ACCOUNTS.viewer} Comité de pilotage (lecture) — Suspendu`);

    const stale = await viewer.get('/homologations/1');
    expect(stale.status).to.equal(302);
    expect(stale.headers.location).to.match(/^\/connexion/);

    const agent = request.agent(t.app);
    const page = await agent.get('/connexion');
    const login = await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email: ACCOUNTS.viewer, password: DEMO_PASSWORD });
    expect(login.status).to.equal(401);
    expect(textOf(login.text)).to.contain('Connexion refusée : adresse électronique ou mot de passe incorrect, ou compte bloqué.');

    const [audit] = (await auditOf(t.db, 'user', ids.viewer)).filter((a) => a.action === 'update');
    expect(audit!.before).to.include({ active: true });
    expect(audit!.after).to.include({ active: false });
  });

  it('sends a fresh link instead of typing a password, and the former one stops working', async () => {
    const url = `/admin/utilisateurs/${ids.viewer}`;
    const first = await postForm(admin, `${url}/modifier`, `${url}/lien`, {});
    expect(first.status).to.equal(200);
    const second = await postForm(admin, `${url}/modifier`, `${url}/lien`, {});
    const links = [first, second].map((r) => /(\/mot-de-passe\/[\w-]+)/.exec(r.text)![1]!);
    await request(t.app).get(links[0]!).expect(404);
    await request(t.app).get(links[1]!).expect(200);
  });
});

describe('administration: audit journal', () => {
  let t: TestApp;
  let admin: Agent;
  beforeEach(async () => {
    t = await freshApp();
    admin = await signIn(t.app, ACCOUNTS.admin);
  });
  afterEach(() => t.close());

  it('lists the latest entries first, with who, what and the fields changed', async () => {
    const pwn = Number((await t.db('teams').where({ name: 'PWN' }).first()).id);
    const res = await postForm(admin, `/admin/equipes/${pwn}/modifier`, `/admin/equipes/${pwn}`, { name: 'PWN (web)', description: "Pôle web et numérique : exploite l'intranet et l'extranet" });
    expect(res.status).to.equal(303);
    const journal = await admin.get('/admin/journal').expect(200);
    const text = textOf(journal.text);
    const rows = journal.text.split('<tr>').slice(2);
    const first = unescape(textOf(rows[0]!));
    expect(first).to.contain(`Camille Martin <${ACCOUNTS.admin}>`);
    expect(first).to.contain('Modification');
    expect(first).to.contain('PWN (web)');
    expect(first).to.contain('1 champ');
    expect(first).to.contain('name : PWN → PWN (web)');
    expect(first).not.to.contain('description');
    // The sign-in just before it, and the demo loading further down.
    expect(textOf(rows[1]!)).to.contain('Connexion');
    expectInOrder(text, ['PWN (web)', 'Connexion'], 'newest first');
  });

  it('pages by 100, the oldest entries on the next pages', async () => {
    const total = await count(t.db, 'audit_log');
    // Enough changes to pass 100 entries.
    for (let i = 0; total + i <= 100; i++) {
      const res = await postForm(admin, '/admin/communes/nouveau', '/admin/communes', { name: `Commune ${i}`, inseeCode: '' });
      expect(res.status).to.equal(303);
    }
    const all = await count(t.db, 'audit_log');
    expect(all).to.be.greaterThan(100);
    const first = await admin.get('/admin/journal').expect(200);
    expect(first.text.split('<tr>').length - 2).to.equal(100);
    expect(first.text).to.contain('href="?page=2"');
    const pages = Math.ceil(all / 100);
    const last = await admin.get(`/admin/journal?page=${pages}`).expect(200);
    expect(last.text.split('<tr>').length - 2).to.equal(all - 100 * (pages - 1));
    // the oldest entries, those of the demo's loading, come last
    expect(textOf(last.text)).to.contain('Chargement du plan de démonstration');
    expect(last.text).to.contain(`page=${pages - 1}"`);
    expect(last.text).not.to.contain(`page=${pages + 1}"`);
  });
});

describe('administration: access', () => {
  type Role = 'editor' | 'viewer' | 'commune';
  let t: TestApp;
  let ids: Ids;
  let urls: { get: string[]; post: { url: string; fields: Record<string, string> }[] };
  before(async () => {
    t = await freshApp();
    ids = await demoIds(t.db);
    const slugs = ['equipes', 'communes', 'services', 'instances', 'jalons', 'utilisateurs'];
    const itemOf: Record<string, number> = {
      equipes: ids.pwn, communes: ids.bron, services: ids.intranet,
      instances: Number((await t.db('instances').first()).id), jalons: Number((await t.db('milestones').first()).id), utilisateurs: ids.viewer,
    };
    urls = {
      get: ['/admin', '/admin/journal', ...slugs.flatMap((s) => [`/admin/${s}`, `/admin/${s}/nouveau`, `/admin/${s}/${itemOf[s]}/modifier`]),
        ...slugs.filter((s) => s !== 'utilisateurs').map((s) => `/admin/${s}/${itemOf[s]}/supprimer`)],
      post: [
        { url: '/admin/equipes', fields: { name: 'Intrusion', description: '' } },
        { url: '/admin/communes', fields: { name: 'Intrusion', inseeCode: '' } },
        { url: '/admin/services', fields: { name: 'Intrusion', description: '', position: '1' } },
        { url: '/admin/instances', fields: { name: 'Intrusion', serviceId: String(ids.intranet), environment: 'prod', teamId: String(ids.pwn), communeId: '' } },
        { url: '/admin/jalons', fields: { title: 'Intrusion', dueDate: '2026-04-01' } },
        { url: '/admin/utilisateurs', fields: { name: 'Intrusion', email: 'intrus@example.org', role: 'admin', active: 'on', password: 'une phrase de passe solide' } },
        { url: `/admin/equipes/${ids.pwn}`, fields: { name: 'Intrusion', description: '' } },
        { url: `/admin/equipes/${ids.snu1}/supprimer`, fields: {} },
        { url: `/admin/utilisateurs/${ids.viewer}`, fields: { name: 'Intrusion', email: ACCOUNTS.viewer, role: 'admin', active: 'on', password: '' } },
        { url: '/admin/plan', fields: { title: 'Intrusion', organisation: 'Intrusion', reminder: '' } },
      ],
    };
  });
  after(() => t.close());

  /** Everything the administration pages could have written. */
  const snapshot = async () => ({
    counts: await Promise.all(['teams', 'communes', 'services', 'instances', 'milestones', 'users'].map((table) => count(t.db, table))),
    intrusions: (await t.db('teams').where({ name: 'Intrusion' })).length + (await t.db('users').where({ name: 'Intrusion' })).length
      + (await t.db('plans').where({ title: 'Intrusion' })).length,
    viewer: (await t.db('users').where({ id: ids.viewer }).first()).role,
  });

  it('serves every administration page to an administrator', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    for (const url of urls.get) expect((await admin.get(url)).status, url).to.equal(200);
  });

  for (const role of ['editor', 'viewer', 'commune'] as Role[]) {
    it(`refuses every administration page and form to the ${role} role (403), writing nothing`, async () => {
      const agent = await signIn(t.app, ACCOUNTS[role]);
      const before = await snapshot();
      for (const url of urls.get) {
        const res = await agent.get(url);
        expect(res.status, `GET ${url}`).to.equal(403);
        expect(textOf(res.text)).to.contain('Accès refusé');
      }
      const token = csrfOf((await agent.get('/homologations/1').expect(200)).text);
      for (const p of urls.post) {
        const res = await agent.post(p.url).type('form').send(formBody({ _csrf: token, ...p.fields }));
        expect(res.status, `POST ${p.url}`).to.equal(403);
      }
      expect(await snapshot()).to.deep.equal(before);
      expect(before.intrusions).to.equal(0);
    });
  }

  it('sends a visitor who is not signed in to the sign-in page, for reads and for writes with a valid token', async () => {
    const before = await snapshot();
    for (const url of urls.get) {
      const res = await request(t.app).get(url);
      expect(res.status, `GET ${url}`).to.equal(302);
      expect(res.headers.location, url).to.equal(`/connexion?retour=${encodeURIComponent(url)}`);
    }
    const visitor = request.agent(t.app);
    const token = csrfOf((await visitor.get('/connexion').expect(200)).text);
    for (const p of urls.post) {
      const res = await visitor.post(p.url).type('form').send(formBody({ _csrf: token, ...p.fields }));
      expect(res.status, `POST ${p.url}`).to.equal(302);
      expect(res.headers.location, p.url).to.match(/^\/connexion\?retour=/);
    }
    expect(await snapshot()).to.deep.equal(before);
  });
});
