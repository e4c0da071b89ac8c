import { expect } from 'chai';
import { createFiche, getFiche } from '../src/data/fiches';
import { ACCOUNTS, csrfOf, ficheIdByNumber, formBody, freshApp, postForm, signIn, type TestApp, textOf } from './helpers';

async function ids(t: TestApp) {
  const team = async (name: string) => Number((await t.db('teams').where({ name }).first()).id);
  const service = async (name: string) => Number((await t.db('services').where({ name }).first()).id);
  const instance = async (name: string) => Number((await t.db('instances').where({ name }).first()).id);
  return {
    pwn: await team('PWN'), snu: await team('SNU 1'),
    intranet: await service('Intranet'), sau: await service('SAU'),
    intranetProd: await instance('Intranet production'), bronProd: await instance('Toodego Bron'),
  };
}

describe('fiches', () => {
  let t: TestApp;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(() => t.close());

  it('never writes into a fiche an instance outside its homologation’s perimeter, even one removed since the form was checked', async () => {
    const { pwn, intranetProd } = await ids(t);
    await t.db('plan_instances').where({ plan_id: 1, instance_id: intranetProd }).delete();
    const editor = (await t.db('users').where({ email: ACCOUNTS.editor }).first());
    const before = Number((await t.db('fiches').count({ n: '*' }).first())!.n);
    const saved = await createFiche(t.db, 1, {
      number: 99, title: 'Hors périmètre', finding: '', targetDate: '2026-06-30', status: 'non_demarre', conclusion: '', conclusionCounts: [],
      costAmount: null, costSource: '', scopeAll: false, instanceIds: [intranetProd], owners: [{ teamId: pwn, serviceId: null }],
      steps: [{ id: null, position: 1, label: 'Action', status: 'non_demarre' }], sideEffects: [],
    }, { id: Number(editor.id), name: editor.name, email: editor.email, role: 'editor', communeId: null }, new Date());
    expect(saved).to.deep.equal({ ok: false, reason: 'outside_perimeter', instanceIds: [intranetProd] });
    expect(Number((await t.db('fiches').count({ n: '*' }).first())!.n)).to.equal(before);
  });

  it("shows every field of the deck's layout on a fiche page", async () => {
    const agent = await signIn(t.app, ACCOUNTS.viewer);
    const id = await ficheIdByNumber(t.db, 1);
    const text = textOf((await agent.get(`/homologations/1/fiches/${id}`).expect(200)).text);
    for (const label of ['Constat réalisé', 'Actions', 'Date cible', 'Avancement', "Conclusion de l'étude", 'Chiffrage', 'Responsable', 'Périmètre', 'Effets de bord pressentis', "Historique de l'avancement"]) {
      expect(text, label).to.contain(label);
    }
    expect(text).to.contain('52 sur 84');
    expect(text).to.contain('1 action faite sur 3');
    expect(text).to.match(/Fort .*centre de contact/);
    expect(text).to.match(/Faible .*Parcours de connexion/);
    expect(text).to.contain('Julien Petit');
    expect(text).to.contain('Recensement lancé sur les 84 formulaires');
    // a viewer reads, and is offered no edit
    expect(text).not.to.contain('Modifier la fiche');
    expect(text).not.to.contain("Ajouter un point d'avancement");
    const f3 = textOf((await agent.get(`/homologations/1/fiches/${await ficheIdByNumber(t.db, 3)}`)).text);
    // the demo's held meeting decided about fiche 3
    expect(f3).to.match(/Décisions du comité de pilotage Comité de pilotage du \d\d\/\d\d\/\d{4} : Relancer la tierce maintenance/);
    expect(f3).to.contain('1 500 €, estimé par le prestataire de la plateforme');
    expect(f3).to.contain('Non démarré → Bloqué'.replace('Non démarré', 'En cours'));
  });

  it('creates a fiche with steps, side effects, part of the scope and owners per service', async () => {
    const r = await ids(t);
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const res = await postForm(agent, '/homologations/1/fiches/nouvelle', '/homologations/1/fiches', {
      _action: 'save', number: '6', title: 'Chiffrer les sauvegardes', finding: 'Les sauvegardes sont en clair.', targetDate: '2026-09-30', status: 'non_demarre',
      conclusion: 'Étude faite.', costAmount: '2 500 €', costSource: "l'hébergeur",
      scope: 'part', instanceIds: [String(r.intranetProd), String(r.bronProd)],
      steps: [
        { id: '', position: '2', label: 'Chiffrer', status: 'non_demarre' },
        { id: '', position: '1', label: 'Inventorier', status: 'fait' },
        { id: '', position: '3', label: '', status: 'non_demarre' },
      ],
      counts: [{ count: '3', total: '4', label: 'serveurs concernés' }],
      effects: [{ level: 'fort', description: 'Restauration plus lente' }, { level: '', description: '' }],
      owners: [{ teamId: String(r.pwn), serviceId: String(r.intranet) }, { teamId: String(r.snu), serviceId: '' }],
    });
    expect(res.status).to.equal(303);
    const id = Number(/\/fiches\/(\d+)/.exec(res.headers.location!)![1]);
    const fiche = (await getFiche(t.db, id))!;
    expect(fiche.steps.map((s) => `${s.position}:${s.label}:${s.status}`)).to.deep.equal(['1:Inventorier:fait', '2:Chiffrer:non_demarre']);
    expect(fiche.sideEffects).to.deep.equal([{ id: fiche.sideEffects[0]!.id, level: 'fort', description: 'Restauration plus lente' }]);
    expect(fiche.costAmount).to.equal(2500);
    expect(fiche.scopeAll).to.equal(false);
    expect(fiche.scope.map((s) => s.id).sort()).to.deep.equal([r.intranetProd, r.bronProd].sort());
    expect(fiche.owners.map((o) => `${o.teamName}:${o.serviceName}`)).to.deep.equal(['PWN:Intranet', 'SNU 1:null']);
    expect(fiche.conclusionCounts).to.deep.equal([{ count: 3, total: 4, label: 'serveurs concernés' }]);
    const audit = await t.db('audit_log').where({ entity_type: 'fiche', entity_id: id, action: 'create' }).first();
    expect(JSON.parse(audit.after).title).to.equal('Chiffrer les sauvegardes');
    expect(audit.actor).to.contain('Julien Petit');
    // the new fiche is in the plan list, and Bron's agent would see it while Villeurbanne's does not
    const plan = textOf((await agent.get('/homologations/1')).text);
    expect(plan).to.contain('Chiffrer les sauvegardes');
    const villeurbanne = await signIn(t.app, ACCOUNTS.commune);
    expect((await villeurbanne.get(`/homologations/1/fiches/${id}`)).status).to.equal(403);
  });

  it('re-renders an invalid fiche with an error next to each field and everything typed kept', async () => {
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const before = await t.db('fiches').count({ n: '*' }).first();
    const res = await postForm(agent, '/homologations/1/fiches/nouvelle', '/homologations/1/fiches', {
      _action: 'save', number: 'six', title: '', finding: 'Un constat <b>précieux</b>', targetDate: '2026-02-31', status: 'non_demarre',
      costAmount: '12,50', scope: 'part', steps: [{ id: '', position: '1', label: 'Première action gardée', status: 'inconnu' }],
      counts: [{ count: '9', total: '4', label: 'trop' }], effects: [{ level: '', description: 'Effet sans niveau' }], owners: [],
    });
    expect(res.status).to.equal(422);
    const html = res.text;
    const text = textOf(html);
    for (const message of [
      'Saisissez un numéro entier', "Saisissez l'intitulé de la fiche.", "Cette date n'existe pas.", 'Saisissez un montant en euros',
      'Choisissez un avancement dans la liste.', 'Le nombre ne peut pas dépasser le total.', 'Choisissez le niveau : fort ou faible.',
      'Indiquez au moins une équipe responsable.', 'Cochez au moins une instance',
    ]) expect(text, message).to.contain(message);
    // errors sit next to their fields, linked for screen readers
    expect(html).to.match(/id="title"[^>]*aria-describedby="title-error"/);
    expect(html).to.contain('id="steps-0-status-error"');
    // the input is kept, escaped
    for (const kept of ['value="six"', 'Un constat &lt;b&gt;précieux&lt;/b&gt;', 'value="Première action gardée"', 'value="2026-02-31"', 'Effet sans niveau']) {
      expect(html, kept).to.contain(kept);
    }
    const after = await t.db('fiches').count({ n: '*' }).first();
    expect(Number(after!.n)).to.equal(Number(before!.n));
  });

  it('refuses a number already taken, naming the fiche that has it', async () => {
    const r = await ids(t);
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const res = await postForm(agent, '/homologations/1/fiches/nouvelle', '/homologations/1/fiches', {
      _action: 'save', number: '3', title: 'Doublon', targetDate: '2026-09-30', status: 'non_demarre', scope: 'all', owners: [{ teamId: String(r.pwn), serviceId: '' }],
    });
    expect(res.status).to.equal(422);
    expect(textOf(res.text)).to.contain('Le numéro 3 est déjà pris par la fiche « Mettre en œuvre une double authentification');
  });

  it('edits a fiche: reorders, renumbers, removes and adds steps, keeping the ids of those kept', async () => {
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const id = await ficheIdByNumber(t.db, 1);
    const fiche = (await getFiche(t.db, id))!;
    const [s1, s2, s3] = fiche.steps;
    const form = await agent.get(`/homologations/1/fiches/${id}/modifier`).expect(200);
    const body = {
      _csrf: csrfOf(form.text), _action: 'save', version: String(fiche.version), number: '1', title: fiche.title, finding: fiche.finding,
      targetDate: fiche.targetDate, status: 'en_cours', conclusion: fiche.conclusion, costAmount: '', costSource: '', scope: 'all',
      steps: [
        { id: String(s1!.id), position: '5', label: s1!.label, status: 'fait' },
        { id: String(s2!.id), position: '1', label: s2!.label, status: 'fait' },
        { id: String(s3!.id), position: '2', label: s3!.label, status: 'non_demarre', remove: 'on' },
        { id: '', position: '3', label: 'Nouvelle action', status: 'en_cours' },
      ],
      owners: [{ teamId: String(fiche.owners[0]!.teamId), serviceId: '' }],
      effects: fiche.sideEffects.map((e) => ({ level: e.level, description: e.description })),
    };
    const res = await agent.post(`/homologations/1/fiches/${id}`).type('form').send(formBody(body));
    expect(res.status).to.equal(303);
    const saved = (await getFiche(t.db, id))!;
    expect(saved.steps.map((s) => `${s.position}:${s.label}`)).to.deep.equal([`1:${s2!.label}`, '2:Nouvelle action', `3:${s1!.label}`]);
    expect(saved.steps[0]!.id).to.equal(s2!.id);
    expect(saved.steps[2]!.id).to.equal(s1!.id);
    expect(saved.scopeAll).to.equal(true);
    expect(saved.version).to.equal(fiche.version + 1);
    const audit = await t.db('audit_log').where({ entity_type: 'fiche', entity_id: id, action: 'update' }).first();
    expect(JSON.parse(audit.before).steps).to.have.length(3);
    expect(JSON.parse(audit.after).scopeInstanceIds).to.equal('tout');
  });

  it('moves a step up and adds blank rows without saving, so the form works without JavaScript', async () => {
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const id = await ficheIdByNumber(t.db, 4);
    const fiche = (await getFiche(t.db, id))!;
    const form = await agent.get(`/homologations/1/fiches/${id}/modifier`).expect(200);
    const steps = fiche.steps.map((s) => ({ id: String(s.id), position: String(s.position), label: s.label, status: s.status }));
    const base = { _csrf: csrfOf(form.text), version: String(fiche.version), number: '4', title: 'Titre changé mais pas enregistré', targetDate: fiche.targetDate, status: fiche.status, scope: 'all', steps, owners: [{ teamId: String(fiche.owners[0]!.teamId), serviceId: '' }], extra: { steps: '1', counts: '1', effects: '1', owners: '1' } };
    const moved = await agent.post(`/homologations/1/fiches/${id}`).type('form').send(formBody({ ...base, _action: 'up:2' }));
    expect(moved.status).to.equal(200);
    const labels = [...moved.text.matchAll(/name="steps\[(\d)\]\[label\]" value="([^"]*)"/g)].map((m) => m[2]);
    expect(labels.slice(0, 3)).to.deep.equal([fiche.steps[0]!.label, fiche.steps[2]!.label, fiche.steps[1]!.label]);
    expect(moved.text).to.contain('value="Titre changé mais pas enregistré"');
    const added = await agent.post(`/homologations/1/fiches/${id}`).type('form').send(formBody({ ...base, _action: 'add_steps' }));
    expect(added.text.match(/Nouvelle action/g)).to.have.length(2);
    expect((await getFiche(t.db, id))!.title).to.equal(fiche.title);
  });

  it('marks a step as carried out by the communes, shown on the fiche', async () => {
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const id = await ficheIdByNumber(t.db, 4);
    const fiche = (await getFiche(t.db, id))!;
    const form = await agent.get(`/homologations/1/fiches/${id}/modifier`).expect(200);
    expect(form.text).to.contain('Action n°1 à mener par les communes');
    const steps = fiche.steps.map((s, i) => ({ id: String(s.id), position: String(s.position), label: s.label, status: s.status, ...(i === 1 ? { forCommunes: 'on' } : {}) }));
    const res = await agent.post(`/homologations/1/fiches/${id}`).type('form').send(formBody({
      _csrf: csrfOf(form.text), _action: 'save', version: String(fiche.version), number: '4', title: fiche.title, finding: fiche.finding, targetDate: fiche.targetDate,
      status: fiche.status, conclusion: '', costAmount: '', costSource: '', scope: 'all', steps, owners: fiche.owners.map((o) => ({ teamId: String(o.teamId), serviceId: String(o.serviceId ?? '') })),
      effects: fiche.sideEffects.map((e) => ({ level: e.level, description: e.description })),
    }));
    expect(res.status).to.equal(303);
    expect((await getFiche(t.db, id))!.steps.map((s) => s.forCommunes)).to.deep.equal([false, true, false]);
    const page = textOf((await agent.get(`/homologations/1/fiches/${id}`).expect(200)).text);
    expect(page).to.contain(`${fiche.steps[1]!.label} À mener par les communes`);
  });

  it('refuses the second of two concurrent edits instead of overwriting the first', async () => {
    const r = await ids(t);
    const first = await signIn(t.app, ACCOUNTS.editor);
    const second = await signIn(t.app, ACCOUNTS.admin);
    const id = await ficheIdByNumber(t.db, 2);
    const formA = await first.get(`/homologations/1/fiches/${id}/modifier`);
    const formB = await second.get(`/homologations/1/fiches/${id}/modifier`);
    const version = /name="version" value="(\d+)"/.exec(formA.text)![1];
    expect(/name="version" value="(\d+)"/.exec(formB.text)![1]).to.equal(version);
    const fields = (title: string) => ({
      _action: 'save', version, number: '2', title, targetDate: '2026-06-30', status: 'en_cours', scope: 'all', owners: [{ teamId: String(r.pwn), serviceId: '' }],
    });
    expect((await first.post(`/homologations/1/fiches/${id}`).type('form').send(formBody({ _csrf: csrfOf(formA.text), ...fields('Version de Julien') }))).status).to.equal(303);
    const res = await second.post(`/homologations/1/fiches/${id}`).type('form').send(formBody({ _csrf: csrfOf(formB.text), ...fields('Version de Camille') }));
    expect(res.status).to.equal(409);
    expect(res.text).to.contain('modifiée par quelqu');
    expect(res.text).to.contain('value="Version de Camille"');
    expect((await getFiche(t.db, id))!.title).to.equal('Version de Julien');
  });

  it('adds a progress note that changes the status, shown in the history with its author', async () => {
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const id = await ficheIdByNumber(t.db, 2);
    const res = await postForm(agent, `/homologations/1/fiches/${id}`, `/homologations/1/fiches/${id}/notes`, { body: 'Réunion de lancement tenue avec les administrateurs.', notedOn: '2026-03-16', status: 'en_cours' });
    expect(res.status).to.equal(303);
    const fiche = (await getFiche(t.db, id))!;
    expect(fiche.status).to.equal('en_cours');
    const text = textOf((await agent.get(`/homologations/1/fiches/${id}`)).text);
    expect(text).to.contain('16/03/2026 — Julien Petit · avancement : Non démarré → En cours');
    expect(text).to.contain('Réunion de lancement tenue');
    const plan = textOf((await agent.get('/homologations/1')).text);
    expect(plan).to.match(/2 Formaliser[^|]*En cours/);
  });

  it('refuses an empty progress note with the error next to the field, keeping the date and status chosen', async () => {
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const id = await ficheIdByNumber(t.db, 2);
    const res = await postForm(agent, `/homologations/1/fiches/${id}`, `/homologations/1/fiches/${id}/notes`, { body: '  ', notedOn: '2026-03-10', status: 'fait' });
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('id="body-error"');
    expect(res.text).to.contain("Saisissez le point d&#39;avancement.");
    expect(res.text).to.contain('value="2026-03-10"');
    expect(res.text).to.match(/<option value="fait" selected>/);
    expect((await getFiche(t.db, id))!.status).to.equal('non_demarre');
  });

  it('deletes a fiche after confirmation, with an audit entry', async () => {
    const agent = await signIn(t.app, ACCOUNTS.editor);
    const id = await ficheIdByNumber(t.db, 5);
    expect(textOf((await agent.get(`/homologations/1/fiches/${id}/supprimer`).expect(200)).text)).to.contain('Supprimer définitivement');
    const res = await postForm(agent, `/homologations/1/fiches/${id}/supprimer`, `/homologations/1/fiches/${id}/supprimer`, {});
    expect(res.status).to.equal(303);
    expect(await getFiche(t.db, id)).to.equal(undefined);
    expect((await agent.get(`/homologations/1/fiches/${id}`)).status).to.equal(404);
    const audit = await t.db('audit_log').where({ entity_type: 'fiche', entity_id: id, action: 'delete' }).first();
    expect(JSON.parse(audit.before).number).to.equal(5);
  });

  it('answers 404 pages, not stack traces, for unknown or malformed ids', async () => {
    const agent = await signIn(t.app, ACCOUNTS.admin);
    for (const url of ['/homologations/1/fiches/9999', '/homologations/1/fiches/abc', '/homologations/1/fiches/9999/modifier', '/admin/equipes/9999/modifier', '/nulle-part']) {
      const res = await agent.get(url);
      expect(res.status, url).to.equal(404);
      expect(res.text).to.contain('Page introuvable');
      expect(res.text).not.to.match(/at .*\.ts:\d+/);
    }
  });
});
