import { expect } from 'chai';
import { getFiche, listFiches } from '../src/data/fiches';
import { getHomologation, homologationState, listMembers, reminderMonths } from '../src/data/homologations';
import { instances, milestones } from '../src/data/referentials';
import { listUsers } from '../src/data/users';
import { daysLeft, reminderDate } from '../src/domain/homologation';
import { perimeterLines } from '../src/domain/perimeter';
import { ACCOUNTS, freshApp, signIn, type TestApp, textOf } from './helpers';

/** The tests' clock, as a local date. */
const TODAY = '2026-03-16';

describe('demonstration plan', () => {
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(() => t.close());

  const stateOf = async (id: number) => homologationState((await getHomologation(t.db, id))!, TODAY, await reminderMonths(t.db));

  it('has the five fiches of the deck, each with steps, in homologation 1', async () => {
    const plan = (await getHomologation(t.db, 1))!;
    expect(plan.isDemo).to.equal(true);
    const fiches = await listFiches(t.db, 1, null);
    expect(fiches.map((f) => f.number)).to.deep.equal([1, 2, 3, 4, 5]);
    for (const f of fiches) expect(f.stepsTotal, `fiche ${f.number}`).to.be.greaterThan(0);
    expect(fiches.find((f) => f.number === 5)!.status).to.equal('fait');
  });

  it('keeps conclusions with counts, cost, owners per part of the scope and side effects by level', async () => {
    const byNumber = new Map((await listFiches(t.db, 1, null)).map((f) => [f.number, f.id]));
    const f1 = (await getFiche(t.db, byNumber.get(1)!))!;
    expect(f1.conclusionCounts.map((c) => `${c.count}/${c.total}`)).to.deep.equal(['52/84', '28/84', '3/84']);
    expect(f1.sideEffects.map((e) => e.level)).to.deep.equal(['fort', 'faible']);
    expect(f1.steps[0]!.status).to.equal('fait');
    const f3 = (await getFiche(t.db, byNumber.get(3)!))!;
    expect(f3.costAmount).to.equal(1500);
    expect(f3.sideEffects.some((e) => e.level === 'fort')).to.equal(true);
    const f4 = (await getFiche(t.db, byNumber.get(4)!))!;
    expect(f4.owners.map((o) => `${o.teamName}:${o.serviceName}`)).to.deep.equal(['SNU 1:Toodego', 'SNU 1:SAU', 'PWN:Intranet', 'PWN:Extranet']);
    const f2 = (await getFiche(t.db, byNumber.get(2)!))!;
    expect(f2.sideEffects).to.have.length(0);
    expect(f2.scopeAll).to.equal(false);
    expect(new Set(f2.scope.map((s) => s.serviceName))).to.deep.equal(new Set(['Intranet', 'Extranet']));
  });

  it('has the perimeter of the deck: 14 communal production instances and 16 test instances, all in homologation 1', async () => {
    const all = await instances.list(t.db);
    const lines = perimeterLines(all);
    const toodego = lines.find((l) => l.serviceName === 'Toodego')!;
    expect([toodego.prod, toodego.recette]).to.deep.equal([14, 16]);
    expect(toodego.communes).to.have.length(16);
    for (const name of ['Intranet', 'Extranet', 'SAU', 'Portail RH']) {
      const line = lines.find((l) => l.serviceName === name)!;
      expect([line.prod, line.recette], name).to.deep.equal([1, 1]);
    }
    const perimeter = async (planId: number) => (await t.db('plan_instances').where('plan_id', planId).select('instance_id')).map((r) => Number(r.instance_id)).sort((a, b) => a - b);
    const deckInstances = all.filter((i) => i.serviceName !== 'Portail RH').map((i) => i.id).sort((a, b) => a - b);
    expect(await perimeter(1)).to.deep.equal(deckInstances);
  });

  it('was decided about 33 months ago, under conditions, for 36 months: it expires soon and its 6- and 3-month reminders are due', async () => {
    const deck = (await getHomologation(t.db, 1))!;
    expect(deck.decision).to.include({ outcome: 'sous_conditions', decidedOn: '2023-06-11', endsOn: '2026-06-11', durationMonths: 36 });
    expect(await stateOf(1)).to.equal('expire_bientot');
    expect(daysLeft(deck.decision!.endsOn!, TODAY)).to.equal(87);
    const months = await reminderMonths(t.db);
    expect(months.filter((m) => reminderDate(deck.decision!.endsOn!, m) <= TODAY)).to.deep.equal([6, 3]);
    // the decision was taken at a held signature meeting, whose frozen agenda predates the fiches
    const meeting = await t.db('meetings').where('id', deck.decision!.meetingId!).first();
    expect(meeting).to.include({ kind: 'signature', starts_at: '2023-06-11T10:00' });
    expect(meeting.held_at).to.be.a('string');
    const sections: { key: string; fiches?: unknown[] }[] = JSON.parse(meeting.snapshot).sections;
    expect(sections.find((x) => x.key === 'plan')!.fiches).to.deep.equal([]);
    expect(sections.filter((x) => x.key === 'fiche')).to.deep.equal([]);
    // its conditions are followed as fiches: 2 (late) and 3
    const conditions = await t.db('fiches').where('condition_of', deck.decision!.id).orderBy('number').select('plan_id', 'number');
    expect(conditions.map((c) => [Number(c.plan_id), Number(c.number)])).to.deep.equal([[1, 2], [1, 3]]);
  });

  it('has its renewal in progress (homologation 2) with the unfinished fiches carried over, the done one left behind', async () => {
    const renewal = (await getHomologation(t.db, 2))!;
    expect(renewal.previousId).to.equal(1);
    expect((await getHomologation(t.db, 1))!.nextId).to.equal(2);
    expect(renewal.decision).to.equal(null);
    expect(renewal.archivedAt).to.equal(null);
    expect(await stateOf(2)).to.equal('en_cours');
    const carried = await t.db('fiches as f').join('fiches as origin', 'origin.id', 'f.carried_from_id').where('f.plan_id', 2).orderBy('f.number')
      .select('f.number', 'f.title', 'f.status', 'origin.plan_id as origin_plan', 'origin.number as origin_number', 'origin.title as origin_title');
    expect(carried.map((c) => [Number(c.number), Number(c.origin_plan), Number(c.origin_number)])).to.deep.equal([[1, 1, 1], [2, 1, 2], [3, 1, 3], [4, 1, 4]]);
    for (const c of carried) expect(c.title).to.equal(c.origin_title);
    expect(Number((await t.db('fiches').where('plan_id', 2).count({ n: '*' }).first())!.n)).to.equal(4);
    // the carried fiches keep their steps and scope; the old homologation keeps all of its own
    const [old3, new3] = await Promise.all([getFiche(t.db, (await t.db('fiches').where({ plan_id: 1, number: 3 }).first()).id), getFiche(t.db, (await t.db('fiches').where({ plan_id: 2, number: 3 }).first()).id)]);
    expect(new3!.steps.map((s) => [s.label, s.status])).to.deep.equal(old3!.steps.map((s) => [s.label, s.status]));
    expect(new3!.scope.map((s) => s.name)).to.deep.equal(old3!.scope.map((s) => s.name));
    expect((await listFiches(t.db, 1, null)).length).to.equal(5);
    expect(await t.db('plan_instances').where('plan_id', 2).count({ n: '*' }).first().then((r) => Number(r!.n)))
      .to.equal(await t.db('plan_instances').where('plan_id', 1).count({ n: '*' }).first().then((r) => Number(r!.n)));
  });

  it('has a second system in preparation (homologation 3, the HR portal): its own service, fiches and project team', async () => {
    const hr = (await getHomologation(t.db, 3))!;
    expect(hr.title).to.equal('Homologation du portail RH');
    expect(hr.previousId).to.equal(null);
    expect(hr.decision).to.equal(null);
    expect(await stateOf(3)).to.equal('en_cours');
    expect((await listFiches(t.db, 3, null)).map((f) => f.number)).to.deep.equal([1, 2, 3]);
    const services = await t.db('plan_instances').join('instances', 'instances.id', 'plan_instances.instance_id').join('services', 'services.id', 'instances.service_id')
      .where('plan_instances.plan_id', 3).distinct('services.name');
    expect(services.map((s) => s.name)).to.deep.equal(['Portail RH']);
    const members = await listMembers(t.db, 3);
    expect(members.map((m) => [m.email, m.role])).to.deep.include.members([[ACCOUNTS.editor, 'editor'], [ACCOUNTS.viewer, 'viewer']]);
    expect(await t.db('plans').count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(3);
  });

  it('shows the three homologations on the home page, and only those touching its instances to a commune agent', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const home = textOf((await admin.get('/homologations').expect(200)).text);
    expect(home).to.contain("Plan d'action de l'homologation RGS des téléservices").and.contain("Renouvellement de l'homologation RGS des téléservices")
      .and.contain('Homologation du portail RH').and.contain('Expire bientôt');
    const agent = await signIn(t.app, ACCOUNTS.commune);
    const own = textOf((await agent.get('/homologations').expect(200)).text);
    expect(own).to.contain("Renouvellement de l'homologation RGS des téléservices").and.not.contain('Homologation du portail RH');
  });

  it('has a calendar with milestones done and still to do, and one account per role', async () => {
    const list = await milestones.list(t.db);
    expect(list.filter((m) => m.done).length).to.be.greaterThan(0);
    expect(list.filter((m) => !m.done).length).to.be.greaterThan(0);
    expect(list.filter((m) => m.planId === 3).length).to.be.greaterThan(0);
    const roles = (await listUsers(t.db)).map((u) => u.role).sort();
    expect(roles).to.deep.equal(['admin', 'commune', 'commune_admin', 'editor', 'viewer']);
  });

  it('records progress notes with their authors, moving the statuses', async () => {
    const rows = await t.db('progress_notes').join('users', 'users.id', 'progress_notes.author_id').select('users.name', 'progress_notes.status_after');
    expect(rows.length).to.be.greaterThan(3);
    expect(rows.some((r) => r.status_after === 'bloque')).to.equal(true);
  });
});
