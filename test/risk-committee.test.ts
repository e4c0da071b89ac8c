import { expect } from 'chai';
import { createFiche, type FicheInput } from '../src/data/fiches';
import { createMeeting } from '../src/data/meetings';
import { createRisk, getRiskScales, type RiskInput, saveRiskScales, updateRisk, deleteRisk } from '../src/data/risks';
import { restrictAgenda } from '../src/domain/agenda';
import { criticalClassLabels, isCriticalClass, riskChanges } from '../src/domain/risk-committee';
import { DEFAULT_RISK_SCALES } from '../src/domain/risks';
import type { Actor } from '../src/domain/roles';
import { aCommune, aHomologation, anInstance, signedIn } from './builders';
import { ACCOUNTS, type Agent, ENGINE, freshApp, NOW, postForm, signIn, type TestApp, textOf } from './helpers';

// The risks where the committee meets them (issue 15): the residual risks the decision accepts, frozen; the agenda's
// risk table (critical risks waiting on a late fiche first), restricted for a commune and frozen with a held meeting;
// the dashboard's risk block; the risk changes since the last meeting.

const LATE = '2026-03-01'; // before the tests' clock (16/03/2026)
const LATER = '2026-12-31';
/** When the risks were first written: before the follow-up meeting of 10/03/2026. */
const EARLY = new Date('2026-03-01T09:00:00.000Z');

/**
 * A homologation of its own: two instances of two communes, and a third without commune, in its perimeter; three
 * fiches (one late on commune A's instance, one due later, one done); three risks: n°1 critical (Probable × Majeur)
 * treated by the late fiche, touching commune A; n°2 modérée with a residual level, treated by the fiche due later,
 * touching commune B; n°3 très critique, treated by the done fiche, no instance. A signature meeting to come and a follow-up before it.
 */
async function target(t: TestApp) {
  const adminRow = await t.db('users').where({ email: ACCOUNTS.admin }).first();
  const editorRow = await t.db('users').where({ email: ACCOUNTS.editor }).first();
  const who: Actor = { id: Number(adminRow.id), name: adminRow.name, email: adminRow.email, role: 'admin', communeId: null };
  const communeA = await aCommune().insert(t.db);
  const communeB = await aCommune().insert(t.db);
  const instA = await anInstance().inCommune(communeA).insert(t.db);
  const instB = await anInstance().inCommune(communeB).insert(t.db);
  const instC = await anInstance().insert(t.db);
  const [row] = await t.db('plans').insert({
    title: 'Homologation des risques', organisation: 'Métropole', reminder: '', is_demo: false, description: 'Pour les tests', created_at: NOW.toISOString(),
  }).returning('id');
  const hid = Number(typeof row === 'object' ? row.id : row);
  await t.db('plan_instances').insert([instA, instB, instC].map((id) => ({ plan_id: hid, instance_id: id })));
  await t.db('plan_members').insert({ plan_id: hid, user_id: editorRow.id, role: 'editor' });
  const base: FicheInput = {
    number: 1, title: '', finding: 'Constat.', targetDate: LATER, status: 'en_cours', conclusion: '', conclusionCounts: [], costAmount: null,
    costSource: '', scopeAll: false, instanceIds: [], owners: [], steps: [], sideEffects: [],
  };
  const fiche = async (f: Partial<FicheInput>) => {
    const r = await createFiche(t.db, hid, { ...base, ...f }, who, NOW);
    if (!r.ok) throw new Error(JSON.stringify(r));
    return r.id;
  };
  const late = await fiche({ number: 1, title: 'Sauvegarder hors site', targetDate: LATE, instanceIds: [instA] });
  const later = await fiche({ number: 2, title: 'Filtrer les accès', instanceIds: [instB] });
  const done = await fiche({ number: 3, title: 'Mettre à jour', status: 'fait', targetDate: LATE, scopeAll: true });
  const risk: RiskInput = {
    title: '', description: '', scenario: '', ownerTeamId: null, ownerName: '', likelihood: 1, severity: 1, existingMeasures: '',
    treatment: 'reduire', residualLikelihood: null, residualSeverity: null, ficheIds: [], instanceIds: [],
  };
  const make = async (r: Partial<RiskInput>) => {
    const saved = await createRisk(t.db, hid, { ...risk, ...r }, who, EARLY);
    if (!saved.ok) throw new Error(JSON.stringify(saved));
    return saved.id;
  };
  const r1 = await make({ title: 'Perte des données des usagers', likelihood: 3, severity: 3, ficheIds: [late, done], instanceIds: [instA] });
  const r2 = await make({ title: 'Usurpation de compte', likelihood: 2, severity: 3, residualLikelihood: 1, residualSeverity: 2, ficheIds: [later], instanceIds: [instB] });
  const r3 = await make({ title: 'Indisponibilité prolongée', likelihood: 4, severity: 4, treatment: 'accepter', ficheIds: [done] });
  const meeting = (title: string, kind: 'suivi' | 'signature', day: string) => createMeeting(t.db, hid, {
    title, kind, startsAt: `${day}T14:00`, endsAt: `${day}T16:00`, place: 'Salle du conseil', visioUrl: '',
    objective: '', reminder: '', questions: '', coversAll: true, ficheIds: [], attendees: [],
  }, who, NOW);
  const follow = await meeting('Comité de suivi', 'suivi', '2026-03-10');
  const signature = await meeting("Commission d'homologation", 'signature', '2026-03-20');
  return { hid, who, communeA, communeB, instA, instB, fiches: { late, later, done }, risks: { r1, r2, r3 }, meetings: { follow, signature }, risk, make };
}

const decision = {
  outcome: 'homologuee', authority: 'Mme la Présidente de la Métropole', authorityEmail: '', decidedOn: '2026-03-16', durationMonths: '12', endsOn: '',
};

function decide(agent: Agent, hid: number, meeting: number, fields: Record<string, unknown> = {}) {
  return postForm(agent, `/homologations/${hid}/seances/${meeting}`, `/homologations/${hid}/seances/${meeting}/signature`, { ...decision, ...fields });
}

describe(`the risks where the committee meets them (${ENGINE})`, () => {
  let t: TestApp;
  let editor: Agent;
  beforeEach(async () => {
    t = await freshApp();
    editor = await signIn(t.app, ACCOUNTS.editor);
  });
  afterEach(() => t.close());

  describe("the decision's accepted risks", () => {
    it('freezes every risk, residual or initial levels, with who and until when: later edits of a risk or of the scales change nothing', async () => {
      const x = await target(t);
      expect((await decide(editor, x.hid, x.meetings.signature)).status).to.equal(303);
      const signature = await t.db('signatures').where({ plan_id: x.hid }).first();
      const rows = async () => (await t.db('signature_risks').where({ signature_id: signature.id }).orderBy('position'))
        .map((r) => ({ ...r, id: undefined, risk_id: r.risk_id === null ? null : Number(r.risk_id), number: Number(r.number) }));
      const frozen = await rows();
      expect(frozen.map((r) => r.number)).to.deep.equal([1, 2, 3]);
      expect(frozen[0]).to.include({
        title: 'Perte des données des usagers', likelihood_label: 'Probable', severity_label: 'Majeur', criticality_label: 'Critique',
        residual_criticality_label: null, treatment_label: 'Réduire', accepted_by: 'Mme la Présidente de la Métropole', accepted_until: '2027-03-16',
      });
      expect(frozen[1]).to.include({ criticality_label: 'Modérée', residual_likelihood_label: 'Improbable', residual_severity_label: 'Grave', residual_criticality_label: 'Faible' });
      expect(frozen[2]).to.include({ criticality_label: 'Très critique', treatment_label: 'Accepter' });
      expect(JSON.parse(frozen[0].commune_ids)).to.deep.equal([x.communeA]);
      const audit = await t.db('audit_log').where({ entity_type: 'signature', entity_id: signature.id }).first();
      expect(JSON.parse(audit.after).acceptedRisks).to.have.length(3);

      // the risk edited, the scales renamed: the record stays as decided
      const updated = await updateRisk(t.db, x.risks.r1, 1, { ...x.risk, title: 'Perte des données (revue)', likelihood: 1, severity: 1, residualLikelihood: 1, residualSeverity: 1 }, x.who, NOW);
      expect(updated.ok).to.equal(true);
      const scales = await getRiskScales(t.db);
      const renamed = { likelihood: scales.likelihood.map((l) => `${l} (renommé)`), severity: scales.severity, classes: scales.classes.map((c) => `Classe ${c}`), matrix: scales.matrix };
      expect(await saveRiskScales(t.db, renamed, scales.version, x.who, NOW)).to.deep.equal({ ok: true });
      expect(await rows()).to.deep.equal(frozen);
      // deleting a risk unlinks the record, and keeps it
      expect(await deleteRisk(t.db, x.risks.r3, x.who, NOW)).to.equal(true);
      expect((await rows()).map((r) => [r.title, r.risk_id])).to.deep.equal([
        ['Perte des données des usagers', x.risks.r1], ['Usurpation de compte', x.risks.r2], ['Indisponibilité prolongée', null],
      ]);

      // the meeting page and the homologation's page show them, with who and until when
      for (const url of [`/homologations/${x.hid}/seances/${x.meetings.signature}`, `/homologations/${x.hid}`]) {
        const page = textOf((await editor.get(url).expect(200)).text);
        expect(page, url).to.contain("Risques résiduels acceptés par Mme la Présidente de la Métropole, jusqu'au 16/03/2027 inclus (3 risques)");
        expect(page, url).to.contain('Perte des données des usagers').and.contain('Critique (Probable × Majeur)')
          .and.contain("niveaux initiaux : aucun niveau résiduel n'était évalué").and.contain('Faible (résiduel : Improbable × Grave)')
          .and.contain('Indisponibilité prolongée (supprimé depuis)');
        const table = page.slice(page.indexOf('Risques résiduels acceptés'), page.indexOf('Ces risques sont enregistrés'));
        expect(table, url).not.to.contain('Perte des données (revue)').and.not.to.contain('(renommé)');
      }
    });

    it('accepts no risk in a refusal; a commune agent reads only the accepted risks that touched its instances', async () => {
      const x = await target(t);
      expect((await decide(editor, x.hid, x.meetings.signature, { outcome: 'refusee', durationMonths: '' })).status).to.equal(303);
      expect(await t.db('signature_risks').count({ n: '*' }).first().then((r) => Number(r?.n))).to.equal(0);
      expect((await decide(editor, x.hid, x.meetings.signature, { decidedOn: '2026-03-17' })).status).to.equal(303);
      const agent = await signedIn(t, 'commune', { communeId: x.communeA });
      const page = textOf((await agent.get(`/homologations/${x.hid}`).expect(200)).text);
      expect(page).to.contain('(1 risque)').and.contain('Perte des données des usagers');
      expect(page).not.to.contain('Usurpation de compte').and.not.to.contain('Indisponibilité prolongée');
    });
  });

  describe("the agenda's risk table", () => {
    it('lists every risk before the fiches, the critical ones waiting on a late fiche first and flagged in words, in the page and the PDF', async () => {
      const x = await target(t);
      const url = `/homologations/${x.hid}/seances/${x.meetings.signature}/ordre-du-jour`;
      const html = (await editor.get(url).expect(200)).text;
      const page = textOf(html);
      expect(page).to.contain('Risques de l\'homologation et fiches qui les traitent').and.contain('1 risque critique attend une fiche en retard');
      expect(page).to.contain('Sont critiques les risques de criticité Critique ou Très critique');
      // n°1 (critique, waiting on fiche n°1 late) first, then n°3 (très critique, no fiche), then n°2
      const order = ['Perte des données des usagers', 'Indisponibilité prolongée', 'Usurpation de compte'].map((title) => page.indexOf(title));
      expect(order[0]).to.be.greaterThan(-1);
      expect([...order].sort((a, b) => a - b)).to.deep.equal(order);
      expect(page).to.contain('Perte des données des usagers Critique, attend une fiche en retard');
      expect(page).to.contain('n°1 Sauvegarder hors site : En cours, en retard').and.contain('n°3 Mettre à jour : Fait');
      expect(page).to.contain('2 Usurpation de compte Modérée Faible');
      expect(page.indexOf('Risques de l\'homologation')).to.be.lessThan(page.indexOf('Détail de la fiche action n°1'));
      expect(html).to.match(/<th scope="row">Perte des données des usagers/);

      const pdf = await editor.get(`${url}.pdf`).expect(200).buffer(true).parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
      const { extractText, getDocumentProxy } = await import('unpdf');
      const { text } = await extractText(await getDocumentProxy(new Uint8Array(pdf.body as Buffer)), { mergePages: true });
      expect(text).to.contain('Fiches de traitement').and.contain('(!) Critique, attend une fiche en retard').and.contain('Usurpation de compte');
      expect(text.indexOf('Perte des données des usagers')).to.be.lessThan(text.indexOf('Indisponibilité prolongée'));
    });

    it('shows a commune agent only the risks touching its instances, and only the fiches it may see', async () => {
      const x = await target(t);
      const agent = await signedIn(t, 'commune', { communeId: x.communeB });
      const page = textOf((await agent.get(`/homologations/${x.hid}/seances/${x.meetings.signature}/ordre-du-jour`).expect(200)).text);
      expect(page).to.contain('Usurpation de compte').and.contain('n°2 Filtrer les accès');
      expect(page).not.to.contain('Perte des données des usagers').and.not.to.contain('Indisponibilité prolongée');
      const none = await signedIn(t, 'commune', { communeId: x.communeA });
      const other = textOf((await none.get(`/homologations/${x.hid}/seances/${x.meetings.signature}/ordre-du-jour`).expect(200)).text);
      expect(other).to.contain('Perte des données des usagers').and.not.to.contain('Usurpation de compte');
      // commune A does not see fiche n°2 (commune B's instance)
      expect(other).not.to.contain('Filtrer les accès');
    });

    it("is frozen with a held meeting's agenda: a later edit of a risk does not change it", async () => {
      const x = await target(t);
      const base = `/homologations/${x.hid}/seances/${x.meetings.signature}`;
      expect((await postForm(editor, `${base}/tenir`, `${base}/tenir`, {})).status).to.equal(303);
      expect(await updateRisk(t.db, x.risks.r2, 1, { ...x.risk, title: 'Usurpation revue', likelihood: 4, severity: 4, instanceIds: [x.instB] }, x.who, NOW)).to.include({ ok: true });
      const page = textOf((await editor.get(`${base}/ordre-du-jour`).expect(200)).text);
      expect(page).to.contain('Usurpation de compte').and.not.to.contain('Usurpation revue');
      const snapshot = JSON.parse((await t.db('meetings').where({ id: x.meetings.signature }).first()).snapshot);
      expect(snapshot.sections.find((s: { key: string }) => s.key === 'risques').risks).to.have.length(3);
    });
  });

  describe('risk changes since the last meeting', () => {
    it('lists risks created, levels changed, residual set and deleted since the previous meeting, on the meeting page and in the agenda', async () => {
      const x = await target(t);
      expect(await updateRisk(t.db, x.risks.r1, 1, { ...x.risk, title: 'Perte des données des usagers', likelihood: 3, severity: 3, residualLikelihood: 1, residualSeverity: 1, instanceIds: [x.instA] }, x.who, NOW)).to.include({ ok: true });
      expect(await updateRisk(t.db, x.risks.r2, 1, { ...x.risk, title: 'Usurpation de compte', likelihood: 1, severity: 3, residualLikelihood: 1, residualSeverity: 2, instanceIds: [x.instB] }, x.who, NOW)).to.include({ ok: true });
      expect(await deleteRisk(t.db, x.risks.r3, x.who, NOW)).to.equal(true);
      const saved = await createRisk(t.db, x.hid, { ...x.risk, title: 'Fuite par un prestataire', likelihood: 2, severity: 2 }, x.who, NOW);
      expect(saved.ok).to.equal(true);
      for (const url of [`/homologations/${x.hid}/seances/${x.meetings.signature}`, `/homologations/${x.hid}/seances/${x.meetings.signature}/ordre-du-jour`]) {
        const page = textOf((await editor.get(url).expect(200)).text);
        expect(page, url).to.contain('Risque n°1 : Perte des données des usagers').and.contain('Risque résiduel évalué : Improbable × Modéré (Faible).');
        expect(page, url).to.contain('Niveaux initiaux : Peu probable × Majeur (Modérée) → Improbable × Majeur (Modérée).');
        expect(page, url).to.contain('Risque n°3 : Indisponibilité prolongée').and.contain('Risque supprimé (il était Très probable × Critique (Très critique)).');
        expect(page, url).to.contain('Risque n°3 : Fuite par un prestataire').and.contain('Nouveau risque : Peu probable × Grave (Modérée).');
      }
      // the first meeting has no previous one: no changes listed
      const first = textOf((await editor.get(`/homologations/${x.hid}/seances/${x.meetings.follow}`).expect(200)).text);
      expect(first).not.to.contain('Nouveau risque');
      // a commune's agent reads the changes of its risks only
      const agent = await signedIn(t, 'commune', { communeId: x.communeA });
      const seen = textOf((await agent.get(`/homologations/${x.hid}/seances/${x.meetings.signature}`).expect(200)).text);
      expect(seen).to.contain('Risque résiduel évalué').and.not.to.contain('Usurpation de compte').and.not.to.contain('Risque supprimé');
    });
  });

  describe('a deleted risk that no fiche treated', () => {
    it('is still told in the next meeting of its own homologation, and not in another’s', async () => {
      const x = await target(t);
      const lone = await x.make({ title: 'Perte du prestataire d’hébergement', likelihood: 2, severity: 4 });
      expect(await deleteRisk(t.db, lone, x.who, NOW)).to.equal(true);
      const page = textOf((await editor.get(`/homologations/${x.hid}/seances/${x.meetings.signature}`).expect(200)).text);
      expect(page).to.contain('Perte du prestataire d’hébergement').and.contain('Risque supprimé');
      const other = await aHomologation().insert(t.db);
      const meeting = await createMeeting(t.db, other, {
        title: 'Autre comité', kind: 'suivi', startsAt: '2026-03-20T14:00', endsAt: '2026-03-20T16:00', place: 'Salle', visioUrl: '',
        objective: '', reminder: '', questions: '', coversAll: true, ficheIds: [], attendees: [],
      }, x.who, EARLY);
      const admin = await signIn(t.app, ACCOUNTS.admin);
      expect(textOf((await admin.get(`/homologations/${other}/seances/${meeting}`).expect(200)).text)).not.to.contain('Perte du prestataire');
    });
  });

  describe("the dashboard's risk block", () => {
    it('counts the risks by criticality, initial and residual, and links the critical risks waiting on a late fiche', async () => {
      const x = await target(t);
      const html = (await editor.get(`/homologations/${x.hid}/tableau-de-bord`).expect(200)).text;
      const page = textOf(html);
      expect(page).to.contain('Risques (3)').and.contain('Risques par criticité, avant et après traitement');
      expect(page).to.contain('Très critique (classe critique) 1 0').and.contain('Critique (classe critique) 1 0').and.contain('Modérée 1 0').and.contain('Faible 0 1')
        .and.contain('Résiduel non évalué — 2');
      expect(page).to.contain("Risques critiques en attente d'une fiche en retard (1)").and.contain('En retard : fiche n°1 (en cours).');
      expect(html).to.contain(`href="/homologations/${x.hid}/risques/${x.risks.r1}">Risque n°1 : Perte des données des usagers</a>`);
      const agent = await signedIn(t, 'commune', { communeId: x.communeB });
      const seen = textOf((await agent.get(`/homologations/${x.hid}/tableau-de-bord`).expect(200)).text);
      expect(seen).to.contain('Risques (1)').and.contain("Risques critiques en attente d'une fiche en retard (0)").and.not.to.contain('Perte des données des usagers');
    });
  });
});

describe('the risks where the committee meets them, as computed', () => {
  const scales = { ...DEFAULT_RISK_SCALES };
  const state = (l: number, g: number, rl: number | null = null, rg: number | null = null) => ({ number: 1, title: 'R', likelihood: l, severity: g, residualLikelihood: rl, residualSeverity: rg });

  it('takes the upper half of the classes, rounded down, as critical', () => {
    expect([1, 2, 3, 4].map((c) => isCriticalClass(c, 4))).to.deep.equal([false, false, true, true]);
    expect([1, 2, 3].map((c) => isCriticalClass(c, 3))).to.deep.equal([false, false, true]);
    expect([1, 2].map((c) => isCriticalClass(c, 2))).to.deep.equal([false, true]);
    expect(isCriticalClass(null, 4)).to.equal(false);
    expect(criticalClassLabels(scales)).to.deep.equal(['Critique', 'Très critique']);
  });

  it('says what changed in a risk: residual changed or removed, nothing when only the title moved', () => {
    expect(riskChanges(scales, state(3, 3, 2, 2), state(3, 3, 1, 1))).to.deep.equal(['Risque résiduel : Peu probable × Grave (Modérée) → Improbable × Modéré (Faible).']);
    expect(riskChanges(scales, state(3, 3, 2, 2), state(3, 3))).to.deep.equal(['Risque résiduel retiré (il était Peu probable × Grave (Modérée)).']);
    expect(riskChanges(scales, state(3, 3), { ...state(3, 3), title: 'Autre' })).to.deep.equal([]);
  });

  it("drops the risk table from a commune's agenda, and from its list of sections, when none of the risks touches it", () => {
    const row = { riskId: 1, number: 1, title: 'R', initial: 'Critique', residual: null, critical: true, waiting: true, fiches: [{ ficheId: 7, number: 1, title: 'F', status: 'En cours', late: true }], communeIds: [5] };
    const agenda = {
      organisation: 'O', planTitle: 'P', meetingTitle: 'M', when: '', dateShort: '', place: '', previousMeeting: null, generatedAt: '',
      sections: [
        { key: 'ordre_du_jour' as const, title: 'Ordre du jour proposé', items: ['Risques', "Détail du plan d'action"] },
        { key: 'risques' as const, title: 'Risques', critical: 'Critique', risks: [row], changes: [] },
      ],
    };
    expect(restrictAgenda(agenda, { ficheIds: new Set([7]), communeName: null, communeId: 6 }).sections).to.deep.equal([
      { key: 'ordre_du_jour', title: 'Ordre du jour proposé', items: ["Détail du plan d'action"] },
    ]);
    // its own risk, without the fiche it may not see: no longer waiting on a late fiche it cannot read
    const seen = restrictAgenda(agenda, { ficheIds: new Set(), communeName: null, communeId: 5 }).sections[1];
    expect(seen).to.deep.include({ risks: [{ ...row, fiches: [], waiting: false }] });
  });
});
