import { expect } from 'chai';
import { applyBulkChange } from '../src/data/bulk-changes';
import { addNote, getFiches } from '../src/data/fiches';
import { countQueries } from '../src/data/query-count';
import type { BulkChange } from '../src/domain/bulk';
import type { Actor } from '../src/domain/roles';
import { aCommune, aFiche, aHomologation, anInstance, aTeam, aUser, signedIn } from './builders';
import { ACCOUNTS, type Agent, csrfOf, ENGINE, formBody, freshApp, NOW, signIn, type TestApp, textOf } from './helpers';

describe('bulk changes ("par lot") of fiches and steps', () => {
  let t: TestApp;
  let editor: Agent;
  let editorActor: Actor;
  let hom: number;
  let other: number;
  let team: number;

  before(async () => {
    t = await freshApp();
    const user = await aUser().withRole('editor').insert(t.db);
    editorActor = user;
    editor = await signedIn(t, user);
    team = await aTeam().insert(t.db);
  });
  beforeEach(async () => {
    hom = await aHomologation().insert(t.db);
    other = await aHomologation().insert(t.db);
  });
  after(() => t.close());

  const base = () => `/homologations/${hom}`;
  const versionOf = async (ficheId: number) => Number((await t.db('fiches').where('id', ficheId).first('version')).version);
  const count = async (table: string, where: Record<string, unknown> = {}) => Number((await t.db(table).where(where).count({ n: '*' }).first())!.n);

  /** The selection page's token and the version each row carries, as the browser would send them. */
  async function selectionPage(agent: Agent, type: 'fiches' | 'actions' = 'fiches') {
    const page = await agent.get(`${base()}/lot?type=${type}`).expect(200);
    const seen: Record<string, string> = {};
    for (const m of page.text.matchAll(/name="seen-(\d+)" value="(\d+)"/g)) seen[`seen-${m[1]}`] = m[2]!;
    return { csrf: csrfOf(page.text), seen, html: page.text };
  }

  async function post(agent: Agent, path: '/lot' | '/lot/apercu', fields: Record<string, unknown>, type: 'fiches' | 'actions' = 'fiches') {
    const { csrf, seen } = await selectionPage(agent, type);
    return agent.post(`${base()}${path}`).type('form').send(formBody({ _csrf: csrf, type, ...seen, ...fields }));
  }

  it('lists the fiches with a checkbox and the version seen, and the steps grouped by fiche', async () => {
    const f1 = await aFiche().inHomologation(hom).titled('Fiche lot A').withSteps(2).insert(t.db);
    await aFiche().inHomologation(hom).titled('Fiche lot B').late().insert(t.db);
    const fiches = await selectionPage(editor);
    expect(fiches.html).to.include(`name="ids" value="${f1}"`).and.to.include(`name="seen-${f1}" value="1"`);
    expect(textOf(fiches.html)).to.include('Fiche n°1 : Fiche lot A').and.to.include('Fiche n°2 : Fiche lot B').and.to.include('En retard');
    const late = await editor.get(`${base()}/lot?type=fiches&retard=1`).expect(200);
    expect(textOf(late.text)).to.include('Fiche lot B').and.not.to.include('Fiche lot A');
    const steps = await selectionPage(editor, 'actions');
    const [s1] = (await t.db('steps').where('fiche_id', f1).orderBy('position')).map((r) => Number(r.id));
    expect(steps.html).to.include(`name="seen-${s1}" value="1"`);
    expect(textOf(steps.html)).to.include('Fiche n°1 : Fiche lot A').and.to.include('n°1 : Action 1');
  });

  it('previews each change before → after and the unchanged, then applies all in one operation: one audit entry per fiche, each version moved once', async () => {
    const a = await aFiche().inHomologation(hom).titled('Première').insert(t.db);
    const b = await aFiche().inHomologation(hom).titled('Deuxième').withStatus('en_cours').insert(t.db);
    const c = await aFiche().inHomologation(hom).titled('Troisième').withStatus('fait').insert(t.db);
    const fields = { ids: [a, b, c], change: 'status', status: 'fait' };
    const preview = await post(editor, '/lot/apercu', fields);
    expect(preview.status, textOf(preview.text).slice(0, 500)).to.equal(200);
    const text = textOf(preview.text);
    expect(text).to.include('Nouvel avancement : Fait').and.to.include('2 fiches changeront').and.to.include("1 fiche est déjà dans l'état demandé");
    expect(text).to.match(/Fiche n°1 : Première Non démarré Fait/).and.to.match(/Fiche n°2 : Deuxième En cours Fait/);
    expect(text).to.include('Confirmer : modifier 2 fiches');
    expect(await count('bulk_operations', { plan_id: hom }), 'a preview writes nothing').to.equal(0);

    const audits = await count('audit_log');
    const done = await editor.post(`${base()}/lot`).type('form').send(formBody({ _csrf: csrfOf(preview.text), type: 'fiches', ids: [a, b, c], [`seen-${a}`]: 1, [`seen-${b}`]: 1, [`seen-${c}`]: 1, change: 'status', status: 'fait' }));
    expect(done.status, textOf(done.text).slice(0, 500)).to.equal(303);
    const op = await t.db('bulk_operations').where({ plan_id: hom }).first();
    expect(done.headers.location).to.equal(`${base()}/lots/${op.id}`);
    expect(op).to.include({ kind: 'fiches', count: 2, summary: '2 fiches passées à « Fait »', user_id: editorActor.id });
    const entries = await t.db('audit_log').where({ bulk_id: op.id }).orderBy('id');
    expect(entries.map((e) => [e.entity_type, Number(e.entity_id), JSON.parse(e.before), JSON.parse(e.after)])).to.deep.equal([
      ['fiche', a, { status: 'non_demarre' }, { status: 'fait' }], ['fiche', b, { status: 'en_cours' }, { status: 'fait' }],
    ]);
    expect(await count('audit_log')).to.equal(audits + 2);
    expect((await getFiches(t.db, [a, b, c])).map((f) => [f.status, f.version])).to.deep.equal([['fait', 2], ['fait', 2], ['fait', 1]]);

    const landing = await editor.get(done.headers.location!).expect(200);
    const review = textOf(landing.text);
    expect(review).to.include(`2 fiches modifiées (opération par lot n°${op.id})`);
    expect(review).to.include('2 fiches passées à « Fait »').and.to.include(editorActor.name).and.to.include('2 éléments changés');
    expect(review).to.include('Fiche n°1 : avancement Non démarré → Fait').and.to.include('Fiche n°2 : avancement En cours → Fait');
    const list = textOf((await editor.get(`${base()}/lots`).expect(200)).text);
    expect(list).to.include(`n°${op.id}`).and.to.include('2 fiches passées à « Fait »');
  });

  it('a fiche changed since the selection was displayed: the preview lists the conflict (409, no confirmation) and the confirmation applies nothing', async () => {
    const a = await aFiche().inHomologation(hom).insert(t.db);
    const b = await aFiche().inHomologation(hom).insert(t.db);
    const { csrf, seen } = await selectionPage(editor);
    // someone else moves b's status meanwhile
    expect(await addNote(t.db, b, { body: 'Avancé ailleurs', notedOn: '2026-03-16', status: 'bloque' }, editorActor, NOW)).to.equal(true);
    const body = formBody({ _csrf: csrf, type: 'fiches', ...seen, ids: [a, b], change: 'date', targetDate: '2026-09-30' });
    const preview = await editor.post(`${base()}/lot/apercu`).type('form').send(body);
    expect(preview.status).to.equal(409);
    const text = textOf(preview.text);
    expect(text).to.include("Quelqu'un a modifié une partie de votre sélection").and.to.include('Modifiées depuis votre sélection (1)');
    expect(text).not.to.include('Confirmer');
    expect(preview.text).to.include(`name="seen-${b}" value="2"`, 'a new preview takes the current version');

    const audits = await count('audit_log');
    const refused = await editor.post(`${base()}/lot`).type('form').send(body);
    expect(refused.status).to.equal(409);
    expect(textOf(refused.text)).to.include('Modifiées depuis votre sélection');
    const [fa, fb] = await getFiches(t.db, [a, b]);
    expect([fa!.targetDate, fa!.version, fb!.targetDate, fb!.status, fb!.version]).to.deep.equal([null, 1, null, 'bloque', 2]);
    expect(await count('audit_log')).to.equal(audits);
    expect(await count('bulk_operations', { plan_id: hom })).to.equal(0);

    // previewed again with the current versions, it goes through
    const again = await editor.post(`${base()}/lot`).type('form').send(formBody({ _csrf: csrf, type: 'fiches', ids: [a, b], [`seen-${a}`]: 1, [`seen-${b}`]: 2, change: 'date', targetDate: '2026-09-30' }));
    expect(again.status).to.equal(303);
    expect((await getFiches(t.db, [a, b])).map((f) => [f.targetDate, f.version])).to.deep.equal([['2026-09-30', 2], ['2026-09-30', 3]]);
  });

  it("another homologation's fiche or step in the selection, or an unknown id: 422 next to the selection, nothing applied", async () => {
    const own = await aFiche().inHomologation(hom).insert(t.db);
    const foreign = await aFiche().inHomologation(other).titled('Fiche secrète de l’autre homologation').withSteps(1).insert(t.db);
    const foreignStep = Number((await t.db('steps').where('fiche_id', foreign).first()).id);
    const audits = await count('audit_log');
    for (const [path, type, ids] of [['/lot/apercu', 'fiches', [own, foreign]], ['/lot', 'fiches', [own, foreign]], ['/lot', 'fiches', [own, 99999999]], ['/lot', 'actions', [foreignStep]]] as const) {
      const res = await post(editor, path, { ids, [`seen-${foreign}`]: 1, [`seen-${foreignStep}`]: 1, 'seen-99999999': 1, change: 'status', status: 'fait' }, type);
      expect(res.status, `${path} ${ids.join(',')}`).to.equal(422);
      const text = textOf(res.text);
      expect(text).to.match(/ne (fait|font) pas partie de cette homologation/);
      expect(res.text).to.include('id="selection-error"');
      expect(res.text).not.to.include('Fiche secrète');
      expect(res.text, 'the change typed is kept').to.match(/id="change-status" name="change" value="status"\s+checked/);
    }
    expect((await getFiches(t.db, [own, foreign])).map((f) => [f.status, f.version])).to.deep.equal([['non_demarre', 1], ['non_demarre', 1]]);
    expect(await count('audit_log')).to.equal(audits);
  });

  it('a form without selection or change: 422 with the errors next to the fields, the note typed kept', async () => {
    await aFiche().inHomologation(hom).insert(t.db);
    const res = await post(editor, '/lot/apercu', { change: 'note', note: '' });
    expect(res.status).to.equal(422);
    const text = textOf(res.text);
    expect(text).to.include('Cochez au moins une fiche à modifier.').and.to.include("Saisissez le point d'avancement à ajouter.");
    const date = await post(editor, '/lot/apercu', { ids: [1], change: 'date', targetDate: '2026-02-31' });
    expect(date.status).to.equal(422);
    expect(textOf(date.text)).to.include("Cette date n'existe pas.");
    expect(date.text).to.include('value="2026-02-31"');
  });

  it('changes steps of two fiches: each step audited, each fiche moved by one version however many of its steps changed', async () => {
    const f1 = await aFiche().inHomologation(hom).withSteps(3).insert(t.db);
    const f2 = await aFiche().inHomologation(hom).withSteps(2).insert(t.db);
    const steps = (await t.db('steps').whereIn('fiche_id', [f1, f2]).orderBy('id')).map((r) => Number(r.id));
    const chosen = [steps[0]!, steps[1]!, steps[2]!, steps[3]!];
    const done = await post(editor, '/lot', { ids: chosen, change: 'status', status: 'en_cours' }, 'actions');
    expect(done.status, textOf(done.text).slice(0, 400)).to.equal(303);
    expect([await versionOf(f1), await versionOf(f2)]).to.deep.equal([2, 2]);
    expect((await t.db('steps').whereIn('id', steps).orderBy('id')).map((s) => s.status)).to.deep.equal(['en_cours', 'en_cours', 'en_cours', 'en_cours', 'non_demarre']);
    const op = await t.db('bulk_operations').where({ plan_id: hom }).first();
    expect(op).to.include({ kind: 'actions', count: 4 });
    const entries = await t.db('audit_log').where({ bulk_id: op.id });
    expect(entries.map((e) => e.entity_type)).to.deep.equal(['step', 'step', 'step', 'step']);
    expect(JSON.parse(entries[0].after)).to.include({ status: 'en_cours', ficheId: f1 });

    // a responsible person, then none; a step's own date cleared; a note on each step's fiche
    const person = Number((await t.db('people').first('id'))?.id ?? 0);
    const assignee = person ? `p${person}` : `u${editorActor.id}`;
    expect((await post(editor, '/lot', { ids: [steps[0], steps[4]], change: 'owner', owner: assignee }, 'actions')).status).to.equal(303);
    const given = await t.db('steps').whereIn('id', [steps[0]!, steps[4]!]);
    expect(given.map((s) => (s.assignee_person_id ? `p${s.assignee_person_id}` : `u${s.assignee_user_id}`))).to.deep.equal([assignee, assignee]);
    expect([await versionOf(f1), await versionOf(f2)]).to.deep.equal([3, 3]);
    expect((await post(editor, '/lot', { ids: [steps[0]], change: 'owner', owner: 'aucun' }, 'actions')).status).to.equal(303);
    expect((await t.db('steps').where('id', steps[0]!).first()).assignee_person_id).to.equal(null);
    const notes = await count('progress_notes', { fiche_id: f1 });
    expect((await post(editor, '/lot', { ids: [steps[1], steps[2]], change: 'note', note: 'Relancé le prestataire.' }, 'actions')).status).to.equal(303);
    const added = await t.db('progress_notes').where('fiche_id', f1).orderBy('id', 'desc').limit(2);
    expect(added.map((n) => n.body).sort()).to.deep.equal(['Action n°2 : Relancé le prestataire.', 'Action n°3 : Relancé le prestataire.']);
    expect(await count('progress_notes', { fiche_id: f1 })).to.equal(notes + 2);
    expect(await versionOf(f1), 'a note moves no version, as a single note').to.equal(4);
    const noteOp = await t.db('bulk_operations').where({ plan_id: hom }).orderBy('id', 'desc').first();
    const noteEntries = await t.db('audit_log').where({ bulk_id: noteOp.id });
    expect(noteEntries.map((e) => e.action)).to.deep.equal(['note', 'note']);
    expect(noteEntries.map((e) => JSON.parse(e.after).noteId).sort()).to.deep.equal(added.map((n) => Number(n.id)).sort());
  });

  it('gives fiches to one team (replacing their owners), sets then clears their target date, adds a note to each', async () => {
    const previous = await aTeam().insert(t.db);
    const a = await aFiche().inHomologation(hom).ownedBy(previous).ownedBy(team).insert(t.db);
    const b = await aFiche().inHomologation(hom).ownedBy(team).insert(t.db);
    const preview = await post(editor, '/lot/apercu', { ids: [a, b], change: 'owner', owner: team });
    expect(preview.status).to.equal(200);
    expect(textOf(preview.text)).to.include('1 fiche changera').and.to.include("1 fiche est déjà dans l'état demandé");
    const single = await post(editor, '/lot', { ids: [a, b], change: 'owner', owner: team });
    expect(single.status).to.equal(303);
    expect(single.headers.location, 'one fiche changed: an ordinary change, its page').to.equal(`${base()}/fiches/${a}`);
    expect(await count('bulk_operations', { plan_id: hom })).to.equal(0);
    expect((await t.db('fiche_owners').where('fiche_id', a)).map((o) => [Number(o.team_id), o.service_id])).to.deep.equal([[team, null]]);
    const audit = await t.db('audit_log').where({ entity_type: 'fiche', entity_id: a }).orderBy('id', 'desc').first();
    expect(audit.bulk_id).to.equal(null);

    expect((await post(editor, '/lot', { ids: [a, b], change: 'date', targetDate: '2026-12-31' })).status).to.equal(303);
    expect((await getFiches(t.db, [a, b])).map((f) => f.targetDate)).to.deep.equal(['2026-12-31', '2026-12-31']);
    expect((await post(editor, '/lot', { ids: [a, b], change: 'sansDate' })).status).to.equal(303);
    expect((await getFiches(t.db, [a, b])).map((f) => f.targetDate)).to.deep.equal([null, null]);
    expect((await post(editor, '/lot', { ids: [a, b], change: 'note', note: 'Point du comité.' })).status).to.equal(303);
    expect((await t.db('progress_notes').whereIn('fiche_id', [a, b]).where('body', 'Point du comité.')).length).to.equal(2);
  });

  it('refuses to mark steps done without the evidence the homologation requires (422, nothing applied)', async () => {
    const f = await aFiche().inHomologation(hom).withSteps(2).insert(t.db);
    await t.db('plans').where('id', hom).update({ evidence_required_for_done: true });
    const steps = (await t.db('steps').where('fiche_id', f).orderBy('position')).map((r) => Number(r.id));
    const res = await post(editor, '/lot', { ids: steps, change: 'status', status: 'fait' }, 'actions');
    expect(res.status).to.equal(422);
    expect(textOf(res.text)).to.include('Cette homologation demande une pièce justificative');
    expect((await t.db('steps').whereIn('id', steps)).map((s) => s.status)).to.deep.equal(['non_demarre', 'non_demarre']);
    expect(await versionOf(f)).to.equal(1);
  });

  it('writes in as many statements for 36 fiches (72 steps) as for 6 (the audit rows go 80 to an insert)', async () => {
    const measure = async (n: number, change: BulkChange) => {
      const plan = await aHomologation().insert(t.db);
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(await aFiche().inHomologation(plan).withSteps(2).insert(t.db));
      const stepIds = (await t.db('steps').whereIn('fiche_id', ids)).map((r) => Number(r.id));
      const out: number[] = [];
      for (const [target, selection] of [['fiches', ids], ['actions', stepIds]] as const) {
        const counter = countQueries(t.db);
        try {
          const r = await applyBulkChange(t.db, plan, target, selection.map((id) => ({ id, seenVersion: target === 'fiches' ? 1 : 2 })), change,
            { actor: editorActor, at: NOW, today: '2026-03-16', evidenceRequired: false });
          expect(r.ok, JSON.stringify(r).slice(0, 300)).to.equal(true);
          out.push(counter.count());
        } finally {
          counter.stop();
        }
      }
      return out;
    };
    for (const change of [{ kind: 'status', status: 'en_cours' }, { kind: 'date', targetDate: '2026-10-01' }] as BulkChange[]) {
      expect(await measure(36, change)).to.deep.equal(await measure(6, change));
    }
  });

  it('two processes confirming overlapping selections seen at the same versions: one applies, the other is refused whole', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push(await aFiche().inHomologation(hom).insert(t.db));
    const second = t.openAnother();
    const opts = { actor: editorActor, at: NOW, today: '2026-03-16', evidenceRequired: false };
    const first = () => applyBulkChange(t.db, hom, 'fiches', ids.slice(0, 3).map((id) => ({ id, seenVersion: 1 })), { kind: 'status', status: 'en_cours' }, opts);
    const other = () => applyBulkChange(second, hom, 'fiches', ids.slice(1).map((id) => ({ id, seenVersion: 1 })), { kind: 'status', status: 'bloque' }, opts);
    // SQLite's connections of one process cannot interleave (a waiting BEGIN IMMEDIATE blocks the thread): one after the other there
    const [r1, r2] = ENGINE === 'postgresql' ? await Promise.all([first(), other()]) : [await first(), await other()];
    expect([r1.ok, r2.ok].sort(), JSON.stringify([r1, r2]).slice(0, 300)).to.deep.equal([false, true]);
    const refused = r1.ok ? r2 : r1;
    expect(refused.ok === false && refused.reason).to.equal('conflict');
    const fiches = await getFiches(t.db, ids);
    const winner = r1.ok ? 'en_cours' : 'bloque';
    const touched = r1.ok ? ids.slice(0, 3) : ids.slice(1);
    for (const f of fiches) {
      expect([f.status, f.version], `fiche ${f.id}`).to.deep.equal(touched.includes(f.id) ? [winner, 2] : ['non_demarre', 1]);
    }
    expect(await count('bulk_operations', { plan_id: hom })).to.equal(1);
  });

  it('the review: a commune agent sees its own commune\'s operations only (another\'s, or the Métropole\'s, is a 404)', async () => {
    const planId = 1;
    const villeurbanne = Number((await t.db('communes').where({ name: 'Villeurbanne' }).first()).id);
    const bron = Number((await t.db('communes').where({ name: 'Bron' }).first()).id);
    const op = async (communeId: number | null, summary: string) => Number((await t.db('bulk_operations').insert({
      plan_id: planId, user_id: null, actor: 'Agent (test)', commune_id: communeId, at: NOW.toISOString(), kind: 'deploiement', summary, count: 2,
    }).returning('id'))[0].id ?? 0);
    const own = await op(villeurbanne, 'Fiche n°1 : 2 instances passées à « Fait » (Villeurbanne)');
    const bronOp = await op(bron, 'Opération de Bron');
    const metropole = await op(null, 'Opération de la Métropole');
    const agent = await signIn(t.app, ACCOUNTS.commune);
    const list = textOf((await agent.get(`/homologations/${planId}/lots`).expect(200)).text);
    expect(list).to.include('(Villeurbanne)').and.not.to.include('Opération de Bron').and.not.to.include('Opération de la Métropole');
    expect(textOf((await agent.get(`/homologations/${planId}/lots/${own}`).expect(200)).text)).to.include('Déploiement par instance');
    await agent.get(`/homologations/${planId}/lots/${bronOp}`).expect(404);
    await agent.get(`/homologations/${planId}/lots/${metropole}`).expect(404);
    const staff = await signIn(t.app, ACCOUNTS.viewer);
    const all = textOf((await staff.get(`/homologations/${planId}/lots`).expect(200)).text);
    expect(all).to.include('Opération de Bron').and.to.include('Opération de la Métropole').and.to.include('commune de Villeurbanne');
    await staff.get(`/homologations/${planId}/lots/${metropole}`).expect(200);
    // another homologation's operation under this one's address
    await staff.get(`/homologations/${hom}/lots/${metropole}`).expect(404);
  });

  it('a viewer and a commune agent may not change anything in bulk (403)', async () => {
    const fiche = await aFiche().inHomologation(hom).insert(t.db);
    const viewer = await signedIn(t, 'viewer');
    await viewer.get(`${base()}/lot`).expect(403);
    const page = await viewer.get(`${base()}/lots`).expect(200);
    expect(page.text).not.to.include('/lot"');
    const refused = await viewer.post(`${base()}/lot`).type('form').send(formBody({ _csrf: csrfOf(page.text), type: 'fiches', ids: [fiche], [`seen-${fiche}`]: 1, change: 'status', status: 'fait' }));
    expect(refused.status).to.equal(403);
    const commune = await aCommune().insert(t.db);
    const instance = await anInstance().inCommune(commune).insert(t.db);
    const shared = await aHomologation().withInstances(instance).insert(t.db);
    const agent = await signedIn(t, 'commune', { communeId: commune });
    await agent.get(`/homologations/${shared}/lot`).expect(403);
    const own = await agent.get(`/homologations/${shared}/lots`).expect(200);
    const post2 = await agent.post(`/homologations/${shared}/lot/apercu`).type('form').send(formBody({ _csrf: csrfOf(own.text), type: 'fiches' }));
    expect(post2.status).to.equal(403);
    expect((await t.db('fiches').where('id', fiche).first()).status).to.equal('non_demarre');
  });
});
