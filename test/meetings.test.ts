import { expect } from 'chai';
import { extractText, getDocumentProxy } from 'unpdf';
import { ACCOUNTS, type Agent, ficheIdByNumber, freshApp, postForm, signIn, type TestApp, textOf } from './helpers';

/** The demo homologation's last held meeting and the next one to prepare (whatever other meetings the demo holds). */
async function meetingIds(t: TestApp) {
  const rows = await t.db('meetings').where({ plan_id: 1 }).orderBy('starts_at').select('id', 'held_at');
  return { past: Number(rows.filter((r) => r.held_at).at(-1).id), next: Number(rows.find((r) => !r.held_at).id) };
}

const validMeeting = {
  title: 'Comité de suivi', kind: 'suivi', date: '2026-04-20', startTime: '14:00', endTime: '16:00', place: 'Salle 1', visioUrl: '',
  objective: 'Suivre le plan.', reminder: '', questions: 'Budget 2027', coverage: 'all',
};

describe('committee meetings', () => {
  let t: TestApp;
  let editor: Agent;
  beforeEach(async () => {
    t = await freshApp();
    editor = await signIn(t.app, ACCOUNTS.editor);
  });
  afterEach(() => t.close());

  it('lists the demo meetings: one held, one to prepare', async () => {
    const text = textOf((await editor.get('/homologations/1/seances').expect(200)).text);
    expect(text).to.contain('Tenue').and.contain('En préparation').and.contain('signature de l');
  });

  it("shows on the next meeting what changed since the previous one", async () => {
    const { next } = await meetingIds(t);
    const text = textOf((await editor.get(`/homologations/1/seances/${next}`).expect(200)).text);
    const since = text.slice(text.indexOf('Depuis la dernière séance'), text.indexOf('Ordre des sections'));
    expect(since).to.contain('Avancement : En cours → Bloqué');
    expect(since).to.contain('Demande de raccordement envoyée');
    expect(since).to.match(/Fiche n°2 : [^:]+ Aucun changement/);
  });

  it('creates a meeting, and refuses one without a date, ending before it starts or covering no fiche', async () => {
    const ok = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', { ...validMeeting, userIds: ['1'], guests: [{ name: 'Mme Durand', organisation: 'Préfecture' }] });
    expect(ok.status).to.equal(303);
    const id = Number(/\/seances\/(\d+)/.exec(ok.headers.location!)![1]);
    const saved = await t.db('meeting_attendees').where({ meeting_id: id });
    expect(saved.map((a) => a.name)).to.include('Mme Durand');
    const before = await t.db('meetings').count({ n: '*' }).first();
    const bad = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', { ...validMeeting, title: 'Gardé', date: '', startTime: '15:00', endTime: '09:00', coverage: 'part' });
    expect(bad.status).to.equal(422);
    const text = textOf(bad.text);
    expect(text).to.contain('Saisissez la date de la séance.');
    expect(text).to.contain('Cochez au moins une fiche');
    expect(bad.text).to.contain('value="Gardé"');
    const late = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', { ...validMeeting, startTime: '15:00', endTime: '09:00' });
    expect(late.status).to.equal(422);
    expect(textOf(late.text)).to.contain("L'heure de fin doit être après l'heure de début.");
    expect(late.text).to.contain('id="endTime-error"');
    const after = await t.db('meetings').count({ n: '*' }).first();
    expect(Number(after!.n)).to.equal(Number(before!.n));
  });

  it('generates the agenda in the deck’s structure, in the order the editors set', async () => {
    const { next } = await meetingIds(t);
    const headings = async () => [...(await editor.get(`/homologations/1/seances/${next}/ordre-du-jour`).expect(200)).text.matchAll(/<h2 class="fr-h4">([^<:]+)/g)].map((m) => m[1]!.trim());
    const first = await headings();
    expect(first.slice(0, 5)).to.deep.equal(['Ordre du jour proposé', 'Objectif de la séance', "Périmètre de l&#39;homologation", 'Rappel du calendrier', "Présentation du plan d&#39;action"]);
    expect(first.filter((h) => h.startsWith('Détail de la fiche action'))).to.have.length(5);
    expect(first.at(-1)).to.equal('Questions diverses');
    const moved = await postForm(editor, `/homologations/1/seances/${next}`, `/homologations/1/seances/${next}/ordre`, { move: 'questions:up' });
    expect(moved.status).to.equal(303);
    const second = await headings();
    expect(second.at(-1)).to.match(/^Détail de la fiche action n°5/);
    // the risk table and the section of the decision's conditions, when there are some, stay glued before the fiches' detail
    const fichesStart = second.findIndex((h) => h.startsWith('Détail de la fiche action') || h === 'Conditions de l&#39;homologation' || h === 'Risques');
    expect(second.indexOf('Questions diverses')).to.equal(fichesStart - 1);
  });

  it('freezes the agenda when the meeting is held: later plan edits do not change its record', async () => {
    const { next } = await meetingIds(t);
    expect((await postForm(editor, `/homologations/1/seances/${next}`, `/homologations/1/seances/${next}/tenir`, {})).status).to.equal(303);
    const fiche = await ficheIdByNumber(t.db, 2);
    await postForm(editor, `/homologations/1/fiches/${fiche}`, `/homologations/1/fiches/${fiche}/notes`, { body: 'Écrit après la séance.', notedOn: '2026-03-16', status: 'fait' });
    const agenda = textOf((await editor.get(`/homologations/1/seances/${next}/ordre-du-jour`)).text);
    expect(agenda).not.to.contain('Écrit après la séance.');
    expect(agenda).to.contain('ordre du jour figé');
    // editing the frozen agenda is refused, nothing lost
    const edit = await postForm(editor, `/homologations/1/seances/${next}`, `/homologations/1/seances/${next}`, { ...validMeeting, title: 'Changé' });
    expect(edit.status).to.equal(409);
    expect(textOf(edit.text)).to.contain('son ordre du jour est figé');
    expect((await editor.get(`/homologations/1/seances/${next}/modifier`)).status).to.equal(409);
    const reorder = await postForm(editor, `/homologations/1/seances/${next}/ordre-du-jour`, `/homologations/1/seances/${next}/ordre`, { move: 'questions:up' });
    expect(reorder.status).to.equal(409);
    expect((await t.db('meetings').where({ id: next }).first()).title).not.to.equal('Changé');
    expect((await postForm(editor, `/homologations/1/seances/${next}/ordre-du-jour`, `/homologations/1/seances/${next}/tenir`, {})).status).to.equal(409);
  });

  it('records decisions, the relevé, and the homologation decision shown on the plan', async () => {
    const { next } = await meetingIds(t);
    const fiche = await ficheIdByNumber(t.db, 3);
    expect((await postForm(editor, `/homologations/1/seances/${next}`, `/homologations/1/seances/${next}/decisions`, { ficheId: String(fiche), text: 'Accepter le risque résiduel pour les communes.' })).status).to.equal(303);
    const empty = await postForm(editor, `/homologations/1/seances/${next}`, `/homologations/1/seances/${next}/decisions`, { ficheId: '', text: ' ' });
    expect(empty.status).to.equal(422);
    expect(textOf(empty.text)).to.contain('Saisissez la décision.');
    expect((await postForm(editor, `/homologations/1/seances/${next}`, `/homologations/1/seances/${next}/releve`, { record: 'Relevé validé en séance.' })).status).to.equal(303);
    const noAuthority = await postForm(editor, `/homologations/1/seances/${next}`, `/homologations/1/seances/${next}/signature`, { outcome: 'homologuee', authority: '', decidedOn: '2026-04-16', durationMonths: '36' });
    expect(noAuthority.status).to.equal(422);
    expect(noAuthority.text).to.contain('id="signature-authority-error"');
    const signed = await postForm(editor, `/homologations/1/seances/${next}`, `/homologations/1/seances/${next}/signature`, { outcome: 'sous_conditions', authority: 'Le président de la Métropole', decidedOn: '2026-04-16', durationMonths: '36', conditions: [{ text: 'Mettre en œuvre la fiche 3 avant fin 2026.', teamId: '', targetDate: '2026-12-31' }] });
    expect(signed.status).to.equal(303);
    const page = textOf((await editor.get(`/homologations/1/seances/${next}`)).text);
    expect(page).to.contain('Fiche n°3 : Accepter le risque résiduel').and.contain('Relevé validé en séance.');
    const plan = textOf((await editor.get('/homologations/1')).text);
    expect(plan).to.contain('Homologuée sous conditions').and.contain("Décision du 16/04/2026 par Le président de la Métropole, pour 36 mois, valable jusqu'au 16/04/2029 inclus")
      .and.contain('Conditions : Mettre en œuvre la fiche 3 avant fin 2026.');
  });

  it('serves the agenda as a PDF with its sections, steps, changes and footers', async () => {
    const { next } = await meetingIds(t);
    const res = await editor.get(`/homologations/1/seances/${next}/ordre-du-jour.pdf`).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.contain('application/pdf');
    const pdf = await getDocumentProxy(new Uint8Array(res.body as Buffer));
    const { totalPages, text } = await extractText(pdf, { mergePages: false });
    expect(totalPages).to.be.greaterThan(1); // its layout and page counts: test/agenda-pdf.test.ts
    const all = text.join('\n');
    for (const heading of ['Ordre du jour proposé', "Périmètre de l'homologation", 'Rappel du calendrier', 'Questions diverses', 'Détail de la fiche action n°3']) {
      expect(all, heading).to.contain(heading);
    }
    const fiche1 = text.find((p) => p.includes('Détail de la fiche action n°1'))!;
    expect(fiche1).to.contain('(Fait)').and.contain('Demander à l’usager'.replace('’', "'"));
    // the demo is not a State service: its font has no arrow, a '>' stands in for it (test/agenda-pdf.test.ts)
    expect(all).to.contain('Avancement : En cours > Bloqué');
    expect(text[0]).to.contain(`Page 1 / ${totalPages}`);
    expect(text[totalPages - 1]).to.contain(`Page ${totalPages} / ${totalPages}`);
    expect(all).to.match(/Séance du \d\d\/\d\d\/\d{4}/);
    expect(all).to.contain('1 500 €');
  });

  it('serves an iCalendar invitation', async () => {
    const { next } = await meetingIds(t);
    const res = await editor.get(`/homologations/1/seances/${next}/invitation.ics`).expect(200);
    expect(res.headers['content-type']).to.contain('text/calendar');
    expect(res.text).to.contain('BEGIN:VEVENT').and.contain('SUMMARY:Comité de pilotage').and.match(/DTSTART:\d{8}T\d{6}Z/);
    expect(res.text).to.contain(`UID:seance-${next}-plan-`);
  });

  it('lets readers read but not write, and keeps communes to meetings about their fiches', async () => {
    const { next } = await meetingIds(t);
    for (const email of [ACCOUNTS.viewer, ACCOUNTS.commune]) {
      const agent = await signIn(t.app, email);
      expect((await agent.get(`/homologations/1/seances/${next}`)).status).to.equal(200);
      expect((await agent.get('/homologations/1/seances/nouvelle')).status).to.equal(403);
      const res = await postForm(agent, `/homologations/1/seances/${next}`, `/homologations/1/seances/${next}/tenir`, {});
      expect(res.status).to.equal(403);
    }
    const commune = await signIn(t.app, ACCOUNTS.commune);
    // the agenda, a page of its own, shows a commune only what concerns it
    const page = textOf((await commune.get(`/homologations/1/seances/${next}/ordre-du-jour`)).text);
    expect(page).not.to.contain("Formaliser une procédure d'anonymisation");
    expect(page).not.to.contain('Vénissieux');
    expect(page).to.contain('Villeurbanne');
    // a meeting about fiche 2 only (Intranet and Extranet) is not theirs
    const only2 = await postForm(editor, '/homologations/1/seances/nouvelle', '/homologations/1/seances', { ...validMeeting, coverage: 'part', ficheIds: [String(await ficheIdByNumber(t.db, 2))] });
    const id = Number(/\/seances\/(\d+)/.exec(only2.headers.location!)![1]);
    expect((await commune.get(`/homologations/1/seances/${id}`)).status).to.equal(403);
    expect(textOf((await commune.get('/homologations/1/seances')).text)).not.to.contain('Comité de suivi');
  });
});
