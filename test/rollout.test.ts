import { expect } from 'chai';
import type { Knex } from 'knex';
import { countQueries } from '../src/data/query-count';
import { applyRollout, rolloutCells, rolloutSummaries } from '../src/data/rollout';
import { environmentList } from '../src/data/referentials';
import { getBulkOperation } from '../src/data/bulk';
import { countRollout, planRollout, rolloutPhrase, rolloutShort } from '../src/domain/rollout';
import type { Actor } from '../src/domain/roles';
import { aCommune, aFiche, aHomologation, anInstance, aService, aTeam, aUser, type BuiltUser, signedIn } from './builders';
import { type Agent, csrfOf, formBody, freshApp, NOW, signIn, type TestApp, textOf } from './helpers';

describe('rollout per instance', () => {
  let t: TestApp;
  let team: number;
  let service: number;
  let communeA: number;
  let communeB: number;
  let editor: BuiltUser;
  let editorAgent: Agent;
  let agentA: BuiltUser;
  let agentAAgent: Agent;

  before(async () => {
    t = await freshApp();
    team = await aTeam().insert(t.db);
    service = await aService().insert(t.db);
    communeA = await aCommune().insert(t.db);
    communeB = await aCommune().insert(t.db);
    editor = await aUser().withRole('editor').insert(t.db);
    editorAgent = await signIn(t.app, editor.email, editor.password);
    agentA = await aUser().withRole('commune').inCommune(communeA).insert(t.db);
    agentAAgent = await signIn(t.app, agentA.email, agentA.password);
  });
  after(() => t.close());

  /** A homologation whose perimeter holds `n` production instances per commune (A, B) and one of the Métropole, and a fiche on all of them. */
  async function rolledOut(n = 2, opts: { followed?: boolean } = {}) {
    const ids: { a: number[]; b: number[]; own: number; recette: number } = { a: [], b: [], own: 0, recette: 0 };
    for (let i = 0; i < n; i++) {
      ids.a.push(await anInstance().ofService(service).managedBy(team).inCommune(communeA).insert(t.db));
      ids.b.push(await anInstance().ofService(service).managedBy(team).inCommune(communeB).insert(t.db));
    }
    ids.own = await anInstance().ofService(service).managedBy(team).insert(t.db);
    ids.recette = await anInstance().ofService(service).managedBy(team).inEnvironment('recette').insert(t.db);
    const all = [...ids.a, ...ids.b, ids.own, ids.recette];
    const hom = await aHomologation().withInstances(...all).insert(t.db);
    const builder = aFiche().inHomologation(hom).ownedBy(team).onInstances(...all).withSideEffect('fort', 'Les agents des communes devront changer de parcours.');
    const ficheId = await (opts.followed === false ? builder : builder.followedPerInstance()).insert(t.db);
    return { hom, ficheId, ids, all, fiche: { id: ficheId, planId: hom, number: 1, scopeAll: false } };
  }

  const versions = async (ficheId: number) => Object.fromEntries(
    (await t.db('fiche_rollouts').where({ fiche_id: ficheId }).select('instance_id', 'status', 'version')).map((r) => [Number(r.instance_id), `${r.status}@${r.version}`]),
  );
  const asActor = (u: BuiltUser): Actor => ({ id: u.id, name: u.name, email: u.email, role: u.role, communeId: u.communeId });

  describe('the plan of a change (domain)', () => {
    const cell = (id: number, status: 'non_demarre' | 'fait', version: number) => ({
      instanceId: id, instanceName: `I${id}`, serviceId: 1, serviceName: 'S', environment: 'prod', environmentLabel: 'Production', communeId: null, communeName: null,
      status, dueOn: null, note: '', version, updatedAt: null, updatedByName: null, updatedByCommune: null,
    });
    it('sorts the selection into changes, unchanged, conflicts (version moved) and ids outside the scope', () => {
      const plan = planRollout([cell(1, 'non_demarre', 0), cell(2, 'fait', 3), cell(3, 'non_demarre', 2)], [
        { instanceId: 1, seenVersion: 0 }, { instanceId: 2, seenVersion: 3 }, { instanceId: 3, seenVersion: 1 }, { instanceId: 99, seenVersion: 0 }, { instanceId: 1, seenVersion: 0 },
      ], { status: 'fait' });
      expect(plan.changes.map((c) => c.cell.instanceId)).to.deep.equal([1]);
      expect(plan.unchanged.map((c) => c.instanceId)).to.deep.equal([2]);
      expect(plan.conflicts.map((c) => [c.cell.instanceId, c.seenVersion])).to.deep.equal([[3, 1]]);
      expect(plan.outside).to.deep.equal([99]);
    });
    it('says the rollout per environment, in the organisation\u2019s order', () => {
      const envs = [{ code: 'prod', label: 'Production', position: 1 }, { code: 'recette', label: 'Recette', position: 2 }];
      const counts = countRollout([
        ...Array.from({ length: 14 }, (_, i) => ({ environment: 'prod', status: (i < 9 ? 'fait' : 'en_cours') as 'fait' | 'en_cours' })),
        { environment: 'recette', status: 'fait' as const }, { environment: 'recette', status: 'non_demarre' as const },
      ], envs);
      expect(rolloutPhrase(counts)).to.equal('Fait sur 9 des 14 instances de production et 1 des 2 instances de recette');
      expect(rolloutShort({ done: 2, total: 3 })).to.equal('2 instances sur 3');
      expect(rolloutPhrase(countRollout([], envs))).to.equal('Aucune instance dans le périmètre de la fiche');
    });
  });

  describe('the write (both engines)', () => {
    it('applies one status to many instances in one operation: an audit entry per instance, grouped, and the counts follow', async () => {
      const r = await rolledOut(3);
      const cells = await rolloutCells(t.db, r.fiche, null);
      expect(cells).to.have.length(8);
      const selection = r.ids.a.map((id) => ({ instanceId: id, seenVersion: 0 }));
      const done = await applyRollout(t.db, r.fiche, selection, { status: 'fait', note: 'Fait par lot' }, asActor(editor), NOW);
      expect(done).to.include({ ok: true, count: 3 });
      const bulkId = (done as { bulkId: number }).bulkId;
      const op = (await getBulkOperation(t.db, r.hom, bulkId))!;
      expect(op.operation).to.include({ kind: 'deploiement', count: 3 });
      expect(op.entries.map((e) => e.entityType)).to.deep.equal(['deploiement', 'deploiement', 'deploiement']);
      expect(op.entries.map((e) => (e.after as { instanceId: number }).instanceId).sort()).to.deep.equal([...r.ids.a].sort());
      const summary = (await rolloutSummaries(t.db, [r.ficheId], await environmentList(t.db))).get(r.ficheId)!;
      expect([summary.done, summary.total]).to.deep.equal([3, 8]);
      expect(summary.byCommune.get(communeA)).to.deep.equal({ done: 3, total: 3 });
      expect(summary.byCommune.get(communeB)).to.deep.equal({ done: 0, total: 3 });
      const forB = (await rolloutSummaries(t.db, [r.ficheId], await environmentList(t.db), communeB)).get(r.ficheId)!;
      expect([forB.done, forB.total]).to.deep.equal([0, 3]);
    });

    it('refuses the whole selection when one instance changed meanwhile (stale version), and writes nothing', async () => {
      const r = await rolledOut(2);
      await applyRollout(t.db, r.fiche, [{ instanceId: r.ids.b[0]!, seenVersion: 0 }], { status: 'en_cours' }, asActor(editor), NOW);
      const before = await versions(r.ficheId);
      const audits = Number((await t.db('audit_log').where({ entity_type: 'deploiement', entity_id: r.ficheId }).count({ n: '*' }))[0]!.n);
      const stale = await applyRollout(t.db, r.fiche, [...r.ids.a, ...r.ids.b].map((id) => ({ instanceId: id, seenVersion: 0 })), { status: 'fait' }, asActor(editor), NOW);
      expect(stale).to.include({ ok: false, reason: 'conflict' });
      expect((stale as { plan: { conflicts: { cell: { instanceId: number } }[] } }).plan.conflicts.map((c) => c.cell.instanceId)).to.deep.equal([r.ids.b[0]]);
      expect(await versions(r.ficheId)).to.deep.equal(before);
      expect(Number((await t.db('audit_log').where({ entity_type: 'deploiement', entity_id: r.ficheId }).count({ n: '*' }))[0]!.n)).to.equal(audits);
    });

    it('lets one of two concurrent changes of the same instances win; the other is refused whole', async () => {
      const r = await rolledOut(3);
      const selection = r.all.map((id) => ({ instanceId: id, seenVersion: 0 }));
      const results = await Promise.all([
        applyRollout(t.db, r.fiche, selection, { status: 'fait' }, asActor(editor), NOW),
        applyRollout(t.db, r.fiche, selection, { status: 'bloque' }, asActor(editor), NOW),
      ]);
      expect(results.filter((x) => x.ok)).to.have.length(1);
      expect(results.filter((x) => !x.ok && x.reason === 'conflict')).to.have.length(1);
      const statuses = new Set(Object.values(await versions(r.ficheId)));
      expect(statuses.size, 'every instance carries the winner\u2019s status at version 1').to.equal(1);
    });

    it('refuses a commune\u2019s agent any instance of another commune, and ids outside the fiche\u2019s scope', async () => {
      const r = await rolledOut(1);
      const other = await rolledOut(1);
      expect(await applyRollout(t.db, r.fiche, [{ instanceId: r.ids.a[0]!, seenVersion: 0 }, { instanceId: r.ids.b[0]!, seenVersion: 0 }], { status: 'fait' }, asActor(agentA), NOW))
        .to.deep.equal({ ok: false, reason: 'other_commune', instanceIds: [r.ids.b[0]] });
      expect(await applyRollout(t.db, r.fiche, [{ instanceId: r.ids.a[0]!, seenVersion: 0 }, { instanceId: other.ids.a[0]!, seenVersion: 0 }], { status: 'fait' }, asActor(editor), NOW))
        .to.deep.equal({ ok: false, reason: 'outside', instanceIds: [other.ids.a[0]] });
      expect(await versions(r.ficheId)).to.deep.equal({});
    });

    it('writes a selection of any size in a number of statements that does not grow with it', async () => {
      const small = await rolledOut(2);
      const large = await rolledOut(40);
      const count = async (r: Awaited<ReturnType<typeof rolledOut>>) => {
        const counter = countQueries(t.db as Knex);
        try {
          const res = await applyRollout(t.db, r.fiche, r.all.map((id) => ({ instanceId: id, seenVersion: 0 })), { status: 'fait' }, asActor(editor), NOW);
          expect(res.ok).to.equal(true);
          return counter.count();
        } finally {
          counter.stop();
        }
      };
      const few = await count(small);
      const many = await count(large);
      expect(many, `${few} requêtes pour 6 instances, ${many} pour 82`).to.be.at.most(few + 1);
    });
  });

  describe('the pages', () => {
    const grid = (agent: Agent, r: { hom: number; ficheId: number }, query = '') => agent.get(`/homologations/${r.hom}/fiches/${r.ficheId}/deploiement${query}`);
    async function post(agent: Agent, r: { hom: number; ficheId: number }, path: '/apercu' | '', fields: Record<string, unknown>) {
      const page = await grid(agent, r).expect(200);
      return agent.post(`/homologations/${r.hom}/fiches/${r.ficheId}/deploiement${path}`).type('form').send(formBody({ _csrf: csrfOf(page.text), ...fields }));
    }
    const seen = (ids: number[], version = 0) => Object.fromEntries(ids.map((id) => [`v_${id}`, version]));

    it('previews, then applies, the change of the instances displayed by a filter', async () => {
      const r = await rolledOut(2);
      const filtered = textOf((await grid(editorAgent, r, `?commune=${communeA}`).expect(200)).text);
      expect(filtered).to.include('2 instances affichées sur 6');
      const preview = await post(editorAgent, r, '/apercu', { selection: 'affichees', status: 'en_cours', commune: String(communeA), ...seen(r.ids.a) });
      expect(preview.status, textOf(preview.text).slice(0, 300)).to.equal(200);
      expect(textOf(preview.text)).to.include('2 instances passeront à « En cours »');
      expect(await versions(r.ficheId), 'a preview writes nothing').to.deep.equal({});
      const applied = await post(editorAgent, r, '', { selection: 'cochees', status: 'en_cours', instanceIds: r.ids.a.map(String), commune: String(communeA), ...seen(r.ids.a) });
      expect(applied.status).to.equal(303);
      expect(applied.headers.location).to.equal(`/homologations/${r.hom}/fiches/${r.ficheId}/deploiement?commune=${communeA}`);
      expect(Object.values(await versions(r.ficheId))).to.deep.equal(['en_cours@1', 'en_cours@1']);
      const fichePage = textOf((await editorAgent.get(`/homologations/${r.hom}/fiches/${r.ficheId}`).expect(200)).text);
      expect(fichePage).to.include('Fait sur 0 des 5 instances de production et 0 de la seule instance de recette');
    });

    it('keeps the input and says what is wrong, next to the field, on a bad change (422)', async () => {
      const r = await rolledOut(1);
      const res = await post(editorAgent, r, '/apercu', { selection: 'cochees', status: 'termine', dueOn: '2026-02-31', note: 'Ma note', ...seen(r.ids.a) });
      expect(res.status).to.equal(422);
      const text = textOf(res.text);
      expect(text).to.include('Choisissez le nouvel état des instances.');
      expect(text).to.include("Cette date n'existe pas.");
      expect(text).to.include('Cochez au moins une instance');
      expect(res.text).to.include('Ma note');
    });

    it('answers a stale selection with 409, lists the conflicts and applies nothing', async () => {
      const r = await rolledOut(2);
      await applyRollout(t.db, r.fiche, [{ instanceId: r.ids.a[1]!, seenVersion: 0 }], { status: 'bloque' }, asActor(editor), NOW);
      const before = await versions(r.ficheId);
      const res = await post(editorAgent, r, '', { selection: 'cochees', status: 'fait', instanceIds: r.ids.a.map(String), ...seen(r.ids.a) });
      expect(res.status).to.equal(409);
      expect(textOf(res.text)).to.include('Modifiées entre-temps (1)');
      expect(textOf(res.text)).to.include('Prévisualiser à nouveau');
      expect(await versions(r.ficheId)).to.deep.equal(before);
    });

    it('refuses an instance of another homologation (422), and nothing is written', async () => {
      const r = await rolledOut(1);
      const other = await rolledOut(1);
      const res = await post(editorAgent, r, '', { selection: 'cochees', status: 'fait', instanceIds: [r.ids.a[0], other.ids.a[0]].map(String), ...seen([r.ids.a[0]!, other.ids.a[0]!]) });
      expect(res.status).to.equal(422);
      expect(textOf(res.text)).to.include("n'est pas dans le périmètre de cette fiche");
      expect(await versions(r.ficheId)).to.deep.equal({});
    });

    it('lets a commune\u2019s agent update its own instances only, without dates', async () => {
      const r = await rolledOut(2);
      const own = textOf((await grid(agentAAgent, r).expect(200)).text);
      expect(own).to.include('2 instances affichées.');
      const foreign = await post(agentAAgent, r, '', { selection: 'cochees', status: 'fait', instanceIds: [r.ids.a[0], r.ids.b[0]].map(String), ...seen([r.ids.a[0]!, r.ids.b[0]!]) });
      expect(foreign.status).to.equal(403);
      expect(textOf(foreign.text)).to.include("Vous ne pouvez mettre à jour que les instances de votre commune");
      const dated = await post(agentAAgent, r, '', { selection: 'cochees', status: 'fait', dueOn: '2026-05-01', instanceIds: [String(r.ids.a[0])], ...seen([r.ids.a[0]!]) });
      expect(dated.status).to.equal(403);
      expect(await versions(r.ficheId)).to.deep.equal({});
      const ok = await post(agentAAgent, r, '', { selection: 'cochees', status: 'fait', note: 'Fait chez nous', instanceIds: [String(r.ids.a[0])], ...seen([r.ids.a[0]!]) });
      expect(ok.status).to.equal(303);
      const row = await t.db('fiche_rollouts').where({ fiche_id: r.ficheId, instance_id: r.ids.a[0] }).first();
      expect([row.status, row.note, Number(row.updated_by_commune)]).to.deep.equal(['fait', 'Fait chez nous', communeA]);
      const team = textOf((await grid(editorAgent, r).expect(200)).text);
      expect(team).to.include(`${agentA.name} (commune de`);
    });

    it('refuses the committee (403), and a fiche not followed per instance (409)', async () => {
      const r = await rolledOut(1);
      const viewer = await signedIn(t, 'viewer');
      const page = await grid(viewer, r).expect(200);
      const refused = await viewer.post(`/homologations/${r.hom}/fiches/${r.ficheId}/deploiement`).type('form')
        .send(formBody({ _csrf: csrfOf(page.text), selection: 'cochees', status: 'fait', instanceIds: [String(r.ids.a[0])], ...seen([r.ids.a[0]!]) }));
      expect(refused.status).to.equal(403);
      const plain = await rolledOut(1, { followed: false });
      expect(textOf((await grid(editorAgent, plain).expect(200)).text)).to.include("n'est pas suivie instance par instance");
      const res = await post(editorAgent, plain, '', { selection: 'cochees', status: 'fait', instanceIds: [String(plain.ids.a[0])], ...seen([plain.ids.a[0]!]) });
      expect(res.status).to.equal(409);
    });

    it('shows the counts on the homologation page, the dashboard and its commune matrix', async () => {
      const r = await rolledOut(2);
      await applyRollout(t.db, r.fiche, [{ instanceId: r.ids.a[0]!, seenVersion: 0 }], { status: 'fait' }, asActor(editor), NOW);
      expect(textOf((await editorAgent.get(`/homologations/${r.hom}`).expect(200)).text)).to.include('1/6 instances faite');
      const dash = await editorAgent.get(`/homologations/${r.hom}/tableau-de-bord`).expect(200);
      expect(textOf(dash.text)).to.include('Déploiement par instance (1)');
      expect(textOf(dash.text)).to.include('1/2 inst.');
      const csv = await editorAgent.get(`/homologations/${r.hom}/tableau-de-bord?export=communes`).expect(200);
      expect(csv.text).to.include('En cours (1/2)');
      expect(csv.text).to.include('Non démarré (0/2)');
    });
  });
});
