import { expect } from 'chai';
import request from 'supertest';
import { extractText, getDocumentProxy } from 'unpdf';
import { createApp } from '../src/app';
import { createFiche, type FicheInput } from '../src/data/fiches';
import { createMeeting } from '../src/data/meetings';
import { restrictAgenda } from '../src/domain/agenda';
import { conditionTitle, defaultRenewalTitle, lifecycleOf } from '../src/domain/lifecycle';
import type { Actor } from '../src/domain/roles';
import { ACCOUNTS, type Agent, csrfOf, ENGINE, formBody, freshApp, NOW, postForm, signIn, type TestApp, textOf, TEST_PASSWORDS } from './helpers';

// The life cycle of a homologation (issue 12): the decision and its end date, its conditions followed as fiches,
// the renewal, the replacement and the archive. The demo's homologation is decided on the clock's day, 16/03/2026.

/**
 * A homologation of its own, whatever the demo holds: the whole perimeter, a member, three fiches (one in progress
 * with steps, owners, a side effect, counts and part of the perimeter; one not started; one done) and a signature
 * meeting to come. Made with the data layer, as the forms would.
 */
async function target(t: TestApp) {
  const adminRow = await t.db('users').where({ email: ACCOUNTS.admin }).first();
  const editorRow = await t.db('users').where({ email: ACCOUNTS.editor }).first();
  const who: Actor = { id: Number(adminRow.id), name: adminRow.name, email: adminRow.email, role: 'admin', communeId: null };
  const [row] = await t.db('plans').insert({
    title: "Homologation d'essai", organisation: 'Métropole', reminder: 'Informer les communes.', is_demo: false, description: 'Pour les tests', created_at: NOW.toISOString(),
  }).returning('id');
  const hid = Number(typeof row === 'object' ? row.id : row);
  const instances = (await t.db('instances').orderBy('id').select('id')).map((i) => Number(i.id));
  await t.db('plan_instances').insert(instances.map((id) => ({ plan_id: hid, instance_id: id })));
  await t.db('plan_members').insert({ plan_id: hid, user_id: editorRow.id, role: 'editor' });
  const teams = (await t.db('teams').orderBy('id').select('id')).map((r) => Number(r.id));
  const base: FicheInput = {
    number: 1, title: '', finding: 'Constat.', targetDate: '2026-06-30', status: 'non_demarre', conclusion: '', conclusionCounts: [], costAmount: null,
    costSource: '', scopeAll: true, instanceIds: [], owners: [{ teamId: teams[0]!, serviceId: null }], steps: [], sideEffects: [],
  };
  const fiches: FicheInput[] = [
    {
      ...base, number: 1, title: 'Chiffrer les échanges', status: 'en_cours', scopeAll: false, instanceIds: instances.slice(0, 2),
      owners: [{ teamId: teams[0]!, serviceId: null }, { teamId: teams[1]!, serviceId: null }],
      steps: [{ id: null, position: 1, label: 'Inventorier', status: 'fait' }, { id: null, position: 2, label: 'Déployer', status: 'en_cours' }],
      sideEffects: [{ level: 'fort', description: 'Coupure de service' }], conclusionCounts: [{ count: 3, total: 8, label: 'flux chiffrés' }],
    },
    { ...base, number: 2, title: 'Journaliser les accès' },
    { ...base, number: 3, title: 'Mettre à jour les serveurs', status: 'fait', steps: [{ id: null, position: 1, label: 'Mettre à jour', status: 'fait' }] },
  ];
  for (const f of fiches) expect((await createFiche(t.db, hid, f, who, NOW)).ok).to.equal(true);
  const meeting = await createMeeting(t.db, hid, {
    title: 'Commission d\'homologation', kind: 'signature', startsAt: '2026-03-16T14:00', endsAt: '2026-03-16T16:00', place: 'Salle du conseil', visioUrl: '',
    objective: '', reminder: '', questions: '', coversAll: true, ficheIds: [], attendees: [],
  }, who, NOW);
  return { hid, meeting };
}

const decision = {
  outcome: 'homologuee', authority: 'Mme la Présidente de la Métropole', authorityEmail: 'presidente@metropole.example.org',
  decidedOn: '2026-03-16', durationMonths: '12', endsOn: '',
};

function decide(agent: Agent, hid: number, meeting: number, fields: Record<string, unknown>) {
  return postForm(agent, `/homologations/${hid}/seances/${meeting}`, `/homologations/${hid}/seances/${meeting}/signature`, { ...decision, ...fields });
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');

const count = async (t: TestApp, table: string, where: Record<string, unknown> = {}) => Number((await t.db(table).where(where).count({ n: '*' }).first())!.n);

/** A signature meeting covering every fiche of a homologation, created through the form. */
async function signatureMeeting(agent: Agent, hid: number): Promise<number> {
  const res = await postForm(agent, `/homologations/${hid}/seances/nouvelle`, `/homologations/${hid}/seances`, {
    title: 'Signature du renouvellement', kind: 'signature', date: '2026-04-20', startTime: '10:00', endTime: '11:00', place: 'Salle 2', visioUrl: '',
    objective: '', reminder: '', questions: '', coverage: 'all',
  });
  expect(res.status, res.text).to.equal(303);
  return Number(/\/seances\/(\d+)/.exec(res.headers.location!)![1]);
}

describe(`the homologation's life cycle (${ENGINE})`, () => {
  let t: TestApp;
  let editor: Agent;
  beforeEach(async () => {
    t = await freshApp();
    editor = await signIn(t.app, ACCOUNTS.editor);
  });
  afterEach(() => t.close());

  describe('the decision', () => {
    it('sets the state and the end date: the decision date plus the duration, or the end date given', async () => {
      const { hid, meeting } = await target(t);
      expect(textOf((await editor.get(`/homologations/${hid}`)).text)).to.contain("Plan d'action en cours — étape actuelle");
      const res = await decide(editor, hid, meeting, {});
      expect(res.status).to.equal(303);
      const saved = await t.db('signatures').where({ plan_id: hid }).first();
      expect(saved).to.include({ outcome: 'homologuee', ends_on: '2027-03-16', decided_on: '2026-03-16', authority_email: 'presidente@metropole.example.org' });
      expect(Boolean(saved.signed)).to.equal(true);
      const audit = await t.db('audit_log').where({ entity_type: 'signature', entity_id: saved.id }).first();
      expect(audit.summary).to.contain('Homologuée');
      const page = textOf((await editor.get(`/homologations/${hid}`)).text);
      expect(page).to.contain('État : En vigueur').and.contain('Fin de validité : 16/03/2027 (expire dans 365 jours)');
      expect(page).to.contain('En vigueur — étape actuelle').and.contain("Plan d'action en cours — franchie");

      // a correction: the latest decision counts, its end date set by the authority
      expect((await decide(editor, hid, meeting, { durationMonths: '24', endsOn: '2027-12-31' })).status).to.equal(303);
      const latest = await t.db('signatures').where({ plan_id: hid }).orderBy('id', 'desc').first();
      expect(latest.ends_on).to.equal('2027-12-31');
      expect(textOf((await editor.get(`/homologations/${hid}`)).text)).to.contain('Fin de validité : 31/12/2027');
    });

    it('refuses more than 36 months, an end date before the decision or beyond 36 months: 422, input kept, nothing saved', async () => {
      const { hid, meeting } = await target(t);
      const before = await count(t, 'signatures');
      const long = await decide(editor, hid, meeting, { durationMonths: '37', authority: 'Autorité gardée' });
      expect(long.status).to.equal(422);
      expect(textOf(long.text)).to.contain("La durée d'une homologation ne peut dépasser 36 mois (3 ans).");
      expect(long.text).to.contain('id="signature-durationMonths-error"').and.contain('value="37"').and.contain('value="Autorité gardée"');
      expect(long.text).to.match(/id="outcome-homologuee" name="outcome" value="homologuee"\s+checked/);
      const early = await decide(editor, hid, meeting, { endsOn: '2026-03-01' });
      expect(early.status).to.equal(422);
      expect(textOf(early.text)).to.contain('La date de fin doit être postérieure à la date de la décision.');
      expect(early.text).to.contain('id="signature-endsOn-error"').and.contain('value="2026-03-01"');
      const beyond = await decide(editor, hid, meeting, { endsOn: '2029-03-17' });
      expect(beyond.status).to.equal(422);
      expect(textOf(beyond.text)).to.contain('le 16/03/2029 au plus tard');
      const noOutcome = await decide(editor, hid, meeting, { outcome: '' });
      expect(noOutcome.status).to.equal(422);
      expect(noOutcome.text).to.contain('id="signature-outcome-error"');
      const badEmail = await decide(editor, hid, meeting, { authorityEmail: 'pas-une-adresse' });
      expect(badEmail.status).to.equal(422);
      expect(badEmail.text).to.contain('id="signature-authorityEmail-error"');
      expect(await count(t, 'signatures')).to.equal(before);
    });

    it('records a refusal: state "refusée", no duration and no end date', async () => {
      const { hid, meeting } = await target(t);
      expect((await decide(editor, hid, meeting, { outcome: 'refusee', durationMonths: '', endsOn: '' })).status).to.equal(303);
      const saved = await t.db('signatures').where({ plan_id: hid }).first();
      expect(saved).to.include({ outcome: 'refusee', ends_on: null, duration_months: null });
      expect(Boolean(saved.signed)).to.equal(false);
      const page = textOf((await editor.get(`/homologations/${hid}`)).text);
      expect(page).to.contain('État : Décision : refusée').and.contain('Décision : homologation refusée — étape actuelle').and.not.contain('Fin de validité');
    });
  });

  describe('conditions', () => {
    it('makes each condition a fiche with its owner and target date; a late one is shown on the page and in the next agenda', async () => {
      const { hid, meeting } = await target(t);
      const team = await t.db('teams').orderBy('name').first();
      const lastNumber = Number((await t.db('fiches').where({ plan_id: hid }).max({ n: 'number' }).first())!.n);

      // none given: refused; "Ajouter une condition" adds a row without saving anything
      const none = await decide(editor, hid, meeting, { outcome: 'sous_conditions' });
      expect(none.status).to.equal(422);
      expect(textOf(none.text)).to.contain('Indiquez au moins une condition');
      const more = await decide(editor, hid, meeting, { outcome: 'sous_conditions', _action: 'add_condition', conditions: [{ text: 'Gardée', teamId: '', targetDate: '' }] });
      expect(more.status).to.equal(200);
      expect(more.text).to.contain('value="Gardée"').and.contain('id="signature-conditions-1-text"').and.not.contain('id="signature-conditions-2-text"');
      const missingText = await decide(editor, hid, meeting, { outcome: 'sous_conditions', conditions: [{ text: '', teamId: String(team.id), targetDate: '2026-06-30' }] });
      expect(missingText.status).to.equal(422);
      expect(missingText.text).to.contain('id="signature-conditions-0-text-error"');
      expect(await count(t, 'signatures', { plan_id: hid })).to.equal(0);

      // a held meeting's frozen agenda will not change
      const held = await signatureMeeting(editor, hid);
      expect((await postForm(editor, `/homologations/${hid}/seances/${held}`, `/homologations/${hid}/seances/${held}/tenir`, {})).status).to.equal(303);

      const res = await decide(editor, hid, meeting, {
        outcome: 'sous_conditions', durationMonths: '24',
        conditions: [
          { text: 'Chiffrer les sauvegardes des instances de production avant le premier mars.', teamId: String(team.id), targetDate: '2026-03-01' },
          { text: '', teamId: '', targetDate: '' },
          { text: 'Réaliser un test d’intrusion sur Toodego.', teamId: '', targetDate: '2026-09-30' },
        ],
      });
      expect(res.status, textOf(res.text)).to.equal(303);
      const signature = await t.db('signatures').where({ plan_id: hid }).first();
      const fiches = await t.db('fiches').where({ condition_of: signature.id }).orderBy('number');
      expect(fiches.map((f) => Number(f.number))).to.deep.equal([lastNumber + 1, lastNumber + 2]);
      expect(fiches[0]).to.include({ plan_id: hid, target_date: '2026-03-01', status: 'non_demarre', finding: 'Chiffrer les sauvegardes des instances de production avant le premier mars.' });
      expect(fiches[0].title).to.match(/^Condition : Chiffrer les sauvegardes/);
      expect(Boolean(fiches[0].scope_all)).to.equal(true);
      expect((await t.db('fiche_owners').where({ fiche_id: fiches[0].id })).map((o) => Number(o.team_id))).to.deep.equal([Number(team.id)]);
      expect(await t.db('audit_log').where({ entity_type: 'fiche', entity_id: fiches[0].id, action: 'create' }).first()).to.not.equal(undefined);

      const page = textOf((await editor.get(`/homologations/${hid}`)).text);
      expect(page).to.contain('Conditions en retard (1)').and.contain(`Fiche n°${lastNumber + 1} : Condition : Chiffrer les sauvegardes`);
      expect(page.slice(page.indexOf('Conditions en retard'), page.indexOf('Conditions de la décision'))).not.to.contain('test d’intrusion');
      const fichePage = textOf((await editor.get(`/homologations/${hid}/fiches/${fiches[0].id}`)).text);
      expect(fichePage).to.contain('Condition de la décision du 16/03/2026');

      // the live agenda reports them before the fiches' detail; a held meeting's frozen agenda does not change
      const agenda = (await editor.get(`/homologations/${hid}/seances/${meeting}/ordre-du-jour`).expect(200)).text;
      const headings = [...agenda.matchAll(/<h2 class="fr-h4">([^<:]+)/g)].map((m) => m[1]!.trim());
      const at = headings.indexOf('Conditions de l&#39;homologation');
      expect(at).to.be.greaterThan(-1);
      expect(at).to.equal(headings.findIndex((h) => h.startsWith('Détail de la fiche action')) - 1);
      const text = textOf(agenda);
      expect(text).to.contain(`Fiche n°${lastNumber + 1} : Chiffrer les sauvegardes des instances de production avant le premier mars. — Non démarré, date cible 01/03/2026 — en retard`);
      expect(text).to.contain('dont 1 en retard');
      expect(textOf((await editor.get(`/homologations/${hid}/seances/${held}/ordre-du-jour`)).text)).not.to.contain("Conditions de l'homologation");

      const pdf = await editor.get(`/homologations/${hid}/seances/${meeting}/ordre-du-jour.pdf`).buffer(true).parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
      const { text: pages } = await extractText(await getDocumentProxy(new Uint8Array(pdf.body as Buffer)), { mergePages: false });
      // lines joined: where a line breaks depends on the identity's font
      expect(pages.find((p) => p.includes("Conditions de l'homologation") && p.includes('Décision :'))?.replace(/\s+/g, ' ')).to.contain('dont 1 en retard');

      // once done, it is no longer late
      await postForm(editor, `/homologations/${hid}/fiches/${fiches[0].id}`, `/homologations/${hid}/fiches/${fiches[0].id}/notes`, { body: 'Sauvegardes chiffrées.', notedOn: '2026-03-16', status: 'fait' });
      expect(textOf((await editor.get(`/homologations/${hid}`)).text)).not.to.contain('Conditions en retard');
    });
  });

  describe('renewal', () => {
    it('creates the next homologation with the unfinished fiches only, linked to where they come from; done fiches stay', async () => {
      const { hid } = await target(t);
      const old = await t.db('plans').where({ id: hid }).first();
      const oldFiches = await t.db('fiches').where({ plan_id: hid }).orderBy('number');
      const unfinished = oldFiches.filter((f) => f.status !== 'fait');
      expect(unfinished.length).to.be.lessThan(oldFiches.length);
      const viewer = await signIn(t.app, ACCOUNTS.viewer);
      expect(textOf((await viewer.get(`/homologations/${hid}`)).text)).not.to.contain('Préparer le renouvellement');
      const page = await editor.get(`/homologations/${hid}`);
      expect(page.text).to.contain(`value="${escapeHtml(old.title)} — renouvellement 2026"`);

      const res = await postForm(editor, `/homologations/${hid}`, `/homologations/${hid}/renouveler`, { title: 'Renouvellement 2026' });
      expect(res.status).to.equal(303);
      const id = Number(/^\/homologations\/(\d+)$/.exec(res.headers.location!)![1]);
      const renewal = await t.db('plans').where({ id }).first();
      expect(renewal).to.include({ title: 'Renouvellement 2026', organisation: old.organisation, reminder: old.reminder, previous_id: hid, archived_at: null });
      expect(await count(t, 'plan_instances', { plan_id: id })).to.equal(await count(t, 'plan_instances', { plan_id: hid }));
      expect(await count(t, 'plan_members', { plan_id: id })).to.equal(await count(t, 'plan_members', { plan_id: hid }));

      const carried = await t.db('fiches').where({ plan_id: id }).orderBy('number');
      expect(carried.map((f) => [Number(f.number), Number(f.carried_from_id), f.title, f.status])).to.deep.equal(unfinished.map((f) => [Number(f.number), Number(f.id), f.title, f.status]));
      for (const f of carried) {
        for (const table of ['steps', 'side_effects', 'conclusion_counts', 'fiche_owners', 'fiche_instances']) {
          expect(await count(t, table, { fiche_id: f.id }), `${table} of fiche ${f.number}`).to.equal(await count(t, table, { fiche_id: f.carried_from_id }));
        }
      }
      // the old one is as it was
      expect(await count(t, 'fiches', { plan_id: hid })).to.equal(oldFiches.length);
      expect((await t.db('plans').where({ id: hid }).first()).archived_at).to.equal(null);
      expect(await t.db('audit_log').where({ entity_type: 'plan', entity_id: id, action: 'create' }).first()).to.not.equal(undefined);

      // the links, both ways, and from a carried fiche to the fiche it continues
      expect(textOf((await editor.get(`/homologations/${id}`)).text)).to.contain(`Renouvelle l'homologation « ${old.title} »`);
      expect(textOf((await editor.get(`/homologations/${hid}`)).text)).to.contain('Renouvellement : « Renouvellement 2026 »').and.not.contain('Préparer le renouvellement');
      const fiche = textOf((await editor.get(`/homologations/${id}/fiches/${carried[0].id}`)).text);
      expect(fiche).to.contain(`Reprise de la fiche n°${carried[0].number} de « ${old.title} »`);

      // twice: refused, the name typed kept, still one renewal
      const again = await postForm(editor, `/homologations/${hid}/renouveler`, `/homologations/${hid}/renouveler`, { title: 'Deuxième essai' });
      expect(again.status).to.equal(409);
      expect(textOf(again.text)).to.contain('Cette homologation a déjà un renouvellement : « Renouvellement 2026 ».');
      expect(again.text).to.contain('value="Deuxième essai"');
      expect(await count(t, 'plans', { previous_id: hid })).to.equal(1);
    });

    it('makes exactly one renewal out of two concurrent requests through two app processes', async () => {
      const { hid } = await target(t);
      const second = createApp({ db: t.openAnother(), config: t.config, now: () => NOW, passwords: TEST_PASSWORDS });
      // another account: signing in again elsewhere would end the first session
      const agents = [editor, await signIn(second, ACCOUNTS.admin)];
      const tokens = await Promise.all(agents.map(async (a) => csrfOf((await a.get(`/homologations/${hid}`)).text)));
      const results = await Promise.all(agents.map((a, i) => a.post(`/homologations/${hid}/renouveler`).type('form').send(formBody({ _csrf: tokens[i], title: `Essai ${i}` }))));
      expect(results.map((r) => r.status).sort()).to.deep.equal([303, 409]);
      expect(await count(t, 'plans', { previous_id: hid })).to.equal(1);
    });

    it('is for those who edit: a reader gets 403 and nothing is created', async () => {
      const { hid } = await target(t);
      const viewer = await signIn(t.app, ACCOUNTS.viewer);
      const before = await count(t, 'plans');
      expect((await postForm(viewer, `/homologations/${hid}`, `/homologations/${hid}/renouveler`, { title: 'Non' })).status).to.equal(403);
      expect((await viewer.get(`/homologations/${hid}/renouveler`)).status).to.equal(403);
      const commune = await signIn(t.app, ACCOUNTS.commune);
      expect((await postForm(commune, `/homologations/${hid}`, `/homologations/${hid}/renouveler`, { title: 'Non' })).status).to.equal(403);
      expect(await count(t, 'plans')).to.equal(before);
      const empty = await postForm(editor, `/homologations/${hid}`, `/homologations/${hid}/renouveler`, { title: ' ' });
      expect(empty.status).to.equal(422);
      expect(empty.text).to.contain('id="title-error"');
      expect(await count(t, 'plans')).to.equal(before);
    });

    it('is allowed on an expired homologation, which takes no more decisions', async () => {
      const { hid, meeting } = await target(t);
      expect((await decide(editor, hid, meeting, { decidedOn: '2023-01-10', durationMonths: '36' })).status).to.equal(303);
      const page = textOf((await editor.get(`/homologations/${hid}`)).text);
      expect(page).to.contain('État : Expirée').and.contain('Cette homologation a expiré');
      const before = await count(t, 'signatures');
      const refused = await decide(editor, hid, meeting, { decidedOn: '2026-03-16' });
      expect(refused.status).to.equal(409);
      expect(textOf(refused.text)).to.contain('archivée ou expirée');
      expect(await count(t, 'signatures')).to.equal(before);
      expect((await postForm(editor, `/homologations/${hid}`, `/homologations/${hid}/renouveler`, { title: 'Après expiration' })).status).to.equal(303);
    });
  });

  describe('replacement and archive', () => {
    it('archives the renewed homologation as replaced when its renewal is decided, and closes its open reminders', async () => {
      const { hid, meeting } = await target(t);
      expect((await decide(editor, hid, meeting, { decidedOn: '2023-06-01', durationMonths: '36' })).status).to.equal(303);
      const signature = await t.db('signatures').where({ plan_id: hid }).first();
      await t.db('expiry_reminders').insert([
        { plan_id: hid, signature_id: signature.id, months_before: 6, ends_on: signature.ends_on, created_at: '2025-12-01T08:00:00.000Z', closed_at: null },
        { plan_id: hid, signature_id: signature.id, months_before: 3, ends_on: signature.ends_on, created_at: '2026-03-01T08:00:00.000Z', closed_at: null },
      ]);
      const renewed = await postForm(editor, `/homologations/${hid}`, `/homologations/${hid}/renouveler`, { title: 'Renouvellement' });
      const id = Number(/(\d+)$/.exec(renewed.headers.location!)![1]);
      const next = await signatureMeeting(editor, id);
      // a refusal of the renewal replaces nothing
      expect((await decide(editor, id, next, { outcome: 'refusee' })).status).to.equal(303);
      expect((await t.db('plans').where({ id: hid }).first()).archived_at).to.equal(null);
      expect((await decide(editor, id, next, { outcome: 'provisoire', durationMonths: '6' })).status).to.equal(303);
      const old = await t.db('plans').where({ id: hid }).first();
      expect(old.archived_at).to.equal(NOW.toISOString());
      expect(old.archived_reason).to.equal('remplacee');
      expect((await t.db('expiry_reminders').where({ plan_id: hid })).map((r) => r.closed_at)).to.deep.equal([NOW.toISOString(), NOW.toISOString()]);
      expect(await t.db('audit_log').where({ entity_type: 'plan', entity_id: hid, action: 'update' }).first()).to.not.equal(undefined);
      const page = textOf((await editor.get(`/homologations/${hid}`)).text);
      expect(page).to.contain('État : Archivée').and.contain('remplacée par son renouvellement');
    });

    it('makes an archived homologation read-only but readable: every write 409, nothing changed', async () => {
      const { hid, meeting } = await target(t);
      const admin = await signIn(t.app, ACCOUNTS.admin);
      expect((await editor.get(`/homologations/${hid}/archiver`)).status).to.equal(403);
      expect((await postForm(editor, `/homologations/${hid}`, `/homologations/${hid}/archiver`, {})).status).to.equal(403);
      expect(textOf((await admin.get(`/homologations/${hid}/archiver`).expect(200)).text)).to.contain('reste consultable');
      expect((await postForm(admin, `/homologations/${hid}/archiver`, `/homologations/${hid}/archiver`, {})).status).to.equal(303);
      const archived = await t.db('plans').where({ id: hid }).first();
      expect(archived.archived_reason).to.equal('manuel');

      const fiche = await t.db('fiches').where({ plan_id: hid }).orderBy('number').first();
      const snapshot = async () => ({
        fiche: await t.db('fiches').where({ id: fiche.id }).first(),
        notes: await count(t, 'progress_notes'), meetings: await count(t, 'meetings'), signatures: await count(t, 'signatures'), plans: await count(t, 'plans'),
      });
      const before = await snapshot();
      const writes = [
        () => postForm(editor, `/homologations/${hid}/fiches/${fiche.id}`, `/homologations/${hid}/fiches/${fiche.id}`, { number: String(fiche.number), title: 'Changée', version: String(fiche.version) }),
        () => postForm(editor, `/homologations/${hid}/fiches/${fiche.id}`, `/homologations/${hid}/fiches/${fiche.id}/notes`, { body: 'Non', notedOn: '2026-03-16', status: 'fait' }),
        () => postForm(editor, `/homologations/${hid}/seances`, `/homologations/${hid}/seances`, { title: 'Non', kind: 'suivi', date: '2026-04-20', startTime: '10:00', endTime: '11:00', place: 'Salle', coverage: 'all' }),
        () => decide(editor, hid, meeting, {}),
        () => postForm(admin, `/homologations/${hid}`, `/homologations/${hid}/archiver`, {}),
        () => postForm(editor, `/homologations/${hid}`, `/homologations/${hid}/renouveler`, { title: 'Non' }),
      ];
      const results = [];
      for (const write of writes) results.push(await write());
      expect(results.map((r) => r.status)).to.deep.equal([409, 409, 409, 409, 409, 409]);
      expect(textOf(results[0]!.text)).to.contain('archivée ou expirée');
      expect(textOf(results[4]!.text)).to.contain('Cette homologation est déjà archivée.');
      expect(textOf(results[5]!.text)).to.contain('Cette homologation est archivée : elle ne peut plus être renouvelée.');
      expect(await snapshot()).to.deep.equal(before);

      // still readable, whole
      const page = textOf((await editor.get(`/homologations/${hid}`).expect(200)).text);
      expect(page).to.contain('État : Archivée').and.contain('Homologation archivée le 16/03/2026');
      await editor.get(`/homologations/${hid}/fiches/${fiche.id}`).expect(200);
      const meetingPage = textOf((await editor.get(`/homologations/${hid}/seances/${meeting}`).expect(200)).text);
      expect(meetingPage).to.contain('Cette homologation est archivée : aucune décision ne peut plus y être enregistrée.');
      expect(meetingPage).not.to.contain("Enregistrer la décision d'homologation");
    });

    it('deletes only an empty draft, for administrators; anything else is archived, never deleted', async () => {
      const { hid } = await target(t);
      const admin = await signIn(t.app, ACCOUNTS.admin);
      const full = await postForm(admin, `/homologations/${hid}`, `/homologations/${hid}/supprimer`, {});
      expect(full.status).to.equal(409);
      expect(textOf(full.text)).to.contain("Une homologation n'est jamais supprimée : archivez-la.");
      expect(await count(t, 'plans', { id: hid })).to.equal(1);
      expect(textOf((await admin.get(`/homologations/${hid}/supprimer`).expect(200)).text)).to.contain("n'est jamais supprimée").and.not.contain('Supprimer définitivement');

      const [row] = await t.db('plans').insert({ title: 'Brouillon', organisation: 'Métropole', reminder: '', is_demo: false, description: '', created_at: NOW.toISOString() }).returning('id');
      const draft = Number(typeof row === 'object' ? row.id : row);
      await t.db('plan_instances').insert((await t.db('plan_instances').where({ plan_id: hid }).limit(2)).map((r) => ({ plan_id: draft, instance_id: r.instance_id })));
      expect((await postForm(editor, `/homologations/${draft}`, `/homologations/${draft}/supprimer`, {})).status).to.equal(403);
      expect(textOf((await admin.get(`/homologations/${draft}`)).text)).to.contain('Supprimer ce brouillon vide');
      const ok = await postForm(admin, `/homologations/${draft}/supprimer`, `/homologations/${draft}/supprimer`, {});
      expect(ok.status).to.equal(303);
      expect(ok.headers.location).to.equal('/homologations');
      expect(await count(t, 'plans', { id: draft })).to.equal(0);
      expect(await count(t, 'plan_instances', { plan_id: draft })).to.equal(0);
      expect(await t.db('audit_log').where({ entity_type: 'plan', entity_id: draft, action: 'delete' }).first()).to.not.equal(undefined);
      expect((await request(t.app).get(`/homologations/${draft}`)).status).to.not.equal(200);
    });
  });
});

describe('the life cycle, as computed', () => {
  const decided = (outcome: 'homologuee' | 'refusee', endsOn: string | null) => ({ outcome, decidedOn: '2025-01-01', endsOn });

  it('places a homologation on its line, an archived one where it stood', () => {
    const at = (facts: Parameters<typeof lifecycleOf>[0]) => {
      const l = lifecycleOf(facts, '2026-03-16', [6, 3, 1, 0]);
      return [l.current, l.steps[l.current]!.label, l.archived];
    };
    expect(at({ archivedAt: null, ficheCount: 0, decision: null })).to.deep.equal([0, 'En préparation', false]);
    expect(at({ archivedAt: null, ficheCount: 2, decision: null })).to.deep.equal([1, "Plan d'action en cours", false]);
    expect(at({ archivedAt: null, ficheCount: 2, decision: decided('refusee', null) })).to.deep.equal([2, 'Décision : homologation refusée', false]);
    expect(at({ archivedAt: null, ficheCount: 2, decision: decided('homologuee', '2027-12-31') })).to.deep.equal([3, 'En vigueur', false]);
    expect(at({ archivedAt: null, ficheCount: 2, decision: decided('homologuee', '2026-06-01') })).to.deep.equal([4, 'Expire bientôt', false]);
    expect(at({ archivedAt: null, ficheCount: 2, decision: decided('homologuee', '2026-03-15') })).to.deep.equal([5, 'Expirée', false]);
    expect(at({ archivedAt: '2026-03-01T00:00:00.000Z', ficheCount: 2, decision: decided('homologuee', '2026-06-01') })).to.deep.equal([4, 'Expire bientôt', true]);
    const steps = lifecycleOf({ archivedAt: null, ficheCount: 2, decision: decided('homologuee', '2027-12-31') }, '2026-03-16', [6]).steps;
    expect(steps.map((s) => s.status)).to.deep.equal(['done', 'done', 'done', 'current', 'todo', 'todo']);
  });

  it('names condition fiches and renewals within the length of a title', () => {
    expect(conditionTitle('Chiffrer   les sauvegardes')).to.equal('Condition : Chiffrer les sauvegardes');
    const long = conditionTitle(`${'mot '.repeat(60)}fin`);
    expect(long.length).to.be.at.most(133);
    expect(long).to.match(/^Condition : mot( mot)+…$/);
    expect(defaultRenewalTitle('Portail', '2026-03-16')).to.equal('Portail — renouvellement 2026');
    expect(defaultRenewalTitle('x'.repeat(200), '2026-03-16')).to.have.length(200);
  });

  it("keeps a commune's agenda to the conditions it may see", () => {
    const item = (ficheId: number) => ({ ficheId, number: ficheId, title: `Condition ${ficheId}`, text: 'texte', status: 'Non démarré', targetDate: '—', late: false, owner: '—' });
    const agenda = {
      organisation: 'M', planTitle: 'P', meetingTitle: 'S', when: '', dateShort: '', place: '', previousMeeting: null, generatedAt: '',
      sections: [{ key: 'conditions' as const, title: "Conditions de l'homologation", decision: 'Homologuée', items: [item(6), item(7)] }],
    };
    const seen = restrictAgenda(agenda, { ficheIds: new Set([7]), communeName: null });
    expect(seen.sections).to.deep.equal([{ ...agenda.sections[0], items: [item(7)] }]);
    expect(restrictAgenda(agenda, { ficheIds: new Set([1]), communeName: null }).sections).to.deep.equal([]);
  });
});
