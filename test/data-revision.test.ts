import { expect } from 'chai';
import { foldRevision, readRevision } from '../src/data/revision';
import { tablesOf } from '../db/migrations/017_data_revision';
import { ENGINE, freshApp, type TestApp } from './helpers';

// The data's revision (db/migrations/017_data_revision.ts), kept by the database itself: what the page cache trusts.
describe(`the data's revision (${ENGINE})`, () => {
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(() => t.close());

  it('is followed on every table of the application: a table added without trackRevision fails here', async () => {
    const tables = await tablesOf(t.db);
    expect(tables).to.include.members(['fiches', 'steps', 'progress_notes', 'meetings', 'signatures', 'teams', 'communes', 'risks', 'fiche_rollouts', 'plan_imports', 'users', 'organisation_identity']);
    const tracked = new Map<string, Set<string>>();
    if (ENGINE === 'postgresql') {
      const rows = (await t.db.raw(`SELECT c.relname AS "table", t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE 'data_revision_%'`)).rows as { table: string; name: string }[];
      for (const r of rows) tracked.set(r.table, (tracked.get(r.table) ?? new Set()).add(r.name.slice(-1)));
      for (const table of tables) expect([...(tracked.get(table) ?? [])].sort(), table).to.deep.equal(['d', 'i', 't', 'u']);
    } else {
      const rows = await t.db.raw("SELECT tbl_name AS \"table\", name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'data_revision_%'") as { table: string; name: string }[];
      for (const r of rows) tracked.set(r.table, (tracked.get(r.table) ?? new Set()).add(r.name.slice(-1)));
      for (const table of tables) expect([...(tracked.get(table) ?? [])].sort(), table).to.deep.equal(['d', 'i', 'u']);
    }
    // the sessions are written at every sign-in and are no page's data
    expect(tracked.has('sessions')).to.equal(false);
  });

  it('moves with a committed write, not with a rolled back one nor a statement that changed nothing', async () => {
    const start = await readRevision(t.db);
    await t.db('teams').insert({ name: 'Équipe du test de révision' });
    const afterInsert = await readRevision(t.db);
    expect(afterInsert).to.be.above(start);
    await t.db.transaction(async (trx) => {
      await trx('teams').where('name', 'Équipe du test de révision').update({ name: 'Renommée puis annulée' });
      throw new Error('annulée');
    }).catch(() => undefined);
    expect(await readRevision(t.db)).to.equal(afterInsert);
    await t.db('teams').where('id', -1).del();
    await t.db('teams').where('id', -1).update({ name: 'x' });
    expect(await readRevision(t.db)).to.equal(afterInsert);
    await t.db('teams').where('name', 'Équipe du test de révision').del();
    expect(await readRevision(t.db)).to.be.above(afterInsert);
  });

  it('stays the same when the pending changes are folded into the counter', async () => {
    await t.db('teams').insert({ name: 'Équipe pliée' });
    const before = await readRevision(t.db);
    await foldRevision(t.db);
    expect(await readRevision(t.db)).to.equal(before);
    expect(Number((await t.db('data_changes').count({ n: '*' }).first())!.n)).to.equal(0);
    await t.db('teams').where('name', 'Équipe pliée').update({ name: 'Équipe pliée, renommée' });
    expect(await readRevision(t.db)).to.be.above(before);
  });
});
