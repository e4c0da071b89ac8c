import { expect } from 'chai';
import type { Knex } from 'knex';
import { createApp } from '../src/app';
import { prepareDatabase } from '../src/bootstrap';
import type { Config } from '../src/config';
import { getFiche, updateFiche } from '../src/data/fiches';
import { migrate } from '../src/db';
import {
  ACCOUNTS, type Agent, csrfOf, emptyDatabase, ENGINE, ficheIdByNumber, formBody, freshApp, NOW, PG_URL, postForm, signIn, type TestApp, textOf, TEST_PASSWORDS, } from './helpers';

/** The edit form of a fiche as a browser would post it back unchanged, to be altered by each test. */
async function editBody(t: TestApp, agent: Agent, id: number) {
  const fiche = (await getFiche(t.db, id))!;
  const form = await agent.get(`/homologations/1/fiches/${id}/modifier`).expect(200);
  const instanceIds = (await t.db('fiche_instances').where('fiche_id', id).select('instance_id')).map((r) => String(r.instance_id));
  return {
    fiche,
    body: {
      _csrf: csrfOf(form.text), _action: 'save', version: String(fiche.version), number: String(fiche.number), title: fiche.title, finding: fiche.finding,
      targetDate: fiche.targetDate, status: fiche.status, conclusion: fiche.conclusion, costAmount: fiche.costAmount === null ? '' : String(fiche.costAmount),
      costSource: fiche.costSource, scope: fiche.scopeAll ? 'all' : 'part', instanceIds,
      steps: fiche.steps.map((s) => ({ id: String(s.id), position: String(s.position), label: s.label, status: s.status })),
      counts: fiche.conclusionCounts.map((c) => ({ count: String(c.count), total: String(c.total), label: c.label })),
      effects: fiche.sideEffects.map((e) => ({ level: e.level, description: e.description })),
      owners: fiche.owners.map((o) => ({ teamId: String(o.teamId), serviceId: o.serviceId === null ? '' : String(o.serviceId) })),
    } as Record<string, unknown>,
  };
}

/** What a fiche holds, to assert that a refused save changed nothing. */
async function snapshot(t: TestApp, id: number) {
  const fiche = (await getFiche(t.db, id))!;
  const instances = (await t.db('fiche_instances').where('fiche_id', id).orderBy('instance_id').select('instance_id')).map((r) => Number(r.instance_id));
  return { ...fiche, instances };
}

describe(`data integrity of the forms (${ENGINE})`, () => {
  let t: TestApp;
  let editor: Agent;
  beforeEach(async () => {
    t = await freshApp();
    editor = await signIn(t.app, ACCOUNTS.editor);
  });
  afterEach(() => t.close());

  describe('steps of a fiche', () => {
    it("refuses a save naming another fiche's step, with the error next to that step, and drops nothing", async () => {
      const id = await ficheIdByNumber(t.db, 1);
      const other = (await getFiche(t.db, await ficheIdByNumber(t.db, 2)))!;
      const before = await snapshot(t, id);
      const otherBefore = await snapshot(t, other.id);
      const { body } = await editBody(t, editor, id);
      const steps = body.steps as { id: string; label: string }[];
      steps[1]!.id = String(other.steps[0]!.id);
      steps[1]!.label = 'Libellé retouché, gardé dans le formulaire';
      const res = await editor.post(`/homologations/1/fiches/${id}`).type('form').send(formBody(body));
      expect(res.status).to.equal(422);
      expect(res.text).to.contain('id="steps-1-label-error"');
      expect(textOf(res.text)).to.contain("Cette action n'appartient pas à cette fiche");
      expect(res.text).to.contain('value="Libellé retouché, gardé dans le formulaire"');
      expect(await snapshot(t, id)).to.deep.equal(before);
      expect(await snapshot(t, other.id)).to.deep.equal(otherBefore);
    });

    it('refuses an unknown, malformed or repeated step id instead of deleting the step', async () => {
      const id = await ficheIdByNumber(t.db, 3);
      const before = await snapshot(t, id);
      for (const [bad, row] of [['999999', 2], ['abc', 0], [String(before.steps[0]!.id), 3]] as const) {
        const { body } = await editBody(t, editor, id);
        (body.steps as { id: string }[])[row]!.id = bad;
        const res = await editor.post(`/homologations/1/fiches/${id}`).type('form').send(formBody(body));
        expect(res.status, `id ${bad}`).to.equal(422);
        expect(res.text, `id ${bad}`).to.contain(`id="steps-${row}-label-error"`);
        expect(await snapshot(t, id), `id ${bad}`).to.deep.equal(before);
      }
    });

    it('refuses a step id on a new fiche rather than losing the step', async () => {
      const stepOfFiche1 = (await getFiche(t.db, await ficheIdByNumber(t.db, 1)))!.steps[0]!;
      const team = await t.db('teams').first();
      const count = async () => Number((await t.db('fiches').count({ n: '*' }).first())!.n);
      const before = await count();
      const res = await postForm(editor, '/homologations/1/fiches/nouvelle', '/homologations/1/fiches', {
        _action: 'save', number: '6', title: 'Nouvelle fiche', targetDate: '2026-09-30', status: 'non_demarre', scope: 'all',
        steps: [{ id: String(stepOfFiche1.id), position: '1', label: 'Action volée', status: 'non_demarre' }],
        owners: [{ teamId: String(team.id), serviceId: '' }],
      });
      expect(res.status).to.equal(422);
      expect(res.text).to.contain('id="steps-0-label-error"');
      expect(await count()).to.equal(before);
      expect((await getFiche(t.db, await ficheIdByNumber(t.db, 1)))!.steps[0]).to.deep.equal(stepOfFiche1);
    });

    it('guards the data layer too: updateFiche with a foreign step id fails and writes nothing', async () => {
      const id = await ficheIdByNumber(t.db, 1);
      const other = (await getFiche(t.db, await ficheIdByNumber(t.db, 2)))!;
      const before = await snapshot(t, id);
      const admin = { id: 1, email: ACCOUNTS.admin, name: 'Camille Martin', role: 'admin' as const, communeId: null };
      const result = await updateFiche(t.db, id, before.version, {
        number: before.number, title: before.title, finding: before.finding, targetDate: before.targetDate, status: before.status, conclusion: before.conclusion,
        conclusionCounts: before.conclusionCounts, costAmount: before.costAmount, costSource: before.costSource, scopeAll: before.scopeAll,
        instanceIds: before.instances, owners: before.owners.map((o) => ({ teamId: o.teamId, serviceId: o.serviceId })),
        steps: [...before.steps.slice(0, 2), { ...before.steps[2]!, id: other.steps[0]!.id }],
        sideEffects: before.sideEffects,
      }, admin, new Date());
      expect(result).to.deep.equal({ ok: false, reason: 'unknown_step', stepIds: [other.steps[0]!.id] });
      expect(await snapshot(t, id)).to.deep.equal(before);
    });
  });

  describe('scope of a fiche', () => {
    for (const scope of ['everything', '', 'ALL']) {
      it(`refuses scope=${JSON.stringify(scope)} with a 422 and keeps the fiche's instances`, async () => {
        const id = await ficheIdByNumber(t.db, 2);
        const before = await snapshot(t, id);
        expect(before.scopeAll).to.equal(false);
        const { body } = await editBody(t, editor, id);
        body.scope = scope;
        body.title = 'Titre gardé dans le formulaire';
        const res = await editor.post(`/homologations/1/fiches/${id}`).type('form').send(formBody(body));
        expect(res.status).to.equal(422);
        expect(res.text).to.contain('id="instanceIds-error"');
        expect(textOf(res.text)).to.contain('Choisissez le périmètre');
        expect(res.text).to.contain('value="Titre gardé dans le formulaire"');
        expect(await snapshot(t, id)).to.deep.equal(before);
        // still hidden from a commune whose instances it does not touch
        const commune = await signIn(t.app, ACCOUNTS.commune);
        expect((await commune.get(`/homologations/1/fiches/${id}`)).status).to.equal(403);
      });
    }

    it('refuses an unknown scope on a new fiche', async () => {
      const team = await t.db('teams').first();
      const res = await postForm(editor, '/homologations/1/fiches/nouvelle', '/homologations/1/fiches', {
        _action: 'save', number: '6', title: 'Nouvelle fiche', targetDate: '2026-09-30', status: 'non_demarre', scope: 'tout',
        owners: [{ teamId: String(team.id), serviceId: '' }],
      });
      expect(res.status).to.equal(422);
      expect(textOf(res.text)).to.contain('Choisissez le périmètre');
      expect(await t.db('fiches').where({ number: 6 }).first()).to.equal(undefined);
    });

    it('refuses an unknown meeting coverage instead of covering every fiche (which would show it to every commune)', async () => {
      const count = async () => Number((await t.db('meetings').count({ n: '*' }).first())!.n);
      const before = await count();
      const res = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', {
        title: 'Séance mal formée', kind: 'suivi', date: '2026-06-02', startTime: '14:00', endTime: '16:00', place: 'Salle 1', visioUrl: '',
        objective: '', reminder: '', questions: '', coverage: 'toutes',
      });
      expect(res.status).to.equal(422);
      expect(res.text).to.contain('id="ficheIds-error"');
      expect(textOf(res.text)).to.contain('Choisissez les fiches couvertes');
      expect(res.text).to.contain('value="Séance mal formée"');
      expect(await count()).to.equal(before);
    });
  });

  describe('dates', () => {
    const yearMessage = 'Saisissez une année entre 1900 et 2100.';

    for (const date of ['0000-01-01', '1899-12-31', '2101-01-01', '9999-12-31']) {
      it(`refuses the fiche target date ${date} next to the field, keeping it`, async () => {
        const id = await ficheIdByNumber(t.db, 1);
        const before = await snapshot(t, id);
        const { body } = await editBody(t, editor, id);
        body.targetDate = date;
        const res = await editor.post(`/homologations/1/fiches/${id}`).type('form').send(formBody(body));
        expect(res.status).to.equal(422);
        expect(res.text).to.contain('id="targetDate-error"');
        expect(textOf(res.text)).to.contain(yearMessage);
        expect(res.text).to.contain(`value="${date}"`);
        expect(await snapshot(t, id)).to.deep.equal(before);
      });
    }

    it('accepts the bounds: 1900-01-01 and 2100-12-31', async () => {
      const id = await ficheIdByNumber(t.db, 1);
      for (const date of ['1900-01-01', '2100-12-31']) {
        const { body } = await editBody(t, editor, id);
        body.targetDate = date;
        const res = await editor.post(`/homologations/1/fiches/${id}`).type('form').send(formBody(body));
        expect(res.status, date).to.equal(303);
        expect((await getFiche(t.db, id))!.targetDate).to.equal(date);
      }
    });

    it('refuses a progress note dated year 0', async () => {
      const id = await ficheIdByNumber(t.db, 1);
      const count = async () => Number((await t.db('progress_notes').count({ n: '*' }).first())!.n);
      const before = await count();
      const res = await postForm(editor, `/homologations/1/fiches/${id}`, `/homologations/1/fiches/${id}/notes`, { body: 'Point gardé', notedOn: '0000-01-01', status: '' });
      expect(res.status).to.equal(422);
      expect(textOf(res.text)).to.contain(yearMessage);
      expect(await count()).to.equal(before);
    });

    it('refuses a meeting on 0000-01-01 (nothing saved, so no .ics dated at download time)', async () => {
      const count = async () => Number((await t.db('meetings').count({ n: '*' }).first())!.n);
      const before = await count();
      const res = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', {
        title: 'Séance hors du temps', kind: 'suivi', date: '0000-01-01', startTime: '14:00', endTime: '16:00', place: 'Salle 1', visioUrl: '',
        objective: '', reminder: '', questions: '', coverage: 'all',
      });
      expect(res.status).to.equal(422);
      expect(res.text).to.contain('id="date-error"');
      expect(textOf(res.text)).to.contain(yearMessage);
      expect(res.text).to.contain('value="Séance hors du temps"');
      expect(await count()).to.equal(before);
    });
  });
});

/** A full disk, as the engine reports it, on the first account written: after the plan, teams and instances. */
async function diskFullOnUsers(db: Knex): Promise<void> {
  if (PG_URL) {
    await db.raw(`CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$`);
    await db.raw('CREATE TRIGGER disk_full BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION disk_full()');
  } else {
    await db.raw("CREATE TRIGGER disk_full BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
  }
}

async function diskFreed(db: Knex): Promise<void> {
  await db.raw(PG_URL ? 'DROP TRIGGER disk_full ON users' : 'DROP TRIGGER disk_full');
}

/** What a restart must give: the whole demo plan, once, and its administrator able to sign in. */
async function expectCompleteDemo(db: Knex, config: Config) {
  // the deck's homologation, its renewal and the HR portal
  expect(Number((await db('plans').count({ n: '*' }).first())!.n)).to.equal(3);
  // (ids are not reused on PostgreSQL after a failed load: the deck's homologation is the first one, whatever its id)
  const deck = await db('plans').whereNull('previous_id').orderBy('id').first();
  expect((await db('fiches').where('plan_id', deck.id).orderBy('number').select('number')).map((f) => Number(f.number))).to.deep.equal([1, 2, 3, 4, 5]);
  expect(Number((await db('instances').count({ n: '*' }).first())!.n)).to.equal(38);
  const app = createApp({ db, config, now: () => NOW, passwords: TEST_PASSWORDS });
  const admin = await signIn(app, ACCOUNTS.admin);
  expect((await admin.get(`/homologations/${deck.id}`)).status).to.equal(200);
}

describe(`loading the demo plan at first start (${ENGINE})`, () => {
  it('leaves nothing behind when the load fails midway (disk full), and the next start loads it whole', async () => {
    const { open, config, drop } = await emptyDatabase('demo-load');
    try {
      const first = open();
      await migrate(first);
      await diskFullOnUsers(first);
      let failure: unknown;
      await prepareDatabase(first, config, NOW).catch((err: unknown) => { failure = err; });
      expect(String(failure)).to.match(/disk is full|No space left/);
      // nothing of the load is kept: no plan without accounts
      for (const table of ['plans', 'teams', 'services', 'communes', 'instances', 'users', 'fiches', 'audit_log']) {
        expect(Number((await first(table).count({ n: '*' }).first())!.n), table).to.equal(0);
      }
      await diskFreed(first);
      await first.destroy();
      // the restart finds the database empty and loads the demo
      const second = open();
      try {
        expect(await prepareDatabase(second, config, NOW)).to.deep.equal({ demoLoaded: true });
        await expectCompleteDemo(second, config);
        // and a third start does not load it twice
        expect(await prepareDatabase(second, config, NOW)).to.deep.equal({ demoLoaded: false });
        await expectCompleteDemo(second, config);
      } finally {
        await second.destroy();
      }
    } finally {
      await drop();
    }
  });

  if (!PG_URL) {
    it('survives a really full SQLite file (max_page_count): the next start, with room, loads the whole demo', async () => {
      const { open, config } = await emptyDatabase('demo-load');
      const first = open();
      await migrate(first);
      await first.raw('PRAGMA wal_checkpoint(TRUNCATE)');
      const pages = Number(((await first.raw('PRAGMA page_count')) as { page_count: number }[])[0]!.page_count);
      // a few pages of room: the load starts, then the file cannot grow (SQLITE_FULL, as on a full disk)
      await first.raw(`PRAGMA max_page_count = ${pages + 4}`);
      let failure: unknown;
      await prepareDatabase(first, config, NOW).catch((err: unknown) => { failure = err; });
      // (SQLite rolls the transaction back itself on SQLITE_FULL; knex then reports its own failed ROLLBACK)
      expect(failure).to.be.instanceOf(Error);
      await first.destroy();
      const second = open();
      try {
        expect(Number((await second('users').count({ n: '*' }).first())!.n)).to.equal(0);
        expect(await prepareDatabase(second, config, NOW)).to.deep.equal({ demoLoaded: true });
        await expectCompleteDemo(second, config);
      } finally {
        await second.destroy();
      }
    });
  }
});
