import { expect } from 'chai';
import type { Knex } from 'knex';
import { countQueries } from '../src/data/query-count';
import { createRisk, getRiskScales } from '../src/data/risks';
import type { Actor } from '../src/domain/roles';
import { aCommune, aFiche, aHomologation, anInstance, aUser, BUILDER, signedIn } from './builders';
import { type Agent, csrfOf, formBody, freshApp, NOW, type TestApp, textOf } from './helpers';

/** A valid risk form, with what the test changes. */
const riskFields = (over: Record<string, unknown> = {}) => ({
  title: 'Perte d’intégrité des sauvegardes', description: 'Des sauvegardes altérées sans que personne ne le voie.', scenario: 'Rançongiciel',
  ownerTeamId: '', ownerName: 'Responsable sécurité', likelihood: '3', severity: '3', existingMeasures: 'Sauvegarde quotidienne.',
  treatment: 'reduire', residualLikelihood: '', residualSeverity: '', ...over,
});

async function post(agent: Agent, pageUrl: string, actionUrl: string, fields: Record<string, unknown>) {
  const page = await agent.get(pageUrl);
  return agent.post(actionUrl).type('form').send(formBody({ _csrf: csrfOf(page.text), ...fields }));
}

const idFrom = (location: string) => Number(/\/risques\/(\d+)$/.exec(location)![1]);

describe('the risk register', () => {
  let t: TestApp;
  let communeId: number;
  let ownInstance: number;
  let otherInstance: number;
  let hom: number;
  let otherHom: number;
  let fiches: number[];
  let foreignFiche: number;
  let editor: Agent;

  before(async () => {
    t = await freshApp();
    communeId = await aCommune().insert(t.db);
    ownInstance = await anInstance().inCommune(communeId).insert(t.db);
    otherInstance = await anInstance().insert(t.db);
    hom = await aHomologation().withInstances(ownInstance, otherInstance).insert(t.db);
    otherHom = await aHomologation().withInstances(otherInstance).insert(t.db);
    fiches = [
      await aFiche().inHomologation(hom).titled('Tester la restauration').withSteps(2, 'fait').withSteps(2).insert(t.db),
      await aFiche().inHomologation(hom).titled('Chiffrer les sauvegardes').insert(t.db),
    ];
    foreignFiche = await aFiche().inHomologation(otherHom).titled('Fiche d’une autre homologation').insert(t.db);
    editor = await signedIn(t, 'editor');
  });
  after(() => t.close());

  const base = () => `/homologations/${hom}`;
  const create = async (over: Record<string, unknown> = {}) => {
    const res = await post(editor, `${base()}/risques/nouveau`, `${base()}/risques`, riskFields(over));
    expect(res.status, res.text.slice(0, 300)).to.equal(303);
    return idFrom(res.headers.location!);
  };

  it('creates a numbered risk with its criticality, its fiches and instances; the fiches list it back', async () => {
    const id = await create({ ficheIds: fiches, instanceIds: [ownInstance], residualLikelihood: '1', residualSeverity: '3' });
    const page = await editor.get(`${base()}/risques/${id}`).expect(200);
    const text = textOf(page.text);
    expect(text).to.contain('Risque n°1');
    // probable × majeur: critique; résiduel improbable × majeur: modérée
    expect(text).to.match(/Criticité\s+Critique\s+Modérée/);
    expect(text).to.contain('Tester la restauration');
    expect(text).to.contain('2 actions faites sur 4');
    expect(text).to.contain('Chiffrer les sauvegardes');
    for (const fiche of fiches) {
      const fichePage = textOf((await editor.get(`${base()}/fiches/${fiche}`).expect(200)).text);
      expect(fichePage).to.contain('Risques traités par cette fiche');
      expect(fichePage).to.contain('Risque n°1 : Perte d’intégrité des sauvegardes');
    }
    const audit = await t.db('audit_log').where({ entity_type: 'risk', entity_id: id }).first();
    expect(String(audit.action)).to.equal('create');
  });

  it('numbers the next risk after the highest, and shares a fiche between several risks', async () => {
    const id = await create({ title: 'Panne matérielle du serveur', likelihood: '2', severity: '3', ficheIds: [fiches[0]] });
    const row = await t.db('risks').where({ id }).first();
    expect(Number(row.number)).to.equal(2);
    const fichePage = textOf((await editor.get(`${base()}/fiches/${fiches[0]}`).expect(200)).text);
    expect(fichePage).to.contain('Risque n°1');
    expect(fichePage).to.contain('Risque n°2 : Panne matérielle du serveur');
  });

  it('refuses a fiche of another homologation (422, nothing saved, input kept)', async () => {
    const before = await t.db('risks').count({ n: '*' }).first();
    const res = await post(editor, `${base()}/risques/nouveau`, `${base()}/risques`, riskFields({ title: 'Risque refusé', ficheIds: [fiches[0], foreignFiche] }));
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('id="ficheIds-error"');
    expect(res.text).to.contain('n&#39;appartient pas à cette homologation');
    expect(res.text).to.contain('value="Risque refusé"');
    expect((await t.db('risks').count({ n: '*' }).first())!.n).to.equal(before!.n);
  });

  it('refuses levels outside the scales and a residual risk given half (422, French message by the field)', async () => {
    const res = await post(editor, `${base()}/risques/nouveau`, `${base()}/risques`, riskFields({ likelihood: '9', residualLikelihood: '2' }));
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('id="likelihood-error"');
    expect(res.text).to.contain("Choisissez un niveau de l&#39;échelle (1 à 4).");
    const half = await post(editor, `${base()}/risques/nouveau`, `${base()}/risques`, riskFields({ residualLikelihood: '2' }));
    expect(half.status).to.equal(422);
    expect(half.text).to.contain('id="residualSeverity-error"');
    const outside = await post(editor, `${base()}/risques/nouveau`, `${base()}/risques`, riskFields({ instanceIds: [await anInstance().insert(t.db)] }));
    expect(outside.status).to.equal(422);
    expect(outside.text).to.contain('id="instanceIds-error"');
  });

  it('edits the residual levels, and refuses a stale form (409) keeping what was typed', async () => {
    const id = await create({ title: 'Erreur humaine', likelihood: '2', severity: '1' });
    const edit = `${base()}/risques/${id}/modifier`;
    const ok = await post(editor, edit, `${base()}/risques/${id}`, riskFields({ title: 'Erreur humaine', likelihood: '2', severity: '1', version: '1', residualLikelihood: '1', residualSeverity: '1' }));
    expect(ok.status).to.equal(303);
    const row = await t.db('risks').where({ id }).first();
    expect([Number(row.residual_likelihood), Number(row.residual_severity), Number(row.version)]).to.deep.equal([1, 1, 2]);
    const stale = await post(editor, edit, `${base()}/risques/${id}`, riskFields({ title: 'Titre écrasé', version: '1' }));
    expect(stale.status).to.equal(409);
    expect(stale.text).to.contain('value="Titre écrasé"');
    expect((await t.db('risks').where({ id }).first()).title).to.equal('Erreur humaine');
  });

  it("tells the history of a risk's levels from the audit trail: who changed which level, and when; a title change is left out", async () => {
    const id = await create({ title: 'Panne du serveur', likelihood: '2', severity: '3' });
    const edit = `${base()}/risques/${id}/modifier`;
    const action = `${base()}/risques/${id}`;
    expect((await post(editor, edit, action, riskFields({ title: 'Panne du serveur', likelihood: '3', severity: '3', version: '1' }))).status).to.equal(303);
    expect((await post(editor, edit, action, riskFields({ title: 'Panne matérielle du serveur', likelihood: '3', severity: '3', version: '2' }))).status).to.equal(303);
    expect((await post(editor, edit, action, riskFields({ title: 'Panne matérielle du serveur', likelihood: '3', severity: '3', version: '3', residualLikelihood: '1', residualSeverity: '3', treatment: 'accepter' }))).status).to.equal(303);
    const page = await editor.get(action).expect(200);
    const history = textOf(page.text.slice(page.text.indexOf('id="historique"'), page.text.indexOf('</section>', page.text.indexOf('id="historique"'))));
    // newest first
    const residual = history.indexOf('Vraisemblance résiduelle : non évaluée → Improbable');
    const raised = history.indexOf('Vraisemblance : Peu probable → Probable');
    const created = history.indexOf('Créé : vraisemblance Peu probable, gravité Majeur');
    expect([residual, raised, created].every((i) => i >= 0), history).to.equal(true);
    expect(residual).to.be.below(raised);
    expect(raised).to.be.below(created);
    expect(history).to.contain('Traitement : Réduire → Accepter').and.contain('Criticité : Modérée → Critique');
    // the title change alone is not a level change: three entries, not four
    expect(history.match(/ — /g)?.length).to.equal(3);
  });

  it('lists the risks by criticality with both heat maps, filters a cell, and a commune agent sees only its own', async () => {
    const list = await editor.get(`${base()}/risques`).expect(200);
    expect(list.text).to.contain('id="carte-initiale"');
    expect(list.text).to.contain('id="carte-residuelle"');
    const rows = textOf(list.text.slice(list.text.indexOf('Registre des risques')));
    // n°1 (critique) before n°2 (modérée) before n°3 (faible)
    expect(rows.indexOf('Perte d’intégrité')).to.be.lessThan(rows.indexOf('Panne matérielle'));
    expect(rows.indexOf('Panne matérielle')).to.be.lessThan(rows.indexOf('Erreur humaine'));
    // each map is drawn too (server-side SVG): one square per likelihood × severity, the count written where risks are
    const svg = list.text.slice(list.text.indexOf('<svg class="app-heatmap"'), list.text.indexOf('</svg>') + 6);
    expect(svg.match(/<rect /g)?.length).to.equal(16);
    const drawn = [...svg.matchAll(/gravite=(\d)[^"]*" tabindex="-1">\s*<rect[^>]*><\/rect>\s*<circle[^>]*><\/circle>\s*<text[^>]*>(\d+)</g)].map((m) => `${m[1]}:${m[2]}`);
    expect(drawn.length, svg.slice(0, 500)).to.be.greaterThan(0);
    const counted = await t.db('risks').where({ plan_id: hom }).select('severity');
    expect(drawn.reduce((n, d) => n + Number(d.split(':')[1]), 0)).to.equal(counted.length);
    const cell = textOf((await editor.get(`${base()}/risques?vraisemblance=2&gravite=3`).expect(200)).text);
    expect(cell).to.contain('Panne matérielle');
    expect(cell.slice(cell.indexOf('Registre des risques'))).not.to.contain('Perte d’intégrité');

    const agent = await signedIn(t, 'commune', { communeId });
    const seen = textOf((await agent.get(`${base()}/risques`).expect(200)).text);
    expect(seen).to.contain('Perte d’intégrité');
    expect(seen).not.to.contain('Panne matérielle');
    const other = await t.db('risks').where({ plan_id: hom, number: 2 }).first();
    await agent.get(`${base()}/risques/${other.id}`).expect(403);
    await agent.get(`${base()}/risques/nouveau`).expect(403);
  });

  it('lets only editors write: a viewer reads but gets 403 on the form and the post', async () => {
    const viewer = await signedIn(t, await aUser().withRole('viewer').insert(t.db));
    await viewer.get(`${base()}/risques`).expect(200);
    await viewer.get(`${base()}/risques/nouveau`).expect(403);
    const page = await viewer.get(`${base()}/risques`);
    await viewer.post(`${base()}/risques`).type('form').send(formBody({ _csrf: csrfOf(page.text), ...riskFields() })).expect(403);
  });

  it('reads the register, a risk and a fiche in as many statements with 3 risks as with 30', async () => {
    const statements = async (url: string) => {
      const counter = countQueries(t.db);
      try {
        expect((await editor.get(url)).status, url).to.equal(200);
        return counter.count();
      } finally {
        counter.stop();
      }
    };
    const pages = () => [`${base()}/risques`, `${base()}/risques?niveau=residuel&vraisemblance=1&gravite=1`, `${base()}/fiches/${fiches[0]}`];
    const measure = async () => {
      // the organisation's identity and the session's owner are read once per revision of the data (then reused):
      // read here, so that each page counts its own statements only
      await editor.get('/compte').expect(200);
      const out: number[] = [];
      for (const url of pages()) out.push(await statements(url));
      return out;
    };
    const before = await measure();
    const more = await aFiche().inHomologation(hom).withSteps(3).insert(t.db);
    for (let i = 0; i < 27; i++) {
      const r = await createRisk(t.db, hom, {
        title: `Risque ajouté ${i}`, description: '', scenario: '', ownerTeamId: null, ownerName: '', likelihood: 1 + (i % 4), severity: 1 + ((i >> 2) % 4),
        existingMeasures: '', treatment: 'reduire', residualLikelihood: 1, residualSeverity: 1, ficheIds: [fiches[0]!, more], instanceIds: [ownInstance, otherInstance],
      }, BUILDER as unknown as Actor, NOW);
      expect(r.ok).to.equal(true);
    }
    const after = await measure();
    pages().forEach((url, i) => expect(after[i], `${url}: ${before[i]} statements, then ${after[i]}`).to.be.at.most(before[i]!));
  });

  it('deletes a risk after confirmation; the fiche stays', async () => {
    const id = await create({ title: 'À supprimer', ficheIds: [fiches[1]] });
    await editor.get(`${base()}/risques/${id}/supprimer`).expect(200);
    const res = await post(editor, `${base()}/risques/${id}/supprimer`, `${base()}/risques/${id}/supprimer`, {});
    expect(res.status).to.equal(303);
    expect(await t.db('risks').where({ id }).first()).to.equal(undefined);
    expect(await t.db('fiches').where({ id: fiches[1] }).first()).to.not.equal(undefined);
  });
});

describe('the risk scales and matrix (administration)', () => {
  let t: TestApp;
  let admin: Agent;
  let riskId: number;

  /** The current scales as the form sends them, with changes. */
  async function scalesBody(db: Knex, over: Record<string, string> = {}): Promise<Record<string, string>> {
    const s = await getRiskScales(db);
    const body: Record<string, string> = {
      version: String(s.version), likelihoodCount: String(s.likelihood.length), severityCount: String(s.severity.length), classesCount: String(s.classes.length),
    };
    s.likelihood.forEach((v, i) => (body[`likelihood_${i + 1}`] = v));
    s.severity.forEach((v, i) => (body[`severity_${i + 1}`] = v));
    s.classes.forEach((v, i) => (body[`classes_${i + 1}`] = v));
    s.matrix.forEach((row, l) => row.forEach((c, g) => (body[`cell_${l + 1}_${g + 1}`] = String(c))));
    return { ...body, ...over };
  }

  before(async () => {
    t = await freshApp();
    admin = await signedIn(t, 'admin');
    const hom = await aHomologation().insert(t.db);
    const editor = await signedIn(t, 'editor');
    const res = await post(editor, `/homologations/${hom}/risques/nouveau`, `/homologations/${hom}/risques`, riskFields({ likelihood: '2', severity: '3' }));
    riskId = idFrom(res.headers.location!);
  });
  after(() => t.close());

  it('refuses a matrix with a hole (422, message by the cell, nothing saved)', async () => {
    const res = await post(admin, '/admin/risques', '/admin/risques', await scalesBody(t.db, { cell_2_3: '' }));
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('id="cell_2_3-error"');
    expect(res.text).to.contain('La matrice a un trou');
    expect((await getRiskScales(t.db)).version).to.equal(1);
  });

  it('renames a level without asking (no criticality changes)', async () => {
    const res = await post(admin, '/admin/risques', '/admin/risques', await scalesBody(t.db, { likelihood_2: 'Plutôt rare' }));
    expect(res.status).to.equal(303);
    expect((await getRiskScales(t.db)).likelihood[1]).to.equal('Plutôt rare');
  });

  it('shows the criticality changes before saving, and saves on confirmation', async () => {
    const body = await scalesBody(t.db, { cell_2_3: '4' });
    const preview = await post(admin, '/admin/risques', '/admin/risques', body);
    expect(preview.status).to.equal(200);
    const text = textOf(preview.text);
    expect(text).to.contain('Ces échelles changent la criticité de risques existants');
    expect(text).to.match(/Initial\s+Modérée\s+Très critique/);
    expect((await getRiskScales(t.db)).matrix[1]![2]).to.equal(2);
    const saved = await admin.post('/admin/risques').type('form').send(formBody({ _csrf: csrfOf(preview.text), ...body, confirm: '1' }));
    expect(saved.status).to.equal(303);
    expect((await getRiskScales(t.db)).matrix[1]![2]).to.equal(4);
    const page = textOf((await admin.get(`/homologations/${(await t.db('risks').where({ id: riskId }).first()).plan_id}/risques/${riskId}`).expect(200)).text);
    expect(page).to.contain('Criticité : Très critique');
  });

  it('refuses to remove a level a risk still uses, and a stale form (409)', async () => {
    const fewer = await scalesBody(t.db, { likelihoodCount: '1' });
    expect((await post(admin, '/admin/risques', '/admin/risques', fewer)).status).to.equal(422);
    const body = await scalesBody(t.db, { severityCount: '2' });
    delete body.severity_3; delete body.severity_4;
    const res = await post(admin, '/admin/risques', '/admin/risques', body);
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('un niveau que ces échelles n&#39;auraient plus');
    const stale = await post(admin, '/admin/risques', '/admin/risques', await scalesBody(t.db, { version: '1', classes_1: 'Basse' }));
    expect(stale.status).to.equal(409);
    expect(stale.text).to.contain('value="Basse"');
  });

  it('adds a level with "Mettre à jour le tableau": the new cells are empty, so saving at once is refused', async () => {
    const resized = await post(admin, '/admin/risques', '/admin/risques', await scalesBody(t.db, { likelihoodCount: '5', _action: 'resize' }));
    expect(resized.status).to.equal(200);
    expect(resized.text).to.contain('id="cell_5_1"');
    const res = await post(admin, '/admin/risques', '/admin/risques', await scalesBody(t.db, { likelihoodCount: '5', likelihood_5: 'Certain' }));
    expect(res.status).to.equal(422);
    expect(res.text).to.contain('La matrice a des trous : 4 cases sont sans criticité.');
  });
});
