import { expect } from 'chai';
import { answerSideEffects } from '../src/data/commune-answers';
import { createMeeting } from '../src/data/meetings';
import { ANSWERS_LISTED } from '../src/domain/agenda';
import { wordingFingerprint } from '../src/domain/commune-answers';
import type { Actor } from '../src/domain/roles';
import { aCommune, aFiche, aHomologation, anInstance, aService, aTeam, aUser, signedIn } from './builders';
import { ENGINE, freshApp, NOW, type TestApp, textOf } from './helpers';

/** A fiche concerning many communes: the agenda lists those that answered, and counts the others. */
describe(`the communes' answers in the agenda of a large organisation (${ENGINE})`, () => {
  let t: TestApp;
  before(async () => { t = await freshApp(); });
  after(() => t.close());

  it('lists the answers given and counts the communes without one; a commune still reads its own "sans réponse"', async () => {
    const team = await aTeam().insert(t.db);
    const service = await aService().insert(t.db);
    const communes: number[] = [];
    const instances: number[] = [];
    for (let i = 0; i < ANSWERS_LISTED + 5; i++) {
      const c = await aCommune().insert(t.db);
      communes.push(c);
      instances.push(await anInstance().ofService(service).managedBy(team).inCommune(c).insert(t.db));
    }
    const hom = await aHomologation().withInstances(...instances).insert(t.db);
    const effect = 'Les agents des communes devront changer de parcours.';
    const ficheId = await aFiche().inHomologation(hom).ownedBy(team).withSideEffect('fort', effect).insert(t.db);
    const u = await aUser().withRole('commune').inCommune(communes[0]!).insert(t.db);
    const objector: Actor = { id: u.id, name: u.name, email: u.email, role: 'commune', communeId: communes[0]! };
    const answered = await answerSideEffects(t.db, { ficheId, planId: hom, communeId: communes[0]! },
      { answer: 'objection', comment: 'Nos agents ne sont pas dans votre annuaire.', seenVersion: 0, fingerprint: wordingFingerprint([effect]) }, objector, NOW);
    expect(answered.ok, JSON.stringify(answered)).to.equal(true);
    const editorUser = await aUser().withRole('editor').insert(t.db);
    const meeting = await createMeeting(t.db, hom, {
      title: 'Commission', kind: 'signature', startsAt: '2026-04-01T14:00', endsAt: '2026-04-01T16:00', place: '', visioUrl: '',
      objective: '', reminder: '', questions: '', coversAll: true, ficheIds: [], attendees: [],
    }, { id: editorUser.id, name: editorUser.name, email: editorUser.email, role: 'editor', communeId: null }, NOW);

    const team1 = await signedIn(t, editorUser);
    const agenda = textOf((await team1.get(`/homologations/${hom}/seances/${meeting}/ordre-du-jour`).expect(200)).text);
    expect(agenda).to.include(`1 objection et ${ANSWERS_LISTED + 4} sans réponse`);
    expect(agenda).to.include('Nos agents ne sont pas dans votre annuaire.');
    expect(agenda).to.include(`${ANSWERS_LISTED + 4} autres communes concernées n'ont pas répondu`);
    expect(agenda, 'no line per commune without an answer').not.to.include('Sans réponse');

    const silent = await signedIn(t, 'commune', { communeId: communes[3]! });
    const own = textOf((await silent.get(`/homologations/${hom}/seances/${meeting}/ordre-du-jour`).expect(200)).text);
    expect(own).to.include('Sans réponse');
    expect(own).not.to.include('Nos agents ne sont pas dans votre annuaire.');
    const pdf = await team1.get(`/homologations/${hom}/seances/${meeting}/ordre-du-jour.pdf`).buffer(true).expect(200);
    expect(pdf.body.length).to.be.greaterThan(1000);
  });
});
