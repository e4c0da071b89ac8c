// Fast tests (no HTTP, no process) of the data layer's shared pieces and of the queries moved out of the services:
// the audited write and its outcomes, the alert scan's data functions, the session purge and the first-start load.
import { expect } from 'chai';
import {
  alertRecipients, alertsDueForReminder, insertAlert, lateFichesWithoutAlert, markReminderRound, resolveAlert, unresolvedAlerts,
} from '../src/data/alerts';
import { getFiche } from '../src/data/fiches';
import { loadOnceIntoEmpty } from '../src/data/plans';
import { purgeExpiredSessions } from '../src/data/sessions';
import { teams } from '../src/data/referentials';
import { auditedWrite, insertedId, Refused } from '../src/data/write';
import { migrate } from '../src/db';
import { aCommune, aFiche, aHomologation, anInstance, aTeam, aUser, BUILDER } from './builders';
import { emptyDatabase, freshApp, NOW, type TestApp } from './helpers';

const auditRows = async (t: TestApp) => Number((await t.db('audit_log').count({ n: '*' }).first())?.n ?? 0);

describe('data layer: audited writes', function () {
  this.timeout(30_000);
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(async () => t.close());

  it('keeps the change and its audit row together', async () => {
    const before = await auditRows(t);
    const id = await auditedWrite(t.db, { actor: BUILDER, at: NOW }, async (trx, audit) => {
      const teamId = insertedId(await trx('teams').insert({ name: 'Équipe écrite', description: '' }).returning('id'));
      await audit({ action: 'create', entityType: 'team', entityId: teamId, summary: 'Équipe écrite' });
      return teamId;
    });
    expect(await t.db('teams').where({ id }).first()).to.include({ name: 'Équipe écrite' });
    expect(await auditRows(t)).to.equal(before + 1);
  });

  it('rolls back everything, audit row included, when a check refuses the change (Refused) or a constraint does', async () => {
    const before = await auditRows(t);
    const refused = await auditedWrite(t.db, { actor: BUILDER, at: NOW }, async (trx, audit) => {
      await trx('teams').insert({ name: 'Équipe refusée', description: '' });
      await audit({ action: 'create', entityType: 'team', entityId: 0, summary: 'Équipe refusée' });
      throw new Refused({ ok: false as const, reason: 'refused' as const });
    });
    expect(refused).to.deep.equal({ ok: false, reason: 'refused' });
    const taken = (await t.db('teams').first()).name;
    const duplicate = await teams.create(t.db, { name: taken, description: '' }, BUILDER, NOW);
    expect(duplicate).to.deep.equal({ ok: false, reason: 'duplicate' });
    expect(await t.db('teams').where({ name: 'Équipe refusée' }).first()).to.equal(undefined);
    expect(await auditRows(t)).to.equal(before);
  });

  it('throws any other error, after the rollback', async () => {
    const write = auditedWrite(t.db, { actor: BUILDER, at: NOW }, async (trx) => {
      await trx('teams').insert({ name: 'Équipe perdue', description: '' });
      throw new Error('panne');
    }, { unique: 'duplicate' });
    await write.then(() => expect.fail('should throw'), (err: Error) => expect(err.message).to.equal('panne'));
    expect(await t.db('teams').where({ name: 'Équipe perdue' }).first()).to.equal(undefined);
  });

  it('reads the id an insert returns, as an object or as a value', () => {
    expect(insertedId([{ id: 7 }])).to.equal(7);
    expect(insertedId([8])).to.equal(8);
    expect(insertedId([{ id: '9' }])).to.equal(9);
  });
});

describe('data layer: the alert scan', function () {
  this.timeout(30_000);
  let t: TestApp;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(async () => t.close());

  it('finds a late fiche once, raises one alert for its date, and moves a reminder round once', async () => {
    const team = await aTeam().insert(t.db);
    const member = await aUser().withRole('editor').inTeam(team).insert(t.db);
    await aUser().withRole('editor').inTeam(team).suspended().insert(t.db);
    const plan = await aHomologation().insert(t.db);
    const ficheId = await aFiche().inHomologation(plan).late().withSteps(2).ownedBy(team).insert(t.db);
    const today = NOW.toISOString().slice(0, 10);

    const late = await lateFichesWithoutAlert(t.db, today);
    const mine = late.find((f) => f.id === ficheId)!;
    expect(mine).to.not.equal(undefined);
    expect((await alertRecipients(t.db, ficheId)).map((u) => u.id)).to.deep.equal([member.id]);

    const at = NOW.toISOString();
    const alertId = await insertAlert(t.db, { ficheId, targetDate: mine.targetDate }, at);
    expect(alertId).to.be.a('number');
    expect(await insertAlert(t.db, { ficheId, targetDate: mine.targetDate }, at)).to.equal(null);
    expect((await lateFichesWithoutAlert(t.db, today)).map((f) => f.id)).to.not.include(ficheId);

    const due = await alertsDueForReminder(t.db, at);
    expect(due).to.deep.include({ id: alertId, ficheId, reminders: 0 });
    expect(await markReminderRound(t.db, alertId!, 0, 1, at)).to.equal(true);
    expect(await markReminderRound(t.db, alertId!, 0, 1, at)).to.equal(false);

    expect((await unresolvedAlerts(t.db)).find((a) => a.id === alertId)).to.include({ targetDate: mine.targetDate, ficheStatus: 'non_demarre' });
    expect(await resolveAlert(t.db, alertId!, at)).to.equal(1);
    expect(await resolveAlert(t.db, alertId!, at)).to.equal(0);
  });

  it('reads one fiche as the agenda reads several, its scope narrowed to a commune that sees it', async () => {
    const [lyon, vaulx, other] = [await aCommune().insert(t.db), await aCommune().insert(t.db), await aCommune().insert(t.db)];
    const [inLyon, inVaulx] = [await anInstance().inCommune(lyon).insert(t.db), await anInstance().inCommune(vaulx).insert(t.db)];
    const plan = await aHomologation().withInstances(inLyon, inVaulx).insert(t.db);
    const ficheId = await aFiche().inHomologation(plan).withSteps(3).insert(t.db);
    const fiche = await getFiche(t.db, ficheId);
    expect(fiche).to.include({ id: ficheId, planId: plan, scopeAll: true });
    expect(fiche!.steps.map((s) => s.label)).to.deep.equal(['Action 1', 'Action 2', 'Action 3']);
    expect(fiche!.scope.map((s) => s.id)).to.have.members([inLyon, inVaulx]);
    expect((await getFiche(t.db, ficheId, lyon))!.scope.map((s) => s.id)).to.deep.equal([inLyon]);
    expect(await getFiche(t.db, ficheId, other)).to.equal(undefined);
    expect(await getFiche(t.db, ficheId + 10_000)).to.equal(undefined);
  });
});

describe('data layer: sessions and the first start', function () {
  this.timeout(60_000);

  it('purges only the sessions expired before now', async () => {
    const t = await freshApp();
    try {
      await t.db('sessions').insert([
        { sid: 'ancienne', sess: '{}', expired: new Date(NOW.getTime() - 1000).toISOString() },
        { sid: 'valide', sess: '{}', expired: new Date(NOW.getTime() + 1000).toISOString() },
      ]);
      expect(await purgeExpiredSessions(t.db, NOW)).to.be.at.least(1);
      expect((await t.db('sessions').whereIn('sid', ['ancienne', 'valide']).pluck('sid'))).to.deep.equal(['valide']);
    } finally {
      await t.close();
    }
  });

  it('loads an empty database once, and rolls back a load that fails', async () => {
    const empty = await emptyDatabase('first-start');
    const db = empty.open();
    try {
      await migrate(db);
      const load = (name: string) => async (trx: typeof db) => { await trx('teams').insert({ name, description: '' }); await trx('users').insert({ email: `${name}@example.org`, name, role: 'admin', password_hash: '!', active: true, created_at: NOW.toISOString() }); };
      const failing = loadOnceIntoEmpty(db, async (trx) => { await load('interrompu')(trx); throw new Error('disque plein'); });
      await failing.then(() => expect.fail('should throw'), (err: Error) => expect(err.message).to.equal('disque plein'));
      expect(await db('teams').count({ n: '*' }).first()).to.satisfy((r: { n: unknown }) => Number(r.n) === 0);
      expect(await loadOnceIntoEmpty(db, load('premier'))).to.equal(true);
      expect(await loadOnceIntoEmpty(db, load('second'))).to.equal(false);
      expect(await db('teams').pluck('name')).to.deep.equal(['premier']);
    } finally {
      await db.destroy();
      await empty.drop();
    }
  });
});
