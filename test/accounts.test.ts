import { expect } from 'chai';
import { newSessionToken, sessionTokenOf } from '../src/data/accounts';
import { activeAdminIds, findUser, type User } from '../src/data/users';
import { getSecuritySettings } from '../src/data/security-settings';
import { type AccountInput, accountService, changePassword, passwordReused } from '../src/services/accounts';
import { aCommune, aTeam, aUser, BUILT_PASSWORD, type BuiltUser } from './builders';
import { ENGINE, freshApp, NOW, PG_URL, TEST_PASSWORDS, type TestApp } from './helpers';

/** The account rules without HTTP: the last active administrator, a commune administrator's reach, duplicates, sessions. */
describe(`account life cycle (${ENGINE})`, () => {
  let t: TestApp;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(() => t.close());

  const service = (db = t.db) => accountService({ db, passwords: TEST_PASSWORDS, mail: t.config.mail });
  const inputOf = (u: Pick<User, 'name' | 'email' | 'role' | 'communeId'>, changes: Partial<AccountInput> = {}): AccountInput =>
    ({ name: u.name, email: u.email, role: u.role, communeId: u.communeId, teamId: null, active: true, ...changes });

  /** A new administrator who is then the only active one: every other administrator becomes a viewer. */
  async function lastAdmin(): Promise<BuiltUser> {
    const me = await aUser().withRole('admin').insert(t.db);
    for (const id of await activeAdminIds(t.db)) {
      if (id === me.id) continue;
      const other = (await findUser(t.db, id))!;
      expect(await service().update(me, id, inputOf(other, { role: 'viewer' }), NOW)).to.deep.equal({ ok: true, id });
    }
    expect(await activeAdminIds(t.db)).to.deep.equal([me.id]);
    return me;
  }

  it('refuses to demote, suspend or remove the last active administrator, and writes nothing', async () => {
    const me = await lastAdmin();
    const refused = { ok: false, reason: 'invalid', problems: { role: 'last_admin' } };
    expect(await service().update(me, me.id, inputOf(me, { role: 'editor' }), NOW)).to.deep.equal(refused);
    expect(await service().update(me, me.id, inputOf(me, { active: false }), NOW)).to.deep.equal(refused);
    expect(await service().suspend(me, me.id, NOW)).to.deep.equal({ ok: false, reason: 'self' });
    // removal and suspension: by themself (their own account first), then by another account that is no administrator
    expect(await service().remove(me, me.id, NOW)).to.deep.equal({ ok: false, reason: 'self' });
    const editor = await aUser().withRole('editor').insert(t.db);
    expect(await service().remove(editor, me.id, NOW)).to.deep.equal({ ok: false, reason: 'last_admin' });
    expect(await service().suspend(editor, me.id, NOW)).to.deep.equal({ ok: false, reason: 'last_admin' });
    expect(await service().removalProblem(editor, (await findUser(t.db, me.id))!)).to.equal('last_admin');
    const row = (await findUser(t.db, me.id))!;
    expect({ role: row.role, active: row.active, anonymized: row.anonymizedAt }).to.deep.equal({ role: 'admin', active: true, anonymized: null });
    expect(await activeAdminIds(t.db)).to.deep.equal([me.id]);

    // with a second administrator, each change goes through
    const second = await aUser().withRole('admin').insert(t.db);
    expect(await service().update(second, me.id, inputOf(me, { active: false }), NOW)).to.deep.equal({ ok: true, id: me.id });
    expect(await service().update(second, me.id, inputOf(me, { active: true }), NOW)).to.deep.equal({ ok: true, id: me.id });
    expect(await service().suspend(second, me.id, NOW)).to.deep.equal({ ok: true });
    expect(await service().suspend(second, me.id, NOW)).to.deep.equal({ ok: false, reason: 'unchanged' });
    expect(await service().update(second, me.id, inputOf(me, { active: true }), NOW)).to.deep.equal({ ok: true, id: me.id });
    expect(await service().remove(second, me.id, NOW)).to.deep.equal({ ok: true });
    expect(await activeAdminIds(t.db)).to.deep.equal([second.id]);
  });

  it('leaves one active administrator when the last two demote each other at the same time', async () => {
    for (let round = 0; round < 3; round++) {
      const a = await lastAdmin();
      const b = await aUser().withRole('admin').insert(t.db);
      // on PostgreSQL two connections, as two servers would hold; SQLite (one writer at a time, a driver that blocks its
      // process while it waits for the lock) serialises the two on the app's connection
      const other = PG_URL ? t.openAnother() : t.db;
      // both connections open before the race, so that neither starts late
      await Promise.all([findUser(t.db, a.id), findUser(other, b.id)]);
      const results = await Promise.all([
        service().update(a, b.id, inputOf(b, { role: 'viewer' }), NOW),
        service(other).update(b, a.id, inputOf(a, { role: 'viewer' }), NOW),
      ]);
      expect(results.filter((r) => r.ok), JSON.stringify(results)).to.have.length(1);
      expect(results.filter((r) => !r.ok)).to.deep.equal([{ ok: false, reason: 'invalid', problems: { role: 'last_admin' } }]);
      const left = await activeAdminIds(t.db);
      expect(left).to.have.length(1);
      expect([a.id, b.id]).to.include(left[0]);
    }
  });

  it('ends the sessions of an account suspended, through its form or the suspension button', async () => {
    const admin = await aUser().withRole('admin').insert(t.db);
    for (const suspend of [
      (u: BuiltUser) => service().update(admin, u.id, inputOf(u, { active: false }), NOW),
      (u: BuiltUser) => service().suspend(admin, u.id, NOW),
    ]) {
      const viewer = await aUser().withRole('viewer').insert(t.db);
      await newSessionToken(t.db, viewer.id, NOW);
      expect(await sessionTokenOf(t.db, viewer.id)).to.be.a('string');
      expect((await suspend(viewer)).ok).to.equal(true);
      expect(await sessionTokenOf(t.db, viewer.id)).to.equal(null);
      expect((await findUser(t.db, viewer.id))!.active).to.equal(false);
    }
  });

  it('refuses a duplicate address whatever its case, and a commune agent without commune or with a team', async () => {
    const admin = await aUser().withRole('admin').insert(t.db);
    const viewer = await aUser().withRole('viewer').insert(t.db);
    const team = await aTeam().insert(t.db);
    const fresh = { name: 'Nouvel agent', email: 'nouvel.agent@test.example.org', role: 'commune' as const, communeId: null, teamId: team, active: true };
    expect(await service().create(admin, fresh, NOW)).to.deep.equal({ ok: false, reason: 'invalid', problems: { communeId: 'missing', teamId: 'commune_agent' } });
    expect(await service().create(admin, { ...fresh, role: 'viewer', email: viewer.email.toUpperCase(), teamId: null }, NOW)).to.deep.equal({ ok: false, reason: 'duplicate' });
    // a commune chosen for a Métropole role is not kept
    const commune = await aCommune().insert(t.db);
    const r = await service().create(admin, { ...fresh, role: 'viewer', communeId: commune, teamId: null }, NOW);
    expect(r.ok).to.equal(true);
    if (r.ok) expect((await findUser(t.db, r.id))!.communeId).to.equal(null);
  });

  describe('a commune administrator', () => {
    let commune: number;
    let dsi: BuiltUser;
    beforeEach(async () => {
      commune = await aCommune().insert(t.db);
      dsi = await aUser().withRole('commune_admin').inCommune(commune).insert(t.db);
    });

    it('creates agents of their own commune, with the commune role only', async () => {
      const r = await service().createCommuneAgent(dsi, { name: 'Agent Nouveau', email: 'agent.nouveau@test.example.org' }, NOW);
      expect(r.ok && r.link).to.match(/\/mot-de-passe\/[\w-]+$/);
      const created = (await t.db('users').where({ email: 'agent.nouveau@test.example.org' }).first());
      expect({ role: created.role, communeId: Number(created.commune_id) }).to.deep.equal({ role: 'commune', communeId: commune });
      // a commune administrator without commune, or another role, creates nobody
      const editor = await aUser().withRole('editor').insert(t.db);
      expect(await service().createCommuneAgent(editor, { name: 'X', email: 'x@test.example.org' }, NOW)).to.deep.equal({ ok: false, reason: 'forbidden' });
    });

    it('answers a duplicate address as a new one, creates nothing and tells the owner', async () => {
      const owner = await aUser().withRole('viewer').insert(t.db);
      const users = await t.db('users').count({ n: '*' }).first();
      const r = await service().createCommuneAgent(dsi, { name: 'Agent', email: owner.email.toUpperCase() }, NOW);
      expect(r.ok && r.link).to.match(/\/mot-de-passe\/[\w-]+$/);
      expect(Number((await t.db('users').count({ n: '*' }).first())!.n)).to.equal(Number(users!.n));
      expect(await t.db('outbox').where({ to_address: owner.email }).pluck('subject')).to.deep.equal(['Sécurité : une création de compte a été demandée avec votre adresse']);
      expect(await t.db('audit_log').where({ action: 'duplicate_account', entity_id: owner.id }).pluck('user_id')).to.deep.equal([dsi.id]);
    });

    it('suspends, reactivates and removes the agents of their commune, never another account', async () => {
      const agent = await aUser().withRole('commune').inCommune(commune).insert(t.db);
      await newSessionToken(t.db, agent.id, NOW);
      expect(await service().suspendCommuneAgent(dsi, agent.id, NOW)).to.deep.equal({ ok: true });
      expect((await findUser(t.db, agent.id))!.active).to.equal(false);
      expect(await sessionTokenOf(t.db, agent.id)).to.equal(null);
      expect(await service().reactivateCommuneAgent(dsi, agent.id, NOW)).to.deep.equal({ ok: true });
      expect((await findUser(t.db, agent.id))!.active).to.equal(true);

      const elsewhere = await aUser().withRole('commune').inCommune(await aCommune().insert(t.db)).insert(t.db);
      const peer = await aUser().withRole('commune_admin').inCommune(commune).insert(t.db);
      const metropole = await aUser().withRole('editor').insert(t.db);
      for (const target of [elsewhere, peer, metropole, dsi]) {
        expect(await service().suspendCommuneAgent(dsi, target.id, NOW), target.name).to.deep.equal({ ok: false, reason: 'forbidden' });
        expect(await service().removeCommuneAgent(dsi, target.id, NOW), target.name).to.deep.equal({ ok: false, reason: 'forbidden' });
        expect((await findUser(t.db, target.id))!).to.include({ active: true, anonymizedAt: null });
      }
      expect(await service().suspendCommuneAgent(dsi, 999_999, NOW)).to.deep.equal({ ok: false, reason: 'not_found' });

      expect(await service().removeCommuneAgent(dsi, agent.id, NOW)).to.deep.equal({ ok: true });
      expect((await findUser(t.db, agent.id))!.anonymizedAt).to.equal(NOW.toISOString());
      expect(await service().suspendCommuneAgent(dsi, agent.id, NOW)).to.deep.equal({ ok: false, reason: 'not_found' });
    });

    it('does not lift a suspension the Métropole decided', async () => {
      const admin = await aUser().withRole('admin').insert(t.db);
      const agent = await aUser().withRole('commune').inCommune(commune).insert(t.db);
      expect(await service().update(admin, agent.id, inputOf(agent, { active: false }), NOW)).to.deep.equal({ ok: true, id: agent.id });
      expect(await service().reactivateCommuneAgent(dsi, agent.id, NOW)).to.deep.equal({ ok: false, reason: 'suspended_by_metropole' });
      expect((await findUser(t.db, agent.id))!.active).to.equal(false);
    });

    it('cannot take over a suspension the Métropole decided by suspending the agent again', async () => {
      const admin = await aUser().withRole('admin').insert(t.db);
      const agent = await aUser().withRole('commune').inCommune(commune).insert(t.db);
      expect((await service().suspend(admin, agent.id, NOW)).ok).to.equal(true);
      // suspending an agent already suspended changes nothing and records nothing
      expect(await service().suspendCommuneAgent(dsi, agent.id, NOW)).to.deep.equal({ ok: true });
      expect(await t.db('audit_log').where({ action: 'suspend', entity_id: agent.id }).pluck('user_id')).to.deep.equal([admin.id]);
      expect(await service().reactivateCommuneAgent(dsi, agent.id, NOW)).to.deep.equal({ ok: false, reason: 'suspended_by_metropole' });
      expect((await findUser(t.db, agent.id))!.active).to.equal(false);
    });
  });

  it('creates an account with a typed password only when the policy accepts it (command line)', async () => {
    const cli = { id: null, name: 'Ligne de commande' };
    const input = { name: 'Alice Durand', email: 'alice.durand@test.example.org', role: 'admin' as const, communeId: null };
    const weak = await service().createWithPassword(cli, input, 'court', NOW);
    expect(weak).to.include({ ok: false, reason: 'weak_password' });
    const r = await service().createWithPassword(cli, input, 'une phrase de passe solide', NOW);
    expect(r.ok).to.equal(true);
    expect(await service().createWithPassword(cli, { ...input, email: input.email.toUpperCase() }, 'une phrase de passe solide', NOW)).to.deep.equal({ ok: false, reason: 'duplicate' });
  });

  it('hashes a new password in the service, keeps the former ones in the history and refuses them again', async () => {
    const user = await aUser().insert(t.db);
    const settings = await getSecuritySettings(t.db);
    const history = Math.max(settings.password.history, 1);
    expect(await passwordReused(t.db, TEST_PASSWORDS, user.id, BUILT_PASSWORD, history)).to.equal(true);
    await changePassword(t.db, TEST_PASSWORDS, user.id, 'une autre phrase de passe', settings, user, NOW, 'Mot de passe changé par son titulaire');
    const row = await t.db('users').where({ id: user.id }).first();
    expect(await TEST_PASSWORDS.verify(row.password_hash, 'une autre phrase de passe')).to.equal(true);
    expect(await passwordReused(t.db, TEST_PASSWORDS, user.id, BUILT_PASSWORD, history)).to.equal(true);
    expect(await passwordReused(t.db, TEST_PASSWORDS, user.id, 'jamais utilisée ici', history)).to.equal(false);
    expect(await passwordReused(t.db, TEST_PASSWORDS, user.id, BUILT_PASSWORD, 0)).to.equal(false);
  });
});
