import { expect } from 'chai';
import type { Knex } from 'knex';
import { getFiche, listNotes, scopeInstanceIds, updateFiche } from '../src/data/fiches';
import { communes } from '../src/data/referentials';
import { findUser } from '../src/data/users';
import { answerLines, answerState, communeStepsPhrase, sameWording, wordingFingerprint } from '../src/domain/commune-answers';
import { restrictAgenda } from '../src/domain/agenda';
import { communeDigest, renderDigest } from '../src/services/digests';
import { liveAgenda } from '../src/services/agenda';
import { getHomologation } from '../src/data/homologations';
import { getMeeting } from '../src/data/meetings';
import { mailBrand } from '../src/domain/identity';
import { readIdentity } from '../src/data/identity';
import { renderAgendaPdf } from '../src/agenda/pdf';
import { signedIn } from './builders';
import { ACCOUNTS, type Agent, csrfOf, ENGINE, ficheIdByNumber, formBody, freshApp, NOW, signIn, type TestApp, textOf } from './helpers';

/** Posts a form of the page `pageUrl` (its CSRF token) to `actionUrl`. */
async function post(agent: Agent, pageUrl: string, actionUrl: string, fields: Record<string, unknown>) {
  const page = await agent.get(pageUrl).expect(200);
  return agent.post(actionUrl).type('form').send(formBody({ _csrf: csrfOf(page.text), ...fields }));
}

/** The demo's communes by name. */
async function communeIds(db: Knex): Promise<Record<string, number>> {
  return Object.fromEntries((await communes.list(db)).map((c) => [c.name, c.id]));
}

/** Saves a fiche as the project team would, with its strong side effects reworded. */
async function rewordStrongEffect(t: TestApp, ficheId: number, description: string) {
  const fiche = (await getFiche(t.db, ficheId))!;
  const editorRow = await t.db('users').where({ email: ACCOUNTS.editor }).first();
  const editor = (await findUser(t.db, Number(editorRow.id)))!;
  const saved = await updateFiche(t.db, ficheId, fiche.version, {
    number: fiche.number, title: fiche.title, finding: fiche.finding, targetDate: fiche.targetDate, status: fiche.status, conclusion: fiche.conclusion,
    conclusionCounts: fiche.conclusionCounts, costAmount: fiche.costAmount, costSource: fiche.costSource, scopeAll: fiche.scopeAll,
    instanceIds: await scopeInstanceIds(t.db, ficheId), owners: fiche.owners.map((o) => ({ teamId: o.teamId, serviceId: o.serviceId })),
    steps: fiche.steps.map((s) => ({ id: s.id, position: s.position, label: s.label, status: s.status, forCommunes: s.forCommunes })),
    sideEffects: fiche.sideEffects.map((e) => (e.level === 'fort' ? { level: e.level, description } : { level: e.level, description: e.description })),
  }, editor, NOW);
  expect(saved.ok, JSON.stringify(saved)).to.equal(true);
}

describe(`co-management: what a commune answers for its own instances (${ENGINE})`, function () {
  this.timeout(60_000);
  let t: TestApp;
  let ids: Record<string, number>;
  let fiche1: number;
  let fiche2: number;
  let fiche3: number;
  let communeStep: number;
  let villeurbanne: Agent;
  let bron: Agent;
  let editor: Agent;
  const hom = '/homologations/1';

  before(async () => {
    t = await freshApp();
    ids = await communeIds(t.db);
    [fiche1, fiche2, fiche3] = [await ficheIdByNumber(t.db, 1), await ficheIdByNumber(t.db, 2), await ficheIdByNumber(t.db, 3)];
    communeStep = Number((await t.db('steps').where({ fiche_id: fiche3, for_communes: true }).first()).id);
    villeurbanne = await signIn(t.app, ACCOUNTS.commune);
    bron = await signedIn(t, 'commune', { communeId: ids.Bron! });
    editor = await signIn(t.app, ACCOUNTS.editor);
  });
  after(() => t.close());

  describe('the steps "à mener par les communes"', () => {
    it("lets the commune set its own status; the project team sees the count and each commune's status, the fiche's step is unchanged", async () => {
      const page = await villeurbanne.get(`${hom}/fiches/${fiche3}`).expect(200);
      expect(page.text).to.include(`action="${hom}/fiches/${fiche3}/commune/actions"`);
      const res = await post(villeurbanne, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/actions`, {
        steps: [{ id: communeStep, version: 0, status: 'fait' }],
      });
      expect(res.status, textOf(res.text).slice(0, 300)).to.equal(303);
      expect(res.headers.location).to.equal(`${hom}/fiches/${fiche3}#actions-communes`);
      const row = await t.db('commune_steps').where({ step_id: communeStep, commune_id: ids.Villeurbanne }).first();
      expect([row.status, Number(row.version)]).to.deep.equal(['fait', 1]);
      expect((await t.db('steps').where({ id: communeStep }).first()).status).to.equal('en_cours');
      const audit = await t.db('audit_log').where({ entity_type: 'commune_step', entity_id: communeStep }).orderBy('id', 'desc').first();
      expect(audit.summary).to.include('Commune de Villeurbanne').and.include('Non démarré → Fait');

      const seen = textOf((await editor.get(`${hom}/fiches/${fiche3}`).expect(200)).text);
      expect(seen).to.include('Fait dans 1 commune sur 16').and.include('Villeurbanne : Fait').and.include('Bron : Non démarré');
      // the commune's page shows it too, and its own status in the form
      const mine = await villeurbanne.get(`${hom}/ma-commune`).expect(200);
      expect(textOf(mine.text)).to.include('Recenser les agents communaux');
      expect(mine.text).to.match(/<option value="fait"\s+selected>/);
    });

    it('refuses a step of a fiche the commune does not see (403), and nothing is written', async () => {
      const other = Number((await t.db('steps').where({ fiche_id: fiche2 }).first()).id);
      const before = await t.db('commune_steps').count({ n: '*' }).first();
      const res = await post(villeurbanne, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche2}/commune/actions`, { steps: [{ id: other, version: 0, status: 'fait' }] });
      expect(res.status).to.equal(403);
      expect(await t.db('commune_steps').count({ n: '*' }).first()).to.deep.equal(before);
      // the project team may not use the commune's form at all
      const team = await post(editor, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/actions`, { steps: [{ id: communeStep, version: 0, status: 'fait' }] });
      expect(team.status).to.equal(403);
    });

    it("refuses a step that is not for the communes, or another fiche's, with 422 and nothing applied", async () => {
      const notForCommunes = Number((await t.db('steps').where({ fiche_id: fiche3, for_communes: false }).whereNot('status', 'fait').first()).id);
      const before = await t.db('commune_steps').where({ commune_id: ids.Bron }).select('*');
      const stepBefore = (await t.db('steps').where({ id: notForCommunes }).first()).status;
      // one valid change along with a step that is not the communes': nothing of the form is applied
      const mixed = await post(bron, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/actions`, {
        steps: [{ id: communeStep, version: 0, status: 'fait' }, { id: notForCommunes, version: 0, status: 'fait' }],
      });
      expect(mixed.status).to.equal(422);
      expect(textOf(mixed.text)).to.include("n'est pas une action de cette fiche à mener par les communes");
      const elsewhere = await post(bron, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche1}/commune/actions`, { steps: [{ id: communeStep, version: 0, status: 'fait' }] });
      expect(elsewhere.status).to.equal(422);
      expect(await t.db('commune_steps').where({ commune_id: ids.Bron }).select('*')).to.deep.equal(before);
      expect((await t.db('steps').where({ id: notForCommunes }).first()).status).to.equal(stepBefore);
    });

    it('refuses a stale form with 409 and a French message, keeping what the other agent saved', async () => {
      // Bron's agent opens the form at version 0; another agent of Bron saves first
      const colleague = await signedIn(t, 'commune_admin', { communeId: ids.Bron! });
      const first = await post(colleague, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/actions`, { steps: [{ id: communeStep, version: 0, status: 'en_cours' }] });
      expect(first.status).to.equal(303);
      const stale = await post(bron, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/actions`, { steps: [{ id: communeStep, version: 0, status: 'bloque' }] });
      expect(stale.status).to.equal(409);
      expect(textOf(stale.text)).to.include('Une autre personne de votre commune a changé').and.include('État enregistré actuellement pour votre commune : En cours');
      // the choice typed is kept in the form, at the version now current
      expect(stale.text).to.match(/<option value="bloque"\s+selected>/).and.include('name="steps[0][version]" value="1"');
      const row = await t.db('commune_steps').where({ step_id: communeStep, commune_id: ids.Bron }).first();
      expect([row.status, Number(row.version)]).to.deep.equal(['en_cours', 1]);
    });
  });

  describe("a commune's progress notes", () => {
    it('adds a note labelled with the commune, dated today, without changing the fiche; another commune never reads it', async () => {
      const before = await t.db('fiches').where({ id: fiche3 }).first();
      const res = await post(villeurbanne, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/note`, { body: 'Recensement fait chez nous : 12 agents.' });
      expect(res.status, textOf(res.text).slice(0, 300)).to.equal(303);
      const note = await t.db('progress_notes').where({ fiche_id: fiche3 }).orderBy('id', 'desc').first();
      expect([Number(note.commune_id), note.noted_on, note.status_after]).to.deep.equal([ids.Villeurbanne, '2026-03-16', null]);
      const after = await t.db('fiches').where({ id: fiche3 }).first();
      expect([after.status, after.version]).to.deep.equal([before.status, before.version]);

      const team = textOf((await editor.get(`${hom}/fiches/${fiche3}`).expect(200)).text);
      expect(team).to.include('Nadia Roux Commune de Villeurbanne').and.include('Recensement fait chez nous');
      // the team's notes and the commune's own for Villeurbanne; the team's only for Bron
      const forVilleurbanne = await listNotes(t.db, fiche3, ids.Villeurbanne!);
      const forBron = await listNotes(t.db, fiche3, ids.Bron!);
      expect(forVilleurbanne.map((n) => n.body)).to.include('Recensement fait chez nous : 12 agents.');
      expect(forBron.map((n) => n.body)).not.to.include('Recensement fait chez nous : 12 agents.');
      expect(forBron.length).to.equal(forVilleurbanne.length - 1).and.to.be.greaterThan(0);
      expect(forVilleurbanne.find((n) => n.communeId !== null)?.communeName).to.equal('Villeurbanne');
      // nor on the fiche's page as Bron's agent reads it
      const bronPage = textOf((await bron.get(`${hom}/fiches/${fiche3}`).expect(200)).text);
      expect(bronPage).not.to.include('Recensement fait chez nous');
      expect(bronPage).to.include('Demande de raccordement envoyée');
      // nor in Bron's e-mail
      const digest = await communeDigest(t.db, t.config.mail, { id: ids.Bron!, name: 'Bron' }, '2026-03', NOW);
      const mail = await renderDigest(t.config.mail, digest!, mailBrand(await readIdentity(t.db)));
      expect(mail.text).not.to.include('Recensement fait chez nous');
    });

    it('refuses a status or a date posted with a commune note (403), and writes nothing; an empty note is a 422 next to the field', async () => {
      const count = async () => Number((await t.db('progress_notes').where({ fiche_id: fiche3 }).count({ n: '*' }).first())!.n);
      const before = await count();
      const withStatus = await post(villeurbanne, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/note`, { body: 'Terminé chez nous.', status: 'fait' });
      expect(withStatus.status).to.equal(403);
      expect(textOf(withStatus.text)).to.include("Une commune ne peut pas changer l'avancement de la fiche");
      const withDate = await post(villeurbanne, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/note`, { body: 'Hier.', notedOn: '2026-01-01' });
      expect(withDate.status).to.equal(403);
      const empty = await post(villeurbanne, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/note`, { body: '   ' });
      expect(empty.status).to.equal(422);
      expect(empty.text).to.include('id="body-error"').and.include("Saisissez le point d&#39;avancement.");
      expect(await count()).to.equal(before);
      expect((await t.db('fiches').where({ id: fiche3 }).first()).status).not.to.equal('fait');
    });
  });

  describe('acknowledging strong side effects', () => {
    it('records an acknowledgement and an objection (a comment required: 422 next to the field, input kept); the agenda shows who answered', async () => {
      const page = await villeurbanne.get(`${hom}/fiches/${fiche3}`).expect(200);
      expect(page.text).to.include(`action="${hom}/fiches/${fiche3}/commune/effets"`);
      const fingerprint = /name="fingerprint" value="([0-9a-f]+)"/.exec(page.text)![1];
      const ack = await post(villeurbanne, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/effets`, { answer: 'prise_acte', comment: '', version: 0, fingerprint });
      expect(ack.status, textOf(ack.text).slice(0, 300)).to.equal(303);

      const missing = await post(bron, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/effets`, { answer: 'objection', comment: ' ', version: 0, fingerprint });
      expect(missing.status).to.equal(422);
      expect(missing.text).to.include('id="comment-error"').and.include('Une objection doit être expliquée');
      expect(missing.text).to.match(/value="objection"\s+checked/);
      const noAnswer = await post(bron, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/effets`, { comment: 'Texte gardé', version: 0, fingerprint });
      expect(noAnswer.status).to.equal(422);
      expect(noAnswer.text).to.include('id="answer-error"').and.include('Texte gardé');
      const tooLong = await post(bron, `${hom}/fiches/${fiche3}`, `${hom}/fiches/${fiche3}/commune/effets`, { answer: 'objection', comment: 'x'.repeat(2001), version: 0, fingerprint });
      expect(tooLong.status).to.equal(422);
      expect(await t.db('side_effect_answers').where({ commune_id: ids.Bron }).first()).to.equal(undefined);
      const objection = await post(bron, `${hom}/ma-commune`, `${hom}/fiches/${fiche3}/commune/effets`, {
        answer: 'objection', comment: 'Nos agents ne sont pas dans votre annuaire.', version: 0, fingerprint, retour: 'ma-commune',
      });
      expect(objection.status).to.equal(303);
      expect(objection.headers.location).to.equal(`${hom}/ma-commune#fiche-${fiche3}`);
      expect(await t.db('audit_log').where({ entity_type: 'side_effect_answer', entity_id: fiche3 }).count({ n: '*' }).first()).to.deep.include({ n: ENGINE === 'postgresql' ? '2' : 2 });

      // the project team reads every commune's answer on the fiche
      const team = textOf((await editor.get(`${hom}/fiches/${fiche3}`).expect(200)).text);
      expect(team).to.include("1 prise d'acte, 1 objection et 14 sans réponse").and.include('Nos agents ne sont pas dans votre annuaire.');

      // the signature meeting's agenda: who acknowledged, who objected, who did not answer; stressed
      const meeting = Number((await t.db('meetings').where({ plan_id: 1, kind: 'signature' }).whereNull('held_at').first()).id);
      const agenda = textOf((await editor.get(`${hom}/seances/${meeting}/ordre-du-jour`).expect(200)).text);
      expect(agenda).to.include('Séance de signature : chaque commune concernée prend acte')
        .and.match(/Villeurbanne Prise d'acte 16\/03\/2026/).and.match(/Bron Objection 16\/03\/2026 Nos agents ne sont pas dans votre annuaire\./)
        .and.match(/Vénissieux Sans réponse/);
      // a commune's agent reads its own line only
      const forBron = textOf((await bron.get(`${hom}/seances/${meeting}/ordre-du-jour`).expect(200)).text);
      expect(forBron).to.match(/Bron Objection/).and.not.match(/Villeurbanne Prise d'acte/).and.not.include('Vénissieux Sans réponse');
      // the PDF too
      const plan = (await getHomologation(t.db, 1))!;
      const live = await liveAgenda(t.db, plan, (await getMeeting(t.db, meeting))!, NOW);
      const section = live.sections.find((s) => s.key === 'fiche' && s.fiche.ficheId === fiche3);
      expect(section && section.key === 'fiche' && section.fiche.communeAnswers?.map((a) => a.state).filter((s) => s !== 'sans_reponse')).to.deep.equal(['objection', 'prise_acte']);
      expect(live.signature).to.equal(true);
      const pdf = await renderAgendaPdf(live, { dsfr: false, accent: '#000091' });
      expect(pdf.subarray(0, 5).toString()).to.equal('%PDF-');
      const restricted = restrictAgenda(live, { ficheIds: new Set([fiche3]), communeName: 'Bron', communeId: ids.Bron! });
      const own = restricted.sections.find((s) => s.key === 'fiche');
      expect(own && own.key === 'fiche' && own.fiche.communeAnswers?.map((a) => a.commune)).to.deep.equal(['Bron']);
    });

    it('shows an answer to a reworded side effect as "à renouveler", not as an acknowledgement; an answer sent on the old wording is refused (409)', async () => {
      const fiche = (await getFiche(t.db, fiche1))!;
      const page = await villeurbanne.get(`${hom}/fiches/${fiche1}`).expect(200);
      const fingerprint = /name="fingerprint" value="([0-9a-f]+)"/.exec(page.text)![1]!;
      expect((await post(villeurbanne, `${hom}/fiches/${fiche1}`, `${hom}/fiches/${fiche1}/commune/effets`, { answer: 'prise_acte', version: 0, fingerprint })).status).to.equal(303);
      await rewordStrongEffect(t, fiche.id, 'Les agents du centre de contact devront utiliser le back office dès la mise en service.');

      const mine = textOf((await villeurbanne.get(`${hom}/fiches/${fiche1}`).expect(200)).text);
      expect(mine).to.include('Réponse à une version antérieure').and.include('votre réponse est à renouveler');
      const team = textOf((await editor.get(`${hom}/fiches/${fiche1}`).expect(200)).text);
      expect(team).to.include('15 sans réponse et 1 réponse à une version antérieure').and.not.match(/\d+ prises? d'acte/);
      const meeting = Number((await t.db('meetings').where({ plan_id: 1, kind: 'signature' }).whereNull('held_at').first()).id);
      const agenda = textOf((await editor.get(`${hom}/seances/${meeting}/ordre-du-jour`).expect(200)).text);
      expect(agenda).to.match(/Villeurbanne Réponse à une version antérieure \(à renouveler\)/);

      // Bron's page was opened before the change: its answer, on the old wording, is refused and nothing is written
      const stale = await post(bron, `${hom}/fiches/${fiche1}`, `${hom}/fiches/${fiche1}/commune/effets`, { answer: 'prise_acte', version: 0, fingerprint });
      expect(stale.status).to.equal(409);
      expect(textOf(stale.text)).to.include('Les effets de bord forts de cette fiche ont été modifiés').and.include('dès la mise en service');
      expect(await t.db('side_effect_answers').where({ fiche_id: fiche1, commune_id: ids.Bron }).first()).to.equal(undefined);

      // renewed at the current wording, it counts again
      const renewed = await villeurbanne.get(`${hom}/fiches/${fiche1}`).expect(200);
      const current = /name="fingerprint" value="([0-9a-f]+)"/.exec(renewed.text)![1]!;
      const version = /name="version" value="(\d+)"/.exec(renewed.text.slice(renewed.text.indexOf('/commune/effets')))![1]!;
      expect((await post(villeurbanne, `${hom}/fiches/${fiche1}`, `${hom}/fiches/${fiche1}/commune/effets`, { answer: 'prise_acte', version, fingerprint: current })).status).to.equal(303);
      // and a second answer from an outdated form (the version it saw) is a 409
      const outdated = await post(villeurbanne, `${hom}/fiches/${fiche1}`, `${hom}/fiches/${fiche1}/commune/effets`, { answer: 'objection', comment: 'Non.', version, fingerprint: current });
      expect(outdated.status).to.equal(409);
      expect(textOf(outdated.text)).to.include('Une autre personne de votre commune a répondu entre-temps');
      expect((await t.db('side_effect_answers').where({ fiche_id: fiche1, commune_id: ids.Villeurbanne }).first()).answer).to.equal('prise_acte');
    });

    it('refuses an answer on a fiche without a strong side effect (422)', async () => {
      const fiche5 = await ficheIdByNumber(t.db, 5);
      const res = await post(villeurbanne, `${hom}/fiches/${fiche5}`, `${hom}/fiches/${fiche5}/commune/effets`, { answer: 'prise_acte', version: 0, fingerprint: 'x' });
      expect(res.status).to.equal(422);
      expect(textOf(res.text)).to.include("Cette fiche n'a pas d'effet de bord fort");
      expect(await t.db('side_effect_answers').where({ fiche_id: fiche5 }).first()).to.equal(undefined);
    });
  });

  describe("the commune's page and e-mail", () => {
    it('shows its rollout "chez vous", with the link to the rollout grid, and tells the rollout sentence in the agenda', async () => {
      await t.db('fiches').where({ id: fiche1 }).update({ rollout: true });
      const own = (await t.db('instances').where({ commune_id: ids.Villeurbanne }).orderBy('id').select('id')).map((r) => Number(r.id));
      expect(own).to.have.length(2);
      await t.db('fiche_rollouts').insert({ fiche_id: fiche1, instance_id: own[0], status: 'fait', version: 1, updated_at: NOW.toISOString() });
      const page = await villeurbanne.get(`${hom}/ma-commune`).expect(200);
      expect(textOf(page.text)).to.include('chez vous : 1 instance sur 2');
      expect(page.text).to.include(`href="${hom}/fiches/${fiche1}/deploiement"`);
      await editor.get(`${hom}/ma-commune`).expect(403);

      const meeting = Number((await t.db('meetings').where({ plan_id: 1, kind: 'signature' }).whereNull('held_at').first()).id);
      const agenda = textOf((await editor.get(`${hom}/seances/${meeting}/ordre-du-jour`).expect(200)).text);
      expect(agenda).to.include('Déploiement par instance Fait sur 1 des');
    });

    it('e-mails the commune its own rollout, the strong side effects awaiting its answer and the link to its page', async () => {
      const digest = await communeDigest(t.db, t.config.mail, { id: ids.Villeurbanne!, name: 'Villeurbanne' }, '2026-03', NOW);
      const mail = await renderDigest(t.config.mail, digest!, mailBrand(await readIdentity(t.db)));
      for (const part of [mail.text, mail.html]) {
        expect(part).to.include('chez vous : 1 instance sur 2').and.include('https://plan.metropole.example.org/homologations/1/ma-commune');
      }
      // fiche 3: acknowledged above; Vénissieux has answered nothing
      expect(mail.text).to.include('votre commune en a pris acte le 16/03/2026');
      const other = await communeDigest(t.db, t.config.mail, { id: ids.Vénissieux!, name: 'Vénissieux' }, '2026-03', NOW);
      const otherMail = await renderDigest(t.config.mail, other!, mailBrand(await readIdentity(t.db)));
      expect(otherMail.text).to.include('Votre réponse est attendue pour').and.include('votre réponse est attendue').and.include('chez vous : 0 instance sur 2');
      // the commune's own status of its steps: Villeurbanne did "Recenser…" (no longer listed); Vénissieux did not
      // (in the deck's homologation: the renewal's fiche 3 has its own step, not done yet anywhere)
      const deck = (text: string) => text.split(/\n(?=2\. HOMOLOGATION « )/)[0]!;
      expect(deck(mail.text)).not.to.include('Recenser les agents communaux');
      expect(deck(otherMail.text)).to.include('Recenser les agents communaux qui traitent des demandes dans le back office (Non démarré)');
    });
  });
});

describe('co-management: the words', () => {
  it('counts the communes that did a step, and tells an answer to an older wording apart', () => {
    expect(communeStepsPhrase(3, 16)).to.equal('Fait dans 3 communes sur 16');
    expect(communeStepsPhrase(1, 16)).to.equal('Fait dans 1 commune sur 16');
    expect(sameWording(['b', 'a'], ['a', 'b'])).to.equal(true);
    expect(wordingFingerprint(['b', 'a'])).to.equal(wordingFingerprint(['a', 'b']));
    expect(answerState({ answer: 'prise_acte', effects: ['ancien'] }, ['nouveau'])).to.equal('a_renouveler');
    expect(answerState(undefined, ['x'])).to.equal('sans_reponse');
    const lines = answerLines([{ id: 2, name: 'Écully' }, { id: 1, name: 'Bron' }], [], ['x']);
    expect(lines.map((l) => [l.commune, l.label])).to.deep.equal([['Bron', 'Sans réponse'], ['Écully', 'Sans réponse']]);
  });
});
