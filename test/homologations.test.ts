import { expect } from 'chai';
import type { Knex } from 'knex';
import { createHomologation } from '../src/data/homologations';
import { countQueries } from '../src/data/query-count';
import { ACCOUNTS, type Agent, csrfOf, formBody, freshApp, postForm, signIn, type TestApp, textOf } from './helpers';

const SYSTEM = { id: null, name: 'test' } as const;
const AT = new Date('2026-03-01T10:00:00Z');

const idOf = (row: unknown) => Number(typeof row === 'object' && row !== null ? (row as { id: number }).id : row);

/** The demo's instances: the Villeurbanne one (a commune's) and one managed by the Métropole alone, with their services. */
async function demoInstances(db: Knex) {
  const villeurbanne = await db('instances').join('communes', 'communes.id', 'instances.commune_id').where('communes.name', 'Villeurbanne').select('instances.*').first();
  const intranet = await db('instances').join('services', 'services.id', 'instances.service_id').where('services.name', 'Intranet').whereNull('instances.commune_id')
    .select('instances.*').first();
  return { villeurbanne: { id: Number(villeurbanne.id), serviceId: Number(villeurbanne.service_id) }, intranet: { id: Number(intranet.id), serviceId: Number(intranet.service_id) } };
}

async function newHomologation(db: Knex, title: string, instanceIds: number[]): Promise<number> {
  const r = await createHomologation(db, { title, organisation: 'Métropole de test', description: '', instanceIds }, SYSTEM, AT);
  if (!r.ok) throw new Error('création refusée');
  return r.id;
}

async function addFiche(db: Knex, planId: number, f: { number: number; title: string; targetDate: string; status?: string; conditionOf?: number; instanceIds?: number[] }): Promise<number> {
  const [row] = await db('fiches').insert({
    plan_id: planId, number: f.number, title: f.title, target_date: f.targetDate, status: f.status ?? 'non_demarre', scope_all: !f.instanceIds,
    condition_of: f.conditionOf ?? null, version: 1, created_at: AT.toISOString(), updated_at: AT.toISOString(),
  }).returning('id');
  const id = idOf(row);
  if (f.instanceIds) await db('fiche_instances').insert(f.instanceIds.map((instanceId) => ({ fiche_id: id, instance_id: instanceId })));
  return id;
}

async function addDecision(db: Knex, planId: number, decidedOn: string, endsOn: string, outcome = 'homologuee'): Promise<number> {
  const [row] = await db('signatures').insert({
    plan_id: planId, signed: outcome !== 'refusee', authority: 'La présidente', decided_on: decidedOn, duration_months: 36, conditions: outcome === 'sous_conditions' ? 'Chiffrer les sauvegardes.' : '',
    outcome, ends_on: endsOn, created_at: AT.toISOString(),
  }).returning('id');
  return idOf(row);
}

async function addMeeting(db: Knex, planId: number, startsAt: string, title: string): Promise<number> {
  const [row] = await db('meetings').insert({
    plan_id: planId, title, kind: 'suivi', starts_at: startsAt, ends_at: startsAt.slice(0, 11) + '23:00', created_at: AT.toISOString(), updated_at: AT.toISOString(),
  }).returning('id');
  return idOf(row);
}

/** The rows of the first table of a page, as text, keyed by their first cell. */
function tableRows(html: string): string[] {
  const table = html.slice(html.indexOf('<tbody>'), html.indexOf('</tbody>'));
  return table.split('<tr>').slice(1).map(textOf).map((s) => s.trim());
}

describe('the home page: the organisation’s homologations', () => {
  let t: TestApp;
  let ids: { rh: number; expired: number; soon: number; condition: number };
  let inst: Awaited<ReturnType<typeof demoInstances>>;

  before(async () => {
    t = await freshApp();
    inst = await demoInstances(t.db);
    // a new HR portal on the Intranet only, in progress: a late fiche, a late condition of an earlier decision refused, a meeting to come
    const rh = await newHomologation(t.db, 'Portail RH', [inst.intranet.id]);
    await addFiche(t.db, rh, { number: 1, title: 'Sauvegardes', targetDate: '2026-02-01' });
    await addFiche(t.db, rh, { number: 2, title: 'Journalisation', targetDate: '2026-12-01', status: 'en_cours' });
    await addMeeting(t.db, rh, '2026-04-02T14:00', 'Comité RH');
    await addMeeting(t.db, rh, '2026-03-20T10:00', 'Point RH');
    // a Villeurbanne service whose decision ended on 1 March
    const expired = await newHomologation(t.db, 'Zénith billetterie', [inst.villeurbanne.id]);
    await addDecision(t.db, expired, '2023-03-01', '2026-03-01');
    // a decision "sous conditions" ending in 74 days, with a late condition
    const soon = await newHomologation(t.db, 'Archives numériques', [inst.intranet.id]);
    const decision = await addDecision(t.db, soon, '2023-05-29', '2026-05-29', 'sous_conditions');
    const condition = await addFiche(t.db, soon, { number: 1, title: 'Chiffrer les sauvegardes', targetDate: '2026-03-01', conditionOf: decision });
    ids = { rh, expired, soon, condition };
  });
  after(() => t.close());

  it('lists every homologation with its state, validity, next meeting and late fiches', async () => {
    const agent = await signIn(t.app, ACCOUNTS.viewer);
    const html = (await agent.get('/homologations').expect(200)).text;
    const rows = tableRows(html);
    const total = Number((await t.db('plans').whereNull('archived_at').count({ n: '*' }).first())!.n);
    expect(rows).to.have.length(total);
    const row = (title: string) => rows.find((r) => r.startsWith(title))!;
    expect(row('Portail RH')).to.contain('Intranet').and.contain("Plan d'action en cours").and.contain('Pas encore de décision')
      .and.contain('20/03/2026').and.match(/ 1$/);
    expect(row('Zénith billetterie')).to.contain('Expirée').and.contain("jusqu'au 01/03/2026").and.contain('expirée depuis 15 jours');
    expect(row('Archives numériques')).to.contain('Expire bientôt').and.contain('Homologuée sous conditions le 29/05/2023')
      .and.contain('expire dans 74 jours').and.contain('dont 1 condition en retard');
    // the readiness index of the HR portal: 0 steps, 1 fiche of 2 on time, no strong effect, none done: (0.25 × 0.5 + 0.2) × 5
    expect(row('Portail RH')).to.contain('1,6 / 5');
    // the next meeting links to it, within its homologation
    expect(html).to.match(new RegExp(`href="/homologations/${ids.rh}/seances/\\d+">20/03/2026`));
  });

  it('puts those needing attention first: expired and expiring by end date, then the others by name', async () => {
    const agent = await signIn(t.app, ACCOUNTS.admin);
    const html = (await agent.get('/homologations').expect(200)).text;
    const rows = tableRows(html);
    const titles = [...html.matchAll(/<th scope="row"><a href="\/homologations\/\d+">([^<]*)<\/a>/g)].map((m) => m[1]!.replace(/&#39;/g, "'"));
    expect(titles).to.have.length(rows.length);
    const urgent = rows.map((r) => /Expirée|Expire bientôt/.test(r));
    const firstCalm = urgent.indexOf(false);
    expect(urgent.slice(firstCalm).every((u) => !u), 'the urgent ones come first').to.equal(true);
    const ends = rows.filter((_, i) => urgent[i]).map((r) => /jusqu'au (\d\d)\/(\d\d)\/(\d{4})/.exec(r)!).map((m) => `${m[3]}-${m[2]}-${m[1]}`);
    expect(ends).to.deep.equal([...ends].sort());
    expect(titles.indexOf('Zénith billetterie')).to.be.lessThan(titles.indexOf('Archives numériques'));
    const calm = titles.slice(firstCalm);
    expect(calm).to.include('Portail RH');
    expect(calm).to.deep.equal([...calm].sort((x, y) => x.localeCompare(y, 'fr', { sensitivity: 'base' })));
  });

  it('filters by state and by service; an unknown value is a 400 in French', async () => {
    const agent = await signIn(t.app, ACCOUNTS.viewer);
    const expired = tableRows((await agent.get('/homologations?etat=expiree').expect(200)).text);
    expect(expired.some((r) => r.startsWith('Zénith billetterie'))).to.equal(true);
    expect(expired.every((r) => r.includes('Expirée'))).to.equal(true);
    const intranet = tableRows((await agent.get(`/homologations?service=${inst.intranet.serviceId}`).expect(200)).text);
    expect(intranet.some((r) => r.startsWith('Portail RH'))).to.equal(true);
    expect(intranet.some((r) => r.startsWith('Archives numériques'))).to.equal(true);
    expect(intranet.some((r) => r.startsWith('Zénith billetterie'))).to.equal(false);
    const badState = await agent.get('/homologations?etat=perimee');
    expect(badState.status).to.equal(400);
    expect(textOf(badState.text)).to.contain("l'état « perimee » n'existe pas");
    const badService = await agent.get('/homologations?service=999999');
    expect(badService.status).to.equal(400);
    expect(textOf(badService.text)).to.contain('le service « 999999 »');
  });

  it('shows a commune agent only the homologations touching its instances, and refuses the others (403)', async () => {
    const agent = await signIn(t.app, ACCOUNTS.commune);
    const rows = tableRows((await agent.get('/homologations').expect(200)).text);
    expect(rows.some((r) => r.startsWith('Zénith billetterie'))).to.equal(true);
    expect(rows.some((r) => r.startsWith('Portail RH'))).to.equal(false);
    expect(rows.some((r) => r.startsWith('Archives numériques'))).to.equal(false);
    expect((await agent.get(`/homologations/${ids.rh}`)).status).to.equal(403);
    expect((await agent.get(`/homologations/${ids.expired}`)).status).to.equal(200);
    const overview = textOf((await agent.get('/tableau-de-bord').expect(200)).text);
    expect(overview).to.contain('Zénith billetterie').and.not.contain('Portail RH').and.not.contain('Archives numériques');
  });

  it('runs as many SQL statements for many homologations as for a few', async () => {
    const agent = await signIn(t.app, ACCOUNTS.admin);
    const count = async (url: string) => {
      const counter = countQueries(t.db);
      try {
        expect((await agent.get(url)).status, url).to.equal(200);
        return counter.count();
      } finally {
        counter.stop();
      }
    };
    const before = { home: await count('/homologations'), overview: await count('/tableau-de-bord') };
    for (let i = 0; i < 15; i++) {
      const id = await newHomologation(t.db, `Système ${i}`, [inst.intranet.id, inst.villeurbanne.id]);
      await addFiche(t.db, id, { number: 1, title: 'Fiche', targetDate: '2026-01-01' });
      await addDecision(t.db, id, '2024-01-01', '2026-06-01');
      await addMeeting(t.db, id, '2026-05-01T10:00', 'Comité');
    }
    expect(await count('/homologations')).to.be.at.most(before.home);
    expect(await count('/tableau-de-bord')).to.be.at.most(before.overview);
  });
});

describe('the organisation dashboard', () => {
  let t: TestApp;

  before(async () => { t = await freshApp(); });
  after(() => t.close());

  /** The number shown for each state in the "par état" table. */
  const stateCounts = (html: string) => {
    const section = html.slice(html.indexOf('id="etats-titre"'), html.indexOf('id="bientot-titre"'));
    const counts: Record<string, number> = {};
    for (const r of tableRows(section)) {
      const m = /^(.*?) (\d+)/.exec(r);
      if (m) counts[m[1]!] = Number(m[2]);
    }
    return counts;
  };

  it('counts the homologations per state, lists those ending within six months, draws their end dates, and each one’s readiness and late fiches', async () => {
    const agent = await signIn(t.app, ACCOUNTS.viewer);
    const before = stateCounts((await agent.get('/tableau-de-bord').expect(200)).text);
    const inst = await demoInstances(t.db);
    const soon = await newHomologation(t.db, 'Billetterie en ligne', [inst.intranet.id]);
    await addDecision(t.db, soon, '2023-08-01', '2026-08-01');
    await addFiche(t.db, soon, { number: 1, title: 'Mettre à jour', targetDate: '2026-02-01' });
    await addFiche(t.db, soon, { number: 2, title: 'Documenter', targetDate: '2026-01-15' });
    const later = await newHomologation(t.db, 'Portail des aides', [inst.intranet.id]);
    await addDecision(t.db, later, '2025-01-10', '2027-12-31');
    const gone = await newHomologation(t.db, 'Ancien guichet', [inst.intranet.id]);
    await addDecision(t.db, gone, '2022-01-01', '2025-01-01');

    const html = (await agent.get('/tableau-de-bord').expect(200)).text;
    const after = stateCounts(html);
    const delta = (label: string) => (after[label] ?? 0) - (before[label] ?? 0);
    expect(delta('Expire bientôt'), 'expire bientôt').to.equal(1);
    expect(delta('En vigueur'), 'en vigueur').to.equal(1);
    expect(delta('Expirée'), 'expirée').to.equal(1);
    expect(delta('En préparation')).to.equal(0);

    const text = textOf(html);
    const soonList = text.slice(text.indexOf('Expirent dans les 6 prochains mois'), text.indexOf('Fins de validité des décisions'));
    expect(soonList).to.contain("Billetterie en ligne : valable jusqu'au 01/08/2026, expire dans 138 jours");
    expect(soonList).not.to.contain('Portail des aides').and.not.contain('Ancien guichet');
    // the timeline: one mark per end date, and the same dates as a table
    expect(html).to.match(/<circle[^>]*fill="#b34000"><title>Billetterie en ligne : fin le 01\/08\/2026/);
    expect(html).to.match(/<circle[^>]*fill="#18753c"><title>Portail des aides : fin le 31\/12\/2027/);
    expect(html).to.match(/<circle[^>]*fill="#ce0500"><title>Ancien guichet : fin le 01\/01\/2025/);
    expect(text).to.contain("Ancien guichet 01/01/2022 01/01/2025 — expirée depuis 439 jours Expirée");
    // readiness and late fiches of each
    const readinessTable = html.slice(html.indexOf('id="preparation-titre"'));
    const row = tableRows(readinessTable).find((r) => r.startsWith('Billetterie en ligne'))!;
    // no steps, no fiche on time, no strong effect, none done: 0.2 × 5 = 1
    expect(row).to.match(/Billetterie en ligne Expire bientôt 1,0 \/ 5 2 2 0 —/);
  });
});

describe('creating a homologation', () => {
  let t: TestApp;
  let inst: Awaited<ReturnType<typeof demoInstances>>;
  before(async () => {
    t = await freshApp();
    inst = await demoInstances(t.db);
  });
  after(() => t.close());

  it('is for administrators only (403), writing nothing', async () => {
    const plans = Number((await t.db('plans').count({ n: '*' }).first())!.n);
    for (const email of [ACCOUNTS.editor, ACCOUNTS.viewer, ACCOUNTS.commune, ACCOUNTS.communeAdmin]) {
      const agent = await signIn(t.app, email);
      expect((await agent.get('/homologations/nouvelle')).status, email).to.equal(403);
      const token = csrfOf((await agent.get('/homologations').expect(200)).text);
      const res = await agent.post('/homologations/nouvelle').type('form').send(formBody({ _csrf: token, title: 'Intrusion', organisation: 'X', instanceIds: [inst.intranet.id] }));
      expect(res.status, email).to.equal(403);
      expect(textOf((await agent.get('/homologations')).text)).not.to.contain('Nouvelle homologation');
    }
    expect(Number((await t.db('plans').count({ n: '*' }).first())!.n)).to.equal(plans);
  });

  it('offers the organisation’s name (its identity’s, else the latest homologation’s) and the catalogue’s instances grouped by service', async () => {
    await t.db('plans').insert({ title: 'La plus récente', organisation: 'Métropole du Nord', reminder: '', is_demo: false, created_at: AT.toISOString() });
    const agent = await signIn(t.app, ACCOUNTS.admin);
    expect((await agent.get('/homologations/nouvelle').expect(200)).text).to.contain('id="organisation" name="organisation" value="Métropole (démonstration)"');
    await t.db('organisation_identity').where({ id: 1 }).update({ name: '' });
    const html = (await agent.get('/homologations/nouvelle').expect(200)).text;
    expect(html).to.contain('id="organisation" name="organisation" value="Métropole du Nord"');
    expect(html).to.match(new RegExp(`id="inst-${inst.villeurbanne.id}" name="instanceIds" value="${inst.villeurbanne.id}"`));
    expect(html).to.match(new RegExp(`id="service-${inst.intranet.serviceId}" name="serviceIds"`));
    expect(textOf(html)).to.contain('Tout le service Intranet');
  });

  it('refuses an empty name with the error next to the field, keeping what was typed and ticked', async () => {
    const agent = await signIn(t.app, ACCOUNTS.admin);
    const plans = Number((await t.db('plans').count({ n: '*' }).first())!.n);
    const res = await postForm(agent, '/homologations/nouvelle', '/homologations/nouvelle', {
      title: '  ', organisation: 'Gardée', description: 'Le portail des agents', instanceIds: [inst.villeurbanne.id],
    });
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('<p id="title-error" class="fr-error-text">Saisissez le nom de l&#39;homologation.</p>');
    expect(res.text).to.contain('aria-describedby="title-error"');
    expect(res.text).to.contain('value="Gardée"').and.contain('Le portail des agents');
    expect(res.text).to.match(new RegExp(`id="inst-${inst.villeurbanne.id}" name="instanceIds" value="${inst.villeurbanne.id}" checked`));
    const tooLong = await postForm(agent, '/homologations/nouvelle', '/homologations/nouvelle', { title: 'x'.repeat(201), organisation: 'Gardée' });
    expect(tooLong.status).to.equal(422);
    expect(textOf(tooLong.text)).to.contain('200 caractères au maximum.');
    const unknown = await postForm(agent, '/homologations/nouvelle', '/homologations/nouvelle', { title: 'Fantôme', organisation: 'Gardée', instanceIds: ['999999'] });
    expect(unknown.status).to.equal(422);
    expect(unknown.text).to.contain('id="instanceIds-error"');
    expect(Number((await t.db('plans').count({ n: '*' }).first())!.n)).to.equal(plans);
  });

  it('creates it with its perimeter (ticked instances and whole services), audited, and opens it', async () => {
    const agent = await signIn(t.app, ACCOUNTS.admin);
    const res = await postForm(agent, '/homologations/nouvelle', '/homologations/nouvelle', {
      title: 'Portail RH', organisation: 'Métropole de test', description: 'Le portail des agents', instanceIds: [inst.villeurbanne.id], serviceIds: [inst.intranet.serviceId],
    });
    expect(res.status).to.equal(303);
    const id = Number(/^\/homologations\/(\d+)$/.exec(res.headers.location!)![1]);
    const row = await t.db('plans').where({ id }).first();
    expect(row).to.include({ title: 'Portail RH', organisation: 'Métropole de test', description: 'Le portail des agents' });
    expect(row.created_at).to.equal('2026-03-16T09:00:00.000Z');
    const intranet = (await t.db('instances').where('service_id', inst.intranet.serviceId).select('id')).map((r) => Number(r.id));
    const perimeter = (await t.db('plan_instances').where('plan_id', id).select('instance_id')).map((r) => Number(r.instance_id)).sort((a, b) => a - b);
    expect(perimeter).to.deep.equal([...new Set([inst.villeurbanne.id, ...intranet])].sort((a, b) => a - b));
    const audit = await t.db('audit_log').where({ entity_type: 'plan', entity_id: id, action: 'create' }).first();
    expect(audit.summary).to.equal('Portail RH');
    expect(JSON.parse(audit.after).instanceIds).to.deep.equal(perimeter);
    expect(textOf((await agent.get(res.headers.location!).expect(200)).text)).to.contain('Portail RH');
    const home = tableRows((await agent.get('/homologations').expect(200)).text);
    expect(home.find((r) => r.startsWith('Portail RH'))).to.contain('En préparation');
  });
});

describe('a homologation’s settings', () => {
  let t: TestApp;
  let inst: Awaited<ReturnType<typeof demoInstances>>;
  let hom: number;
  let fiche: number;
  before(async () => {
    t = await freshApp();
    inst = await demoInstances(t.db);
    hom = await newHomologation(t.db, 'Portail RH', [inst.intranet.id, inst.villeurbanne.id]);
    fiche = await addFiche(t.db, hom, { number: 3, title: 'Durcir Villeurbanne', targetDate: '2026-06-01', instanceIds: [inst.villeurbanne.id] });
  });
  after(() => t.close());

  const perimeterOf = async () => (await t.db('plan_instances').where('plan_id', hom).select('instance_id')).map((r) => Number(r.instance_id)).sort((a, b) => a - b);

  it('shows the current name, organisation and perimeter, marking the instances fiches use', async () => {
    const agent = await signIn(t.app, ACCOUNTS.admin);
    const html = (await agent.get(`/homologations/${hom}/parametres`).expect(200)).text;
    expect(html).to.contain('value="Portail RH"').and.contain('value="Métropole de test"');
    expect(html).to.match(new RegExp(`id="inst-${inst.villeurbanne.id}" name="instanceIds" value="${inst.villeurbanne.id}" checked`));
    expect(textOf(html)).to.contain('Dans le périmètre de la fiche n°3');
  });

  it('saves the fields and the perimeter, with an audit entry holding before and after', async () => {
    const agent = await signIn(t.app, ACCOUNTS.admin);
    const extra = Number((await t.db('instances').where('service_id', inst.intranet.serviceId).whereNot('id', inst.intranet.id).first())?.id ?? inst.intranet.id);
    const res = await postForm(agent, `/homologations/${hom}/parametres`, `/homologations/${hom}/parametres`, {
      title: 'Portail RH 2027', organisation: 'Métropole du Rhône', description: 'Les agents', reminder: 'Informer les communes.', instanceIds: [inst.villeurbanne.id, extra],
    });
    expect(res.status).to.equal(303);
    expect(res.headers.location).to.equal(`/homologations/${hom}`);
    const row = await t.db('plans').where({ id: hom }).first();
    expect(row).to.include({ title: 'Portail RH 2027', organisation: 'Métropole du Rhône', description: 'Les agents', reminder: 'Informer les communes.' });
    expect(await perimeterOf()).to.deep.equal([inst.villeurbanne.id, extra].sort((a, b) => a - b));
    const audit = await t.db('audit_log').where({ entity_type: 'plan', entity_id: hom, action: 'update' }).orderBy('id', 'desc').first();
    expect(JSON.parse(audit.before)).to.include({ title: 'Portail RH', organisation: 'Métropole de test' });
    expect(JSON.parse(audit.before).instanceIds).to.deep.equal([inst.intranet.id, inst.villeurbanne.id].sort((a, b) => a - b));
    expect(JSON.parse(audit.after)).to.include({ title: 'Portail RH 2027', reminder: 'Informer les communes.' });
    const page = textOf((await agent.get(`/homologations/${hom}`).expect(200)).text);
    expect(page).to.contain('Portail RH 2027').and.contain('Métropole du Rhône').and.contain('Informer les communes.');
  });

  it('refuses to take out of the perimeter an instance a fiche names, listing the fiche, changing nothing', async () => {
    const agent = await signIn(t.app, ACCOUNTS.admin);
    const before = { row: await t.db('plans').where({ id: hom }).first(), perimeter: await perimeterOf(), audits: (await t.db('audit_log').where({ entity_type: 'plan', entity_id: hom })).length };
    const res = await postForm(agent, `/homologations/${hom}/parametres`, `/homologations/${hom}/parametres`, {
      title: 'Renommé', organisation: 'Métropole', description: '', reminder: '', instanceIds: [inst.intranet.id],
    });
    expect(res.status).to.equal(422);
    const text = textOf(res.text);
    expect(text).to.contain('Des instances retirées du périmètre sont dans celui de fiches actions (n°3)');
    expect(text).to.contain('Fiche n°3 : Durcir Villeurbanne');
    expect(res.text).to.contain(`href="/homologations/${hom}/fiches/${fiche}"`);
    // the input is kept
    expect(res.text).to.contain('value="Renommé"');
    expect(await t.db('plans').where({ id: hom }).first()).to.deep.equal(before.row);
    expect(await perimeterOf()).to.deep.equal(before.perimeter);
    expect((await t.db('audit_log').where({ entity_type: 'plan', entity_id: hom })).length).to.equal(before.audits);
  });

  it('refuses an empty name with the message next to the field, keeping the rest', async () => {
    const agent = await signIn(t.app, ACCOUNTS.admin);
    const res = await postForm(agent, `/homologations/${hom}/parametres`, `/homologations/${hom}/parametres`, { title: ' ', organisation: 'Gardée', reminder: 'Rappel gardé', instanceIds: [inst.villeurbanne.id] });
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('id="title-error"').and.contain('value="Gardée"').and.contain('Rappel gardé');
  });

  it('is for administrators only (403), settings and members alike', async () => {
    for (const email of [ACCOUNTS.editor, ACCOUNTS.viewer, ACCOUNTS.commune]) {
      const agent = await signIn(t.app, email);
      for (const url of [`/homologations/${hom}/parametres`, `/homologations/${hom}/membres`]) expect((await agent.get(url)).status, `${email} ${url}`).to.equal(403);
      const token = csrfOf((await agent.get('/homologations').expect(200)).text);
      const posts: [string, Record<string, unknown>][] = [
        [`/homologations/${hom}/parametres`, { title: 'Intrusion', organisation: 'X', instanceIds: [inst.villeurbanne.id] }],
        [`/homologations/${hom}/membres`, { userId: '1', role: 'editor' }],
      ];
      for (const [url, fields] of posts) expect((await agent.post(url).type('form').send(formBody({ _csrf: token, ...fields }))).status, `${email} POST ${url}`).to.equal(403);
    }
    expect((await t.db('plans').where({ title: 'Intrusion' })).length).to.equal(0);
    expect((await t.db('plan_members').where({ plan_id: hom })).length).to.equal(0);
  });

  it('leads the old one-plan settings page to the homologations', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const res = await admin.get('/admin/plan');
    expect(res.status).to.equal(301);
    expect(res.headers.location).to.equal('/homologations');
    expect((await (await signIn(t.app, ACCOUNTS.editor)).get('/admin/plan')).status).to.equal(403);
  });
});

describe('a homologation’s members', () => {
  let t: TestApp;
  let a: { hom: number; fiche: number };
  let b: { hom: number; fiche: number };
  let users: { editor: number; viewer: number; admin: number; commune: number };

  before(async () => {
    t = await freshApp();
    const inst = await demoInstances(t.db);
    const homA = await newHomologation(t.db, 'Homologation A', [inst.intranet.id]);
    const homB = await newHomologation(t.db, 'Homologation B', [inst.intranet.id]);
    a = { hom: homA, fiche: await addFiche(t.db, homA, { number: 1, title: 'Fiche de A', targetDate: '2026-06-01' }) };
    b = { hom: homB, fiche: await addFiche(t.db, homB, { number: 1, title: 'Fiche de B', targetDate: '2026-06-01' }) };
    const id = async (email: string) => Number((await t.db('users').where({ email }).first()).id);
    users = { editor: await id(ACCOUNTS.editor), viewer: await id(ACCOUNTS.viewer), admin: await id(ACCOUNTS.admin), commune: await id(ACCOUNTS.commune) };
  });
  after(() => t.close());

  const membersUrl = () => `/homologations/${b.hom}/membres`;
  const addMember = (agent: Agent, fields: Record<string, unknown>) => postForm(agent, membersUrl(), membersUrl(), fields);
  /** Posts a progress note to a fiche, as the fiche page's form does: the status the route answered. */
  const note = async (agent: Agent, where: { hom: number; fiche: number }) => {
    const page = await agent.get(`/homologations/${where.hom}/fiches/${where.fiche}`).expect(200);
    const res = await agent.post(`/homologations/${where.hom}/fiches/${where.fiche}/notes`).type('form')
      .send(formBody({ _csrf: csrfOf(page.text), body: 'Point de suivi', notedOn: '2026-03-16', status: '' }));
    return res.status;
  };

  it('offers the active staff who are neither administrators nor commune agents', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const html = (await admin.get(membersUrl()).expect(200)).text;
    const select = html.slice(html.indexOf('id="userId"'), html.indexOf('</select>', html.indexOf('id="userId"')));
    expect(select).to.contain(`value="${users.editor}"`).and.contain(`value="${users.viewer}"`);
    expect(select).not.to.contain(`value="${users.admin}"`).and.not.to.contain(`value="${users.commune}"`);
    expect(textOf(html)).to.contain("Aucun membre n'est encore désigné");
  });

  it('a global editor listed as committee in B cannot edit B (403) but still edits A; a global viewer listed as project team in B edits B only', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    expect((await addMember(admin, { userId: String(users.editor), role: 'viewer' })).status).to.equal(303);
    expect((await addMember(admin, { userId: String(users.viewer), role: 'editor' })).status).to.equal(303);
    const text = textOf((await admin.get(membersUrl()).expect(200)).text);
    expect(text).to.contain(`Julien Petit ${ACCOUNTS.editor} Équipe projet (édition)`);
    expect(text).to.contain(`Sophie Bernard ${ACCOUNTS.viewer} Comité de pilotage (lecture)`);

    const editor = await signIn(t.app, ACCOUNTS.editor);
    expect(await note(editor, b)).to.equal(403);
    expect(await note(editor, a)).to.equal(303);
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    expect(await note(viewer, b)).to.equal(303);
    expect(await note(viewer, a)).to.equal(403);
    const notes = async (ficheId: number) => (await t.db('progress_notes').where({ fiche_id: ficheId })).length;
    expect(await notes(a.fiche)).to.equal(1);
    expect(await notes(b.fiche)).to.equal(1);
    const audits = await t.db('audit_log').where({ entity_type: 'plan_member', entity_id: b.hom, action: 'create' });
    expect(audits.map((e) => JSON.parse(e.after))).to.deep.include.members([{ planId: b.hom, userId: users.editor, role: 'viewer' }, { planId: b.hom, userId: users.viewer, role: 'editor' }]);
  });

  it('refuses a second listing of the same person with a French message (422), and people who cannot be members', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const before = (await t.db('plan_members').where({ plan_id: b.hom })).length;
    const twice = await addMember(admin, { userId: String(users.editor), role: 'editor' });
    expect(twice.status).to.equal(422);
    expect(textOf(twice.text)).to.contain('Cette personne est déjà membre de cette homologation');
    expect(twice.text).to.contain('id="userId-error"');
    for (const userId of [users.admin, users.commune, 999999]) {
      const res = await addMember(admin, { userId: String(userId), role: 'viewer' });
      expect(res.status, String(userId)).to.equal(422);
      expect(textOf(res.text)).to.contain('Cette personne ne peut pas être ajoutée');
    }
    const badRole = await addMember(admin, { userId: String(users.editor), role: 'owner' });
    expect(badRole.status).to.equal(422);
    expect(textOf(badRole.text)).to.contain('Choisissez un rôle dans la liste');
    expect((await t.db('plan_members').where({ plan_id: b.hom })).length).to.equal(before);
    expect((await t.db('plan_members').where({ plan_id: b.hom, user_id: users.editor }).first()).role).to.equal('viewer');
  });

  it('changes a role and removes a member, audited; the rights follow', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const change = await postForm(admin, membersUrl(), `${membersUrl()}/${users.editor}`, { role: 'editor' });
    expect(change.status).to.equal(303);
    const editor = await signIn(t.app, ACCOUNTS.editor);
    expect(await note(editor, b)).to.equal(303);
    const updated = await t.db('audit_log').where({ entity_type: 'plan_member', entity_id: b.hom, action: 'update' }).first();
    expect(JSON.parse(updated.before)).to.deep.equal({ planId: b.hom, userId: users.editor, role: 'viewer' });
    expect(JSON.parse(updated.after)).to.deep.equal({ planId: b.hom, userId: users.editor, role: 'editor' });

    const remove = await postForm(admin, membersUrl(), `${membersUrl()}/${users.viewer}/retirer`, {});
    expect(remove.status).to.equal(303);
    expect(await t.db('plan_members').where({ plan_id: b.hom, user_id: users.viewer }).first()).to.equal(undefined);
    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    expect(await note(viewer, b)).to.equal(403);
    const removed = await t.db('audit_log').where({ entity_type: 'plan_member', entity_id: b.hom, action: 'delete' }).first();
    expect(JSON.parse(removed.before)).to.deep.equal({ planId: b.hom, userId: users.viewer, role: 'editor' });
    expect(removed.summary).to.contain('Sophie Bernard');
    // someone no longer listed: 404, nothing written
    expect((await postForm(admin, membersUrl(), `${membersUrl()}/${users.viewer}/retirer`, {})).status).to.equal(404);
    expect((await postForm(admin, membersUrl(), `${membersUrl()}/${users.viewer}`, { role: 'viewer' })).status).to.equal(404);
  });
});
