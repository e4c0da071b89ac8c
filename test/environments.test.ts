import { expect } from 'chai';
import type { Knex } from 'knex';
import { environments, instances } from '../src/data/referentials';
import { countsPhrase } from '../src/domain/agenda';
import { ACCOUNTS, type Agent, csrfOf, ENGINE, freshApp, NOW, postForm, signIn, type TestApp, textOf } from './helpers';

// The organisation's list of environments (issue 12): an admin reference table; instances name one by its code;
// the homologation page's perimeter and the dashboard show one column / group per environment present, in order.

/** The message under a field, which its control points to. */
function fieldError(html: string, field: string): string | null {
  const message = new RegExp(`<p id="${field}-error" class="fr-error-text">([\\s\\S]*?)</p>`).exec(html);
  if (!message) return null;
  const tag = new RegExp(`<(input|select|textarea)\\b[^>]*\\bid="${field}"[^>]*>`).exec(html)![0];
  expect(tag, `the control of ${field} points to its error`).to.contain(`aria-describedby="${field}-error"`);
  return textOf(message[1]!).trim();
}

/** The header cells and the row of a service in the homologation page's perimeter table. */
function perimeterTable(html: string, service: string): { headers: string[]; row: string[] } {
  const section = /<section[^>]*aria-labelledby="perimetre"[\s\S]*?<\/section>/.exec(html)![0];
  const headers = [...(/<thead>([\s\S]*?)<\/thead>/.exec(section)![1]!).matchAll(/<th[^>]*>([\s\S]*?)<\/th>/g)].map((m) => textOf(m[1]!).trim());
  const rows = [...section.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => textOf(c[1]!).trim()));
  return { headers, row: rows.find((r) => r[0] === service) ?? [] };
}

/** The options of the dashboard's environment filter: [value, label]. */
function envOptions(html: string): [string, string][] {
  const block = /<select\b[^>]*\bid="f-env"[^>]*>([\s\S]*?)<\/select>/.exec(html)![1]!;
  return [...block.matchAll(/<option value="([^"]*)"[^>]*>([\s\S]*?)<\/option>/g)].map((m) => [m[1]!, textOf(m[2]!).trim()]);
}

/** A form posted and accepted: the 303 to the list. */
async function redirected(response: Promise<{ status: number; text: string }>) {
  const r = await response;
  expect(r.status, r.text.slice(0, 400)).to.equal(303);
  return r;
}

const ids = async (db: Knex) => ({
  intranet: Number((await db('services').where('name', 'Intranet').first()).id),
  pwn: Number((await db('teams').where('name', 'PWN').first()).id),
});

describe('Environments: the organisation list', function () {
  let t: TestApp;
  let admin: Agent;

  beforeEach(async () => {
    t = await freshApp();
    admin = await signIn(t.app, ACCOUNTS.admin);
  });
  afterEach(async () => t.close());

  const addEnvironment = (fields: Record<string, string>) => postForm(admin, '/admin/environnements/nouveau', '/admin/environnements', fields);
  const addInstance = async (environment: string, name = 'Intranet préproduction') => {
    const { intranet, pwn } = await ids(t.db);
    return postForm(admin, '/admin/instances/nouveau', '/admin/instances', { name, serviceId: String(intranet), environment, teamId: String(pwn), communeId: '' });
  };

  it('lists production and recette by default, in their order', async () => {
    const page = await admin.get('/admin/environnements').expect(200);
    const text = textOf(page.text);
    expect(text).to.match(/1 prod Production .*2 recette Recette/);
  });

  it('an admin adds "Préproduction"; an instance in it shows as a column of the perimeter and as a dashboard filter and group', async () => {
    const created = await addEnvironment({ code: 'preprod', label: 'Préproduction', position: '3' });
    expect(created.status, created.text.slice(0, 300)).to.equal(303);
    const row = await t.db('environments').where('code', 'preprod').first();
    expect(row.label).to.equal('Préproduction');
    const audit = await t.db('audit_log').where({ entity_type: 'environment', entity_id: row.id }).first();
    expect(audit.action).to.equal('create');

    // before any instance is in it, the perimeter shows no column for it; the filter offers it already
    let home = await admin.get('/homologations/1').expect(200);
    expect(perimeterTable(home.text, 'Intranet').headers).to.deep.equal(['Service', 'Production', 'Recette', 'Équipe gestionnaire']);

    // the instance form lists the table
    const form = await admin.get('/admin/instances/nouveau').expect(200);
    expect(form.text).to.match(/<option value="preprod"[^>]*>Préproduction<\/option>/);
    const missing = await addInstance('');
    expect(missing.status).to.equal(422);
    expect(fieldError(missing.text, 'environment')).to.equal("Choisissez l'environnement : production, recette ou préproduction.");
    const instance = await addInstance('preprod');
    expect(instance.status, instance.text.slice(0, 300)).to.equal(303);
    const saved = await t.db('instances').where('name', 'Intranet préproduction').first();
    expect(saved.environment).to.equal('preprod');
    expect(textOf((await admin.get('/admin/instances').expect(200)).text)).to.contain('Intranet préproduction Préproduction');

    // the new instance of Intranet joined homologation 1 (which covers Intranet): a column, in the list's order
    home = await admin.get('/homologations/1').expect(200);
    const table = perimeterTable(home.text, 'Intranet');
    expect(table.headers).to.deep.equal(['Service', 'Production', 'Recette', 'Préproduction', 'Équipe gestionnaire']);
    expect(table.row.slice(0, 4)).to.deep.equal(['Intranet', '1', '1', '1']);
    expect(perimeterTable(home.text, 'Extranet').row.slice(0, 4)).to.deep.equal(['Extranet', '1', '1', '0']);

    // the order follows the positions: moved first, the column comes first
    await redirected(postForm(admin, `/admin/environnements/${row.id}/modifier`, `/admin/environnements/${row.id}`, { code: 'preprod', label: 'Préproduction', position: '0' }));
    home = await admin.get('/homologations/1').expect(200);
    expect(perimeterTable(home.text, 'Intranet').headers).to.deep.equal(['Service', 'Préproduction', 'Production', 'Recette', 'Équipe gestionnaire']);

    // the dashboard: a filter option from the table, a group for it, the filter accepted
    const dash = await admin.get('/homologations/1/tableau-de-bord').expect(200);
    expect(envOptions(dash.text)).to.deep.equal([['', 'Tous'], ['preprod', 'Préproduction'], ['prod', 'Production'], ['recette', 'Recette']]);
    const csv = await admin.get('/homologations/1/tableau-de-bord?export=environnements').expect(200);
    const groups = csv.text.replace(/^\uFEFF/, '').trim().split(/\r?\n/).slice(1).map((l) => l.split(/[;,]/)[0]);
    expect(groups).to.deep.equal(['Préproduction', 'Production', 'Recette']);
    const filtered = await admin.get('/homologations/1/tableau-de-bord?environnement=preprod').expect(200);
    expect(envOptions(filtered.text)).to.deep.include(['preprod', 'Préproduction']);
    expect(filtered.text).to.match(/<option value="preprod"\s+selected>/);
    const unknown = await admin.get('/homologations/1/tableau-de-bord?environnement=formation').expect(400);
    expect(textOf(unknown.text)).to.contain("l'environnement « formation » n'existe pas");

    // the next meeting's live agenda: the perimeter section counts it, in the list's order, and covers this homologation only
    const next = Number((await t.db('meetings').where({ plan_id: 1 }).whereNull('held_at').orderBy('starts_at').first()).id);
    const agenda = textOf((await admin.get(`/homologations/1/seances/${next}/ordre-du-jour`).expect(200)).text);
    expect(agenda).to.contain('Intranet , géré par PWN : 1 instance de préproduction, 1 instance de production et 1 instance de recette');
    expect(agenda).to.contain('Extranet , géré par');
    expect(agenda).not.to.contain('Portail RH , géré par');

    // the fiche form and a fiche's scope name it by its label
    const ficheForm = await admin.get('/homologations/1/fiches/nouvelle').expect(200);
    expect(textOf(ficheForm.text)).to.contain('Intranet préproduction (Préproduction)');
  });

  it('refuses deleting an environment, or changing its code, while an instance is in it; its label may change; unused, it is deleted', async () => {
    await redirected(addEnvironment({ code: 'preprod', label: 'Préproduction', position: '3' }));
    const env = await t.db('environments').where('code', 'preprod').first();
    await redirected(addInstance('preprod'));

    const refused = await postForm(admin, `/admin/environnements/${env.id}/supprimer`, `/admin/environnements/${env.id}/supprimer`, {});
    expect(refused.status).to.equal(409);
    expect(textOf(refused.text)).to.contain('des instances sont dans cet environnement');
    expect(await t.db('environments').where('id', env.id).first()).to.not.equal(undefined);

    const recoded = await postForm(admin, `/admin/environnements/${env.id}/modifier`, `/admin/environnements/${env.id}`, { code: 'pp', label: 'Pré-production', position: '3' });
    expect(recoded.status).to.equal(409);
    expect(fieldError(recoded.text, 'code')).to.contain('Le code ne peut pas changer : une instance est dans cet environnement');
    expect(recoded.text).to.contain('value="Pré-production"');
    expect((await t.db('environments').where('id', env.id).first()).code).to.equal('preprod');

    await redirected(postForm(admin, `/admin/environnements/${env.id}/modifier`, `/admin/environnements/${env.id}`, { code: 'preprod', label: 'Pré-production', position: '3' }));
    const home = await admin.get('/homologations/1').expect(200);
    expect(perimeterTable(home.text, 'Intranet').headers).to.include('Pré-production');

    // an unused environment: its code may change, and it is deleted
    await redirected(addEnvironment({ code: 'formation', label: 'Formation', position: '4' }));
    const formation = await t.db('environments').where('code', 'formation').first();
    await redirected(postForm(admin, `/admin/environnements/${formation.id}/modifier`, `/admin/environnements/${formation.id}`, { code: 'form', label: 'Formation', position: '4' }));
    await redirected(postForm(admin, `/admin/environnements/${formation.id}/supprimer`, `/admin/environnements/${formation.id}/supprimer`, {}));
    expect(await t.db('environments').where('id', formation.id).first()).to.equal(undefined);
    const audit = await t.db('audit_log').where({ entity_type: 'environment', entity_id: formation.id }).orderBy('id').select('action');
    expect(audit.map((a) => a.action)).to.deep.equal(['create', 'update', 'delete']);

    // an instance naming an environment no longer in the list is refused next to the field, nothing written
    const before = Number((await t.db('instances').count({ n: '*' }).first())!.n);
    const orphan = await addInstance('form', 'Intranet formation');
    expect(orphan.status).to.equal(422);
    expect(fieldError(orphan.text, 'environment')).to.equal("Cet environnement n'existe plus : choisissez-en un autre.");
    expect(Number((await t.db('instances').count({ n: '*' }).first())!.n)).to.equal(before);
  });

  it('refuses a bad code, a missing or duplicate label, next to the field, input kept, nothing written', async () => {
    const before = Number((await t.db('environments').count({ n: '*' }).first())!.n);
    const bad = await addEnvironment({ code: 'Pré Prod', label: 'Préproduction', position: '3' });
    expect(bad.status).to.equal(422);
    expect(fieldError(bad.text, 'code')).to.match(/10 caractères au plus/);
    expect(bad.text).to.contain('value="Pré Prod"');
    const long = await addEnvironment({ code: 'preproduction', label: 'Préproduction', position: '3' });
    expect(long.status).to.equal(422);
    expect(fieldError(long.text, 'code')).to.match(/10 caractères au plus/);
    const empty = await addEnvironment({ code: 'preprod', label: ' ', position: '3' });
    expect(empty.status).to.equal(422);
    expect(fieldError(empty.text, 'label')).to.equal("Saisissez le libellé de l'environnement.");
    const duplicate = await addEnvironment({ code: 'prod2', label: 'Production', position: '3' });
    expect(duplicate.status).to.equal(422);
    expect(fieldError(duplicate.text, 'code')).to.equal('Un environnement porte déjà ce code ou ce libellé.');
    expect(Number((await t.db('environments').count({ n: '*' }).first())!.n)).to.equal(before);
  });

  it('is for admins only: an editor and a viewer get 403, nothing written', async () => {
    const env = await t.db('environments').where('code', 'recette').first();
    for (const email of [ACCOUNTS.editor, ACCOUNTS.viewer]) {
      const agent = await signIn(t.app, email);
      await agent.get('/admin/environnements').expect(403);
      await agent.get('/admin/environnements/nouveau').expect(403);
      await agent.get(`/admin/environnements/${env.id}/modifier`).expect(403);
      const page = await agent.get('/homologations').expect(200);
      await agent.post('/admin/environnements').type('form').send({ _csrf: csrfOf(page.text), code: 'x', label: 'X', position: '1' }).expect(403);
      await agent.post(`/admin/environnements/${env.id}/supprimer`).type('form').send({ _csrf: csrfOf(page.text) }).expect(403);
    }
    expect(await t.db('environments').where('code', 'x').first()).to.equal(undefined);
    expect(await t.db('environments').where('id', env.id).first()).to.not.equal(undefined);
  });
});

describe('Environments: the agenda sentence', () => {
  it('reads a frozen agenda from before the list (production and recette only) as it did, and a newer one with every environment', () => {
    const part = (n: number, label: string) => `${n} de ${label}`;
    expect(countsPhrase({ prod: 14, recette: 16 }, part)).to.equal('14 de production et 16 de recette');
    expect(countsPhrase({ prod: 1, recette: 0, environments: [{ label: 'Production', count: 1 }, { label: 'Recette', count: 0 }, { label: 'Formation', count: 2 }] }, part))
      .to.equal('1 de production, 0 de recette et 2 de formation');
    expect(countsPhrase({ prod: 0, recette: 0, environments: [{ label: 'Préproduction', count: 3 }] }, part)).to.equal('3 de préproduction');
  });
});

describe('Environments: a deletion racing an instance save in it (row locks, PostgreSQL)', () => {
  let t: TestApp;
  let other: Knex;
  const actor = { id: null, name: 'test' } as const;
  const settledWithin = async (p: Promise<unknown>, ms: number) => {
    let settled = false;
    void p.then(() => { settled = true; }, () => { settled = true; });
    await new Promise((r) => setTimeout(r, ms));
    return settled;
  };

  beforeEach(async function () {
    // SQLite runs one writing transaction at a time: the interleaving below cannot happen there
    if (ENGINE !== 'postgresql') this.skip();
    t = await freshApp();
    other = t.openAnother();
    await t.db('environments').insert({ code: 'preprod', label: 'Préproduction', position: 3 });
  });
  afterEach(async () => t?.close());

  it('a deletion waits for an instance being saved in the environment, then refuses (in use)', async () => {
    const env = await t.db('environments').where('code', 'preprod').first();
    const { intranet, pwn } = await ids(t.db);
    // an instance save in progress on another connection: its share lock on the environment held
    const trx = await other.transaction();
    await trx('environments').where('code', 'preprod').forShare().first('id');
    const removal = environments.remove(t.db, Number(env.id), actor, NOW);
    expect(await settledWithin(removal, 300), 'the deletion waits for the save').to.equal(false);
    await trx('instances').insert({ service_id: intranet, environment: 'preprod', name: 'Intranet préproduction', team_id: pwn, commune_id: null });
    await trx.commit();
    expect(await removal).to.deep.equal({ ok: false, reason: 'in_use' });
    expect(await t.db('environments').where('code', 'preprod').first()).to.not.equal(undefined);
  });

  it('an instance save waits for a deletion of its environment in progress, then is refused next to the field', async () => {
    const env = await t.db('environments').where('code', 'preprod').first();
    const { intranet, pwn } = await ids(t.db);
    const trx = await other.transaction();
    await trx('environments').where('id', env.id).forUpdate().first('id');
    await trx('environments').where('id', env.id).delete();
    const save = instances.create(t.db, { serviceId: intranet, environment: 'preprod', name: 'Intranet préproduction', teamId: pwn, communeId: null }, actor, NOW);
    expect(await settledWithin(save, 300), 'the save waits for the deletion').to.equal(false);
    await trx.commit();
    const r = await save;
    expect(r.ok).to.equal(false);
    expect(r.ok === false && r.reason === 'refused' && r.refusal).to.deep.equal({ field: 'environment', status: 422, message: "Cet environnement n'existe plus : choisissez-en un autre." });
    expect(await t.db('instances').where('environment', 'preprod').first()).to.equal(undefined);
  });
});
