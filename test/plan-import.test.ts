import * as XLSX from '@e965/xlsx';
import { expect } from 'chai';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { createFiche, getFiches } from '../src/data/fiches';
import { createRisk, getRisk, listRisks } from '../src/data/risks';
import { purgeExpiredEvents } from '../src/services/scheduler';
import type { Actor } from '../src/domain/roles';
import { aFiche, aHomologation, anInstance, aService, aTeam, BUILDER, signedIn } from './builders';
import { type Agent, csrfOf, freshApp, NOW, type TestApp, textOf } from './helpers';

type Row = (string | number | null | XLSX.CellObject)[];

/** A workbook as a person would make it: sheets of rows, the first row the headers. */
function workbook(sheets: Record<string, Row[]>, bookType: 'xlsx' | 'ods' = 'xlsx'): Buffer {
  const wb = XLSX.utils.book_new();
  for (const [name, rows] of Object.entries(sheets)) XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet(rows), name);
  return XLSX.write(wb, { type: 'buffer', bookType }) as Buffer;
}

/** Seed 002's risk table as typed into a spreadsheet: a title row, its own headers, its criticality column. */
const SEED_RISKS = [
  ['Analyse de risques'],
  ['#', 'Risques identifiés', 'Probabilité', 'Gravité', 'Criticité', 'Responsable', 'Prévention'],
  [1, 'Perte de connexion internet', 'Peu probable', 'Majeur', 'Très critique', 'Equipe infra', 'Identifier des fournisseurs Internet alternatifs.'],
  [2, 'Panne matérielle du serveur', 'Peu probable', 'Majeur', 'Critique', 'Equipe infra', 'Stratégie de sauvegarde régulière.'],
  [3, 'Attaque de sécurité par ransomware', 'Probable', 'Grave', 'Très critique', 'Responsable sécurité', 'Plan de sécurité robuste.'],
  [4, 'Erreur humaine entraînant la perte de données', 'Peu probable', 'Modéré', 'Critique', 'Equipe informatique', 'Former les employés.'],
  [5, 'Mauvaise sauvegarde', 'Peu probable', 'Majeur', 'Critique', 'Infogérant / Responsable de la sécurité', 'Tester la restauration des sauvegardes.'],
  [6, "Perte d'intégrité des sauvegardes", 'Probable', 'Majeur', 'Très critique', 'Infogérant / Responsable de la sécurité', 'Chiffrement.'],
  [7, 'Risque pandémique', 'Improbable', 'Grave', 'Critique', 'Direction Générale', 'Plan de continuité des activités.'],
  [8, 'Destruction des serveurs', 'Peu probable', 'Grave', 'Très critique', 'Infogérant', 'Sauvegardes hors site.'],
  [9, 'Violation de données sensibles', 'Probable', 'Grave', 'Très critique', 'RSI', 'Authentification multifacteur.'],
];

const csvOf = (rows: Row[]) => rows.map((r) => r.map((c) => (c === null ? '' : /[;"\n]/.test(String(c)) ? `"${String(c).replace(/"/g, '""')}"` : String(c))).join(';')).join('\r\n');

describe('importing a spreadsheet into a homologation', () => {
  let t: TestApp;
  let hom: number;
  let infra: number;
  let editor: Agent;
  let instanceA: number;

  before(async () => {
    t = await freshApp();
    infra = await aTeam().named('Équipe infra').insert(t.db);
    const service = await aService().named('Service des imports').insert(t.db);
    instanceA = await anInstance().named('Imports production').ofService(service).insert(t.db);
    editor = await signedIn(t, 'editor');
  });
  beforeEach(async () => {
    hom = await aHomologation().withInstances(instanceA).insert(t.db);
  });
  after(() => t.close());

  const base = () => `/homologations/${hom}`;

  async function upload(agent: Agent, data: Buffer, name: string) {
    const page = await agent.get(`${base()}/import`).expect(200);
    return agent.post(`${base()}/import`).field('_csrf', csrfOf(page.text)).attach('fichier', data, name);
  }
  /** Uploads and opens the preview. */
  async function preview(agent: Agent, data: Buffer, name: string) {
    const res = await upload(agent, data, name);
    expect(res.status, textOf(res.text).slice(0, 400)).to.equal(303);
    const url = res.headers.location!;
    const page = await agent.get(url).expect(200);
    return { url, html: page.text, text: textOf(page.text).replace(/\s+([,.])/g, '$1') };
  }
  const expectedOf = (html: string) => /name="expected" value="([^"]+)"/.exec(html)?.[1];
  async function confirm(agent: Agent, p: { url: string; html: string }) {
    const expected = expectedOf(p.html);
    expect(expected, 'a confirmation form').to.be.a('string');
    return agent.post(`${p.url}/confirmer`).type('form').send({ _csrf: csrfOf(p.html), expected });
  }
  const fichesOf = async (planId: number) => getFiches(t.db, (await t.db('fiches').where('plan_id', planId).pluck('id')).map(Number));
  const auditCount = async () => Number((await t.db('audit_log').count({ n: '*' }).first())!.n);

  it("reads seed 002's risk table typed as a person would (title row, its own headers, Windows-1252 CSV), says the line error, and imports once it is fixed", async () => {
    const broken = SEED_RISKS.map((r) => [...r]);
    broken[3]![2] = 'Peu probabl';
    const latin1 = Buffer.from(csvOf(broken), 'latin1');
    const first = await preview(editor, latin1, 'risques.csv');
    expect(first.text).to.include('Ligne 4, colonne « Probabilité » : « Peu probabl » n\'est pas un niveau de vraisemblance');
    expect(first.text).to.include('la criticité est calculée par la matrice');
    expect(expectedOf(first.html), 'no confirmation while errors remain').to.equal(undefined);
    const refused = await editor.post(`${first.url}/confirmer`).type('form').send({ _csrf: csrfOf(first.html), expected: 'x' });
    expect(refused.status).to.equal(422);
    expect(Number((await t.db('risks').where('plan_id', hom).count({ n: '*' }).first())!.n)).to.equal(0);

    const fixed = await preview(editor, Buffer.from(csvOf(SEED_RISKS), 'latin1'), 'risques.csv');
    expect(fixed.text).to.include('Risques : 9 créés');
    const before = await auditCount();
    const done = await confirm(editor, fixed);
    expect(done.status).to.equal(303);
    const risks = await listRisks(t.db, hom, null);
    expect(risks.map((r) => r.number)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(risks[2]).to.include({ title: 'Attaque de sécurité par ransomware', likelihood: 3, severity: 2 });
    const first1 = await getRisk(t.db, risks[0]!.id);
    expect(first1, 'a typed team name matches the team, accents aside').to.include({ ownerTeamId: infra, ownerName: '', existingMeasures: 'Identifier des fournisseurs Internet alternatifs.' });
    const fifth = await getRisk(t.db, risks[4]!.id);
    expect(fifth, 'an owner who is no team is a named person').to.include({ ownerTeamId: null, ownerName: 'Infogérant / Responsable de la sécurité' });
    // nine risk creations and one import entry, with the file name and the counts
    expect(await auditCount()).to.equal(before + 10);
    const entry = await t.db('audit_log').where({ action: 'import', entity_id: hom }).first();
    expect(entry.summary).to.equal('Import de « risques.csv » : 9 risques créés.');
    expect(JSON.parse(entry.after)).to.include({ fileName: 'risques.csv', risksCreated: 9 });
  });

  it('creates fiches with their steps from French dates, statuses and loosely written headers; re-importing the same file changes nothing', async () => {
    const file = workbook({
      'Plan d’action': [
        ['N°', 'INTITULE', 'Échéance', 'Etat', 'Porteurs', 'Étapes', 'Effets de bord', 'Coût'],
        [1, 'Déployer l’authentification multifacteur', { t: 'n', v: 46387, z: 'dd/mm/yyyy' }, 'En cours', 'Equipe infra', '1. [Fait] Choisir la solution\n2. Déployer', 'Fort : le centre de contact est sollicité', '12 000 €'],
        [2, 'Centraliser les journaux', '31 décembre 2026', 'Non démarré', 'Équipe infra', 'Installer le collecteur', null, null],
        [null, null, null, null, null, 'Raccorder les serveurs', null, null],
        [3, 'Former les agents', '1er mars 2027', 'terminé', 'Équipe infra', null, null, null],
      ],
    });
    const p = await preview(editor, file, 'plan.xlsx');
    expect(p.text).to.include('Fiches : 3 créées');
    expect((await confirm(editor, p)).status).to.equal(303);
    const fiches = await fichesOf(hom);
    expect(fiches.map((f) => [f.number, f.targetDate, f.status])).to.deep.equal([
      [1, '2026-12-31', 'en_cours'], [2, '2026-12-31', 'non_demarre'], [3, '2027-03-01', 'fait'],
    ]);
    expect(fiches[0]!.steps.map((s) => [s.label, s.status])).to.deep.equal([['Choisir la solution', 'fait'], ['Déployer', 'non_demarre']]);
    expect(fiches[1]!.steps.map((s) => s.label), 'a row without a number carries another step').to.deep.equal(['Installer le collecteur', 'Raccorder les serveurs']);
    expect(fiches[0]!.sideEffects).to.deep.equal([{ id: fiches[0]!.sideEffects[0]!.id, level: 'fort', description: 'le centre de contact est sollicité' }]);
    expect(fiches[0]!.costAmount).to.equal(12000);
    expect(fiches[0]!.owners.map((o) => o.teamId)).to.deep.equal([infra]);

    const versions = fiches.map((f) => f.version);
    const audits = await auditCount();
    const again = await preview(editor, file, 'plan.xlsx');
    expect(again.text).to.include('Fiches : 0 créée, 0 mise à jour, 3 inchangées');
    expect(again.text).to.include("Le plan correspond déjà à ce fichier");
    expect((await fichesOf(hom)).map((f) => f.version)).to.deep.equal(versions);
    expect(await auditCount()).to.equal(audits);
  });

  it('names the row and the column of every line error, and writes nothing while one remains', async () => {
    const file = workbook({
      Fiches: [
        ['N°', 'Titre', 'Date cible', 'Statut', 'Porteurs'],
        [1, 'Une fiche correcte', '15/06/2026', 'Fait', 'Équipe infra'],
        [2, 'Une date impossible', '31/02/2024', 'En cours', 'Équipe infra'],
        [3, 'Un statut inconnu', '15/06/2026', 'Presque', 'Équipe infra'],
        ['x', 'Un numéro qui n’en est pas', '15/06/2026', 'Fait', 'Équipe infra'],
      ],
    });
    const p = await preview(editor, file, 'erreurs.xlsx');
    expect(p.text).to.include("Ligne 3, colonne « Date cible » : « 31/02/2024 » n'est pas une date");
    expect(p.text).to.include("Ligne 4, colonne « Statut » : « Presque » n'est pas un statut");
    expect(p.text).to.include("Ligne 5, colonne « N° » : « x » n'est pas un numéro entier");
    expect(expectedOf(p.html)).to.equal(undefined);
    expect(await fichesOf(hom)).to.have.length(0);
  });

  it('offers to create an unknown team, and creates it with the import', async () => {
    const file = workbook({ Fiches: [['N°', 'Titre', 'Date cible', 'Porteurs'], [1, 'Chiffrer les sauvegardes', '30/09/2026', 'Équipe stockage']] });
    const p = await preview(editor, file, 'equipe.xlsx');
    expect(p.text).to.include("l'équipe « Équipe stockage » n'existe pas");
    expect(p.html).to.include('value="Équipe stockage"');
    const mapped = await editor.post(`${p.url}/colonnes`).type('form')
      .send({ _csrf: csrfOf(p.html), creer: 'Équipe stockage', 'kind-0': 'fiches', 'col-0-0': 'number', 'col-0-1': 'title', 'col-0-2': 'targetDate', 'col-0-3': 'owners' });
    expect(mapped.status).to.equal(303);
    const again = await editor.get(p.url).expect(200);
    expect(textOf(again.text)).to.include('Équipes créées : Équipe stockage');
    expect((await confirm(editor, { url: p.url, html: again.text })).status).to.equal(303);
    const team = await t.db('teams').where({ name: 'Équipe stockage' }).first();
    expect((await fichesOf(hom))[0]!.owners.map((o) => o.teamId)).to.deep.equal([team.id]);
  });

  it('lets the user map a column whose header it does not know', async () => {
    const file = workbook({ Fiches: [['N°', 'Titre', 'Date cible', 'Porteurs', 'Ce que nous avons vu'], [1, 'Durcir les postes', '30/09/2026', 'Équipe infra', 'Des postes sans chiffrement']] });
    const p = await preview(editor, file, 'colonnes.xlsx');
    expect(p.html).to.match(/<select class="fr-select" id="col-0-4" name="col-0-4">\s*<option value="">Ne pas importer<\/option>/);
    await editor.post(`${p.url}/colonnes`).type('form')
      .send({ _csrf: csrfOf(p.html), 'kind-0': 'fiches', 'col-0-0': 'number', 'col-0-1': 'title', 'col-0-2': 'targetDate', 'col-0-3': 'owners', 'col-0-4': 'finding' })
      .expect(303);
    const again = await editor.get(p.url).expect(200);
    expect((await confirm(editor, { url: p.url, html: again.text })).status).to.equal(303);
    expect((await fichesOf(hom))[0]!.finding).to.equal('Des postes sans chiffrement');
  });

  it('updates the fiches it matches by number, leaves the others alone, and applies all or nothing when the plan changed since the preview', async () => {
    const one = await aFiche().inHomologation(hom).numbered(1).titled('Ancien titre').ownedBy(infra).withSteps(2).insert(t.db);
    const two = await aFiche().inHomologation(hom).numbered(2).titled('Fiche absente du fichier').ownedBy(infra).insert(t.db);
    const file = workbook({
      Fiches: [['N°', 'Titre', 'Date cible', 'Porteurs'], [1, 'Nouveau titre', '30/09/2026', 'Équipe infra'], [3, 'Nouvelle fiche', '30/09/2026', 'Équipe infra']],
    });
    const p = await preview(editor, file, 'maj.xlsx');
    expect(p.text).to.include('Fiches : 1 créée, 1 mise à jour');
    expect(p.text).to.match(/Mise à jour : titre, date cible/);
    // someone saves fiche 1 between the preview and the confirmation
    await t.db('fiches').where({ id: one }).update({ title: 'Changé entre-temps', version: t.db.raw('version + 1') });
    const conflict = await confirm(editor, p);
    expect(conflict.status).to.equal(409);
    expect(textOf(conflict.text)).to.include("Rien n'a été importé");
    expect((await fichesOf(hom)).map((f) => f.number), 'fiche 3 was not created either').to.deep.equal([1, 2]);
    // the preview shown with the refusal is the new one: confirming it applies
    const done = await confirm(editor, { url: p.url, html: conflict.text });
    expect(done.status).to.equal(303);
    const fiches = await fichesOf(hom);
    expect(fiches.map((f) => [f.number, f.title])).to.deep.equal([[1, 'Nouveau titre'], [2, 'Fiche absente du fichier'], [3, 'Nouvelle fiche']]);
    expect(fiches[0]!.steps, 'a file without steps leaves the steps alone').to.have.length(2);
    expect(fiches[1]!.id).to.equal(two);
  });

  it('applies a confirmation once: a second click does not import twice', async () => {
    const p = await preview(editor, workbook({ Fiches: [['N°', 'Titre', 'Date cible', 'Porteurs'], [1, 'Une fiche', '30/09/2026', 'Équipe infra']] }), 'deux-fois.xlsx');
    const [a, b] = await Promise.all([confirm(editor, p), confirm(editor, p)]);
    expect([a.status, b.status]).to.deep.equal([303, 303]);
    expect(await fichesOf(hom)).to.have.length(1);
    expect(Number((await t.db('audit_log').where({ action: 'import', entity_id: hom }).count({ n: '*' }).first())!.n)).to.equal(1);
  });

  it('reads ODS, and a UTF-8 CSV separated by commas', async () => {
    const ods = workbook({ Fiches: [['N°', 'Titre', 'Date cible', 'Porteurs'], [1, 'Depuis LibreOffice', '30/09/2026', 'Équipe infra']] }, 'ods');
    const p = await preview(editor, ods, 'plan.ods');
    expect((await confirm(editor, p)).status).to.equal(303);
    const csv = Buffer.from('\ufeffN°,Titre,Date cible,Porteurs\n2,"Depuis un CSV, avec virgule",2026-09-30,Équipe infra\n');
    const q = await preview(editor, csv, 'plan.csv');
    expect((await confirm(editor, q)).status).to.equal(303);
    expect((await fichesOf(hom)).map((f) => f.title)).to.deep.equal(['Depuis LibreOffice', 'Depuis un CSV, avec virgule']);
  });

  it('takes a formula\u2019s saved value and never evaluates one; a text that looks like a formula stays text', async () => {
    const wb = XLSX.utils.book_new();
    const ws = XLSX.utils.aoa_to_sheet([['N°', 'Titre', 'Date cible', 'Porteurs', 'Coût (€)', 'Constat'], [1, 'Formules', '30/09/2026', 'Équipe infra', 0, '=HYPERLINK("https://exemple.invalid","clic")']]);
    ws.E2 = { t: 'n', v: 42, f: 'WEBSERVICE("https://exemple.invalid")*0+42' };
    XLSX.utils.book_append_sheet(wb, ws, 'Fiches');
    const p = await preview(editor, XLSX.write(wb, { type: 'buffer', bookType: 'xlsx' }) as Buffer, 'formules.xlsx');
    expect((await confirm(editor, p)).status).to.equal(303);
    const [fiche] = await fichesOf(hom);
    expect(fiche!.costAmount).to.equal(42);
    expect(fiche!.finding).to.equal('=HYPERLINK("https://exemple.invalid","clic")');
  });

  describe('hostile files: a clear refusal, nothing stored', () => {
    const refusedWith = async (data: Buffer, name: string, status: number, message: string) => {
      const importsBefore = Number((await t.db('plan_imports').count({ n: '*' }).first())!.n);
      const res = await upload(editor, data, name);
      expect(res.status, textOf(res.text).slice(0, 300)).to.equal(status);
      expect(textOf(res.text)).to.include(message);
      expect(res.text).to.include('id="fichier-error"');
      expect(Number((await t.db('plan_imports').count({ n: '*' }).first())!.n)).to.equal(importsBefore);
      expect(await fichesOf(hom)).to.have.length(0);
    };

    it('a file over 10 MB', async () => {
      await refusedWith(Buffer.alloc(10 * 1024 * 1024 + 10, 0x41), 'gros.csv', 413, 'Le fichier dépasse 10 Mo');
    });

    it('a zip bomb (an archive that would inflate past 100 MB, whatever its directory declares)', async () => {
      const bomb = Buffer.from(zipSync({ '[Content_Types].xml': strToU8('<Types/>'), 'xl/worksheets/sheet1.xml': [new Uint8Array(120 * 1024 * 1024), { level: 9 }] }));
      // the directory lies: it declares 100 bytes
      const eocd = bomb.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
      const cd = bomb.readUInt32LE(eocd + 16);
      const second = bomb.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), cd + 46);
      bomb.writeUInt32LE(100, second + 24);
      await refusedWith(bomb, 'bombe.xlsx', 422, 'Le classeur décompressé dépasserait 100 Mo');
    });

    it('XML entities (billion laughs, external entities)', async () => {
      const entries = unzipSync(workbook({ Fiches: [['N°', 'Titre'], [1, 'x']] }));
      const sheet = Object.keys(entries).find((n) => n.startsWith('xl/worksheets/'))!;
      entries[sheet] = strToU8(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY ext SYSTEM "file:///etc/passwd">]>${Buffer.from(entries[sheet]!).toString('utf8').replace(/^<\?xml[^>]*\?>/, '')}`);
      await refusedWith(Buffer.from(zipSync(entries)), 'entites.xlsx', 422, 'DOCTYPE ou ENTITY');
    });

    it('100,000 rows', async () => {
      const rows = ['N°;Titre;Date cible;Porteurs', ...Array.from({ length: 100_000 }, (_, i) => `${(i % 9999) + 1};Fiche ${i};30/09/2026;Équipe infra`)];
      await refusedWith(Buffer.from(rows.join('\n')), 'cent-mille.csv', 422, 'dépasse 20');
    });

    it('a file that is no spreadsheet (an executable renamed), and an empty one', async () => {
      await refusedWith(Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), Buffer.alloc(200)]), 'plan.xlsx', 422, "n'est ni un classeur XLSX ou ODS");
      await refusedWith(Buffer.alloc(0), 'vide.csv', 422, 'Le fichier est vide');
    });
  });

  describe('round trip: the export re-imported gives the same plan', () => {
    let service: number;
    let second: number;
    let person: number;
    const actor = BUILDER as unknown as Actor;
    before(async () => {
      service = Number((await t.db('services').where({ name: 'Service des imports' }).first()).id);
      second = await anInstance().named('Imports recette').ofService(service).insert(t.db);
      person = Number((await t.db('people').insert({ name: 'Dominique Prestataire', email: 'dominique@import.example', function: '', created_at: new Date().toISOString() }).returning('id'))
        .map((r: { id: number } | number) => (typeof r === 'object' ? r.id : r))[0]);
    });

    /** A plan holding every kind of value the sheets carry. */
    async function richPlan(planId: number) {
      await t.db('plan_instances').insert({ plan_id: planId, instance_id: second });
      const f1 = await createFiche(t.db, planId, {
        number: 1, title: 'Déployer l’authentification multifacteur', finding: 'Des comptes sans second facteur.\nSur deux lignes.', targetDate: '2026-12-31',
        status: 'en_cours', conclusion: 'Faisable en six mois.', conclusionCounts: [{ count: 9, total: 14, label: 'instances concernées' }],
        costAmount: 12000, costSource: 'Devis', scopeAll: false, instanceIds: [second],
        owners: [{ teamId: infra, serviceId: null }, { teamId: infra, serviceId: service }],
        steps: [
          { id: null, position: 1, label: '=Choisir la solution', status: 'fait', forCommunes: false, assigneePersonId: person, targetDate: '2026-10-01' },
          { id: null, position: 2, label: 'Déployer chez les communes', status: 'bloque', forCommunes: true },
        ],
        sideEffects: [{ level: 'fort', description: 'Le centre de contact est sollicité' }, { level: 'faible', description: 'Une connexion plus longue' }],
      }, actor, new Date());
      const f2 = await createFiche(t.db, planId, {
        number: 4, title: 'Centraliser les journaux', finding: '', targetDate: '2027-03-01', status: 'non_demarre', conclusion: '', conclusionCounts: [],
        costAmount: null, costSource: '', scopeAll: true, instanceIds: [], owners: [{ teamId: infra, serviceId: null }], steps: [], sideEffects: [],
      }, actor, new Date());
      if (!f1.ok || !f2.ok) throw new Error('fiches');
      const r = await createRisk(t.db, planId, {
        title: 'Perte d’intégrité des sauvegardes', description: 'Des sauvegardes altérées', scenario: 'Rançongiciel', ownerTeamId: infra, ownerName: 'Responsable sécurité',
        likelihood: 3, severity: 3, existingMeasures: 'Sauvegarde quotidienne', treatment: 'transferer', residualLikelihood: 1, residualSeverity: 2,
        ficheIds: [f1.id, f2.id], instanceIds: [instanceA, second],
      }, actor, new Date());
      if (!r.ok) throw new Error('risk');
    }
    const planOf = async (planId: number) => ({
      fiches: (await fichesOf(planId)).map(({ id: _id, planId: _p, version: _v, createdAt: _c, updatedAt: _u, steps, sideEffects, ...f }) => ({
        ...f, steps: steps.map(({ id: _s, ...s }) => s), sideEffects: sideEffects.map(({ id: _e, ...e }) => e),
      })),
      risks: await Promise.all((await listRisks(t.db, planId, null)).map(async (r) => {
        const { id: _id, planId: _p, version: _v, createdAt: _c, updatedAt: _u, fiches, ...rest } = (await getRisk(t.db, r.id))!;
        return { ...rest, fiches: fiches.map((f) => f.number) };
      })),
    });

    const download = (url: string) => editor.get(url).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    }).expect(200).then((r) => r.body as Buffer);

    it('the template, filled with its example rows, imports without an error', async () => {
      const p = await preview(editor, await download(`${base()}/import/modele.xlsx`), 'modele.xlsx');
      expect(p.text).not.to.include('erreur');
      expect(p.text).to.include('Fiches : 1 créée');
      expect(p.text).to.include('Risques : 1 créé');
      expect(p.text, 'the help sheet is left out').to.include("n'est pas importée");
    });

    it('a CSV table exported then re-imported changes nothing', async () => {
      await richPlan(hom);
      for (const table of ['fiches', 'etapes', 'risques']) {
        const p = await preview(editor, await download(`${base()}/export/${table}.csv`), `${table}.csv`);
        expect(p.text, table).to.match(/Le plan correspond déjà à ce fichier/);
      }
    });

    for (const format of ['xlsx', 'ods'] as const) {
      it(`in ${format.toUpperCase()}: into the same homologation nothing changes; into an empty one with the same perimeter, the same plan`, async () => {
        await richPlan(hom);
        const file = await download(`${base()}/export.${format}`);
        const same = await preview(editor, file, `export.${format}`);
        expect(same.text).to.include('Fiches : 0 créée, 0 mise à jour, 2 inchangées');
        expect(same.text).to.include('Risques : 0 créé, 0 mis à jour, 1 inchangé');
        expect(same.text).to.include('Le plan correspond déjà à ce fichier');

        const original = await planOf(hom);
        hom = await aHomologation().withInstances(instanceA).insert(t.db);
        await t.db('plan_instances').insert({ plan_id: hom, instance_id: second });
        const into = await preview(editor, file, `export.${format}`);
        expect(into.text).to.include('Fiches : 2 créées');
        expect((await confirm(editor, into)).status).to.equal(303);
        expect(await planOf(hom)).to.deep.equal(original);
      });
    }
  });

  it('keeps an upload a day at most: the retention round removes it, its preview is then gone', async () => {
    const p = await preview(editor, workbook({ Fiches: [['N°', 'Titre'], [1, 'Une fiche']] }), 'a.xlsx');
    const id = Number(/\/import\/(\d+)$/.exec(p.url)![1]);
    await purgeExpiredEvents({ db: t.db, now: () => new Date(NOW.getTime() + 23 * 3600_000) });
    expect(await t.db('plan_imports').where({ id }).first(), 'still there after 23 hours').to.not.equal(undefined);
    await purgeExpiredEvents({ db: t.db, now: () => new Date(NOW.getTime() + 25 * 3600_000) });
    expect(await t.db('plan_imports').where({ id }).first()).to.equal(undefined);
    await editor.get(p.url).expect(404);
  });

  it('is for those who edit the homologation: a viewer gets 403 on the form, the preview and the confirmation', async () => {
    const viewer = await signedIn(t, 'viewer');
    await viewer.get(`${base()}/import`).expect(403);
    const p = await preview(editor, workbook({ Fiches: [['N°', 'Titre', 'Date cible', 'Porteurs'], [1, 'Une fiche', '30/09/2026', 'Équipe infra']] }), 'a.xlsx');
    await viewer.get(p.url).expect(403);
    const page = await viewer.get('/homologations').expect(200);
    await viewer.post(`${p.url}/confirmer`).type('form').send({ _csrf: csrfOf(page.text), expected: expectedOf(p.html) }).expect(403);
    expect(await fichesOf(hom)).to.have.length(0);
  });
});
