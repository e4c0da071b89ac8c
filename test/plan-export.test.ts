import * as XLSX from '@e965/xlsx';
import { expect } from 'chai';
import { strFromU8, unzipSync } from 'fflate';
import type { Response } from 'supertest';
import { extractText, getDocumentProxy } from 'unpdf';
import { createFiche } from '../src/data/fiches';
import { createMeeting } from '../src/data/meetings';
import { planSnapshot } from '../src/data/plan-export';
import { countQueries } from '../src/data/query-count';
import { createRisk, type RiskInput } from '../src/data/risks';
import { FICHE_COLUMNS, OWNER_COLUMNS, PLAN_SHEETS, RISK_COLUMNS, SIDE_EFFECT_COLUMNS, STEP_COLUMNS } from '../src/domain/plan-sheets';
import type { Actor } from '../src/domain/roles';
import { daySerial, writeWorkbook } from '../src/spreadsheet/write';
import { aCommune, aFiche, aHomologation, anInstance, aService, aTeam, BUILDER, signedIn } from './builders';
import { type Agent, freshApp, NOW, type TestApp } from './helpers';

const ACTOR = BUILDER as unknown as Actor;

/** A binary body, whatever its type. */
const download = async (agent: Agent, url: string, status = 200): Promise<Response & { body: Buffer }> => {
  const res = await agent.get(url).buffer(true).parse((r, cb) => {
    const chunks: Buffer[] = [];
    r.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    r.on('end', () => cb(null, Buffer.concat(chunks)));
  });
  expect(res.status, `${url}: ${String(res.body).slice(0, 200)}`).to.equal(status);
  return res as Response & { body: Buffer };
};

/** The rows of a sheet as arrays (dates as Date with cellDates). */
const rowsOf = (wb: XLSX.WorkBook, name: string) => XLSX.utils.sheet_to_json<unknown[]>(wb.Sheets[name]!, { header: 1, defval: null });
const headersOf = (wb: XLSX.WorkBook, name: string) => rowsOf(wb, name)[0];

const IMPORTABLE = ['Fiches', 'Étapes', 'Effets de bord', 'Porteurs', 'Risques'];
/** The headers each importable sheet must carry, from the spec itself. */
const SPEC_HEADERS: Record<string, string[]> = {
  Fiches: FICHE_COLUMNS.filter((c) => !['steps', 'stepStatus', 'sideEffects', 'owners'].includes(c.key)).map((c) => c.header),
  Étapes: STEP_COLUMNS.map((c) => c.header),
  'Effets de bord': SIDE_EFFECT_COLUMNS.map((c) => c.header),
  Porteurs: OWNER_COLUMNS.map((c) => c.header),
  Risques: RISK_COLUMNS.map((c) => c.header),
};

describe('the plan export (XLSX, ODS, CSV), the import template and the committee dossier', () => {
  let t: TestApp;
  let hom: number;
  let bare: number;
  let editor: Agent;
  let viewer: Agent;
  let commune: Agent;

  before(async () => {
    t = await freshApp();
    const communeId = await aCommune().named('Commune exportée').insert(t.db);
    const service = await aService().named('Toodego export').insert(t.db);
    const team = await aTeam().named('Équipe sécurité export').insert(t.db);
    const team2 = await aTeam().named('Équipe exploitation export').insert(t.db);
    const own = await anInstance().named('Toodego (commune)').ofService(service).inCommune(communeId).insert(t.db);
    const other = await anInstance().named('Toodego (production)').ofService(service).insert(t.db);
    hom = await aHomologation().named('Plan d’action « Téléservices » 2026').withInstances(own, other).insert(t.db);
    bare = await aHomologation().named('Homologation sans séance').withInstances(other).insert(t.db);

    const f1 = await createFiche(t.db, hom, {
      number: 1, title: "Déployer l'authentification multifacteur", finding: '=1+1 ressemble à une formule', targetDate: '2026-12-31', status: 'en_cours',
      conclusion: 'Compatible presque partout.', conclusionCounts: [{ count: 9, total: 14, label: 'instances concernées' }],
      costAmount: 12000, costSource: 'Devis', scopeAll: false, instanceIds: [own, other],
      owners: [{ teamId: team, serviceId: null }, { teamId: team2, serviceId: service }],
      steps: [
        { id: null, position: 1, label: 'Choisir la solution', status: 'fait' },
        { id: null, position: 2, label: 'Former les communes', status: 'non_demarre', forCommunes: true },
      ],
      sideEffects: [{ level: 'fort', description: 'Une étape de plus à la connexion' }],
    }, ACTOR, NOW);
    if (!f1.ok) throw new Error('fiche 1');
    const f2 = await aFiche().inHomologation(hom).numbered(2).titled('Fiche hors de la commune').onInstances(other).insert(t.db);
    await aFiche().inHomologation(bare).numbered(1).titled('Seule fiche').insert(t.db);

    const risk = (over: Partial<RiskInput>): RiskInput => ({
      title: 'Usurpation de compte', description: 'Un mot de passe dérobé.', scenario: 'Hameçonnage', ownerTeamId: team, ownerName: '',
      likelihood: 3, severity: 3, existingMeasures: 'Mots de passe longs', treatment: 'reduire', residualLikelihood: 1, residualSeverity: 3,
      ficheIds: [f1.id, f2], instanceIds: [own, other], ...over,
    });
    expect((await createRisk(t.db, hom, risk({}), ACTOR, NOW)).ok).to.equal(true);
    expect((await createRisk(t.db, hom, risk({ title: 'Risque hors de la commune', treatment: 'accepter', instanceIds: [other], ficheIds: [f2] }), ACTOR, NOW)).ok).to.equal(true);

    await t.db('milestones').insert({ plan_id: hom, due_date: '2026-06-30', title: 'Audit de sécurité', done: false });
    await createMeeting(t.db, hom, {
      title: 'Comité de suivi de printemps', kind: 'suivi', startsAt: '2026-03-20T14:00', endsAt: '2026-03-20T16:00', place: 'Salle du conseil', visioUrl: '',
      objective: 'Point sur les fiches', reminder: '', questions: '', coversAll: true, ficheIds: [], attendees: [{ userId: null, name: 'Alice', organisation: 'DSI' }],
    }, ACTOR, NOW);
    await t.db('signatures').insert({
      plan_id: hom, meeting_id: null, signed: true, outcome: 'sous_conditions', authority: 'Le directeur général des services', authority_email: '',
      decided_on: '2026-03-10', duration_months: 24, ends_on: '2028-03-10', conditions: '- Déployer le second facteur', author_id: null, created_at: NOW.toISOString(),
    });

    editor = await signedIn(t, 'editor');
    viewer = await signedIn(t, 'viewer');
    commune = await signedIn(t, 'commune', { communeId });
  });
  after(() => t.close());

  const base = () => `/homologations/${hom}`;

  it('writes the XLSX: the sheets in order, the spec headers, a fiche as the formatters write it, typed cells', async () => {
    const res = await download(editor, `${base()}/export.xlsx`);
    expect(res.headers['content-type']).to.match(/^application\/vnd\.openxmlformats-officedocument\.spreadsheetml\.sheet/);
    expect(res.headers['content-disposition']).to.equal(
      "attachment; filename=\"plan-d-action-teleservices-2026-2026-03-16.xlsx\"; filename*=UTF-8''plan-d-action-teleservices-2026-2026-03-16.xlsx",
    );
    expect(res.headers['x-content-type-options']).to.equal('nosniff');

    const wb = XLSX.read(res.body, { cellDates: true });
    expect(wb.SheetNames).to.deep.equal([...PLAN_SHEETS.map((s) => s.name), 'Calendrier', 'Comités', 'Décisions']);
    for (const name of IMPORTABLE) expect(headersOf(wb, name), name).to.deep.equal(SPEC_HEADERS[name]);

    const fiches = wb.Sheets.Fiches!;
    const col = (header: string) => XLSX.utils.encode_col(SPEC_HEADERS.Fiches!.indexOf(header));
    expect(fiches[`${col('N°')}2`]).to.include({ t: 'n', v: 1 });
    expect(fiches[`${col('Titre')}2`]).to.include({ t: 's', v: "Déployer l'authentification multifacteur" });
    expect(fiches[`${col('Statut')}2`].v).to.equal('En cours');
    expect(fiches[`${col("Chiffres de l'étude")}2`].v).to.equal('9 / 14 : instances concernées');
    expect(fiches[`${col('Coût (€)')}2`]).to.include({ t: 'n', v: 12000 });
    expect(fiches[`${col('Périmètre')}2`].v).to.equal('Toodego export — Toodego (commune)\nToodego export — Toodego (production)');
    // a date cell, not a text: with cellDates a Date; without, the serial number and a date format
    const date = fiches[`${col('Date cible')}2`]!;
    expect(date.t).to.equal('d');
    expect((date.v as Date).toISOString().slice(0, 10)).to.equal('2026-12-31');
    const raw = XLSX.read(res.body).Sheets.Fiches![`${col('Date cible')}2`]!;
    expect(raw).to.include({ t: 'n', v: daySerial('2026-12-31') });
    expect(XLSX.SSF.is_date(String(raw.z))).to.equal(true);
    // fiche 2, on one instance
    expect(fiches[`${col('Périmètre')}3`].v).to.equal('Toodego export — Toodego (production)');

    expect(rowsOf(wb, 'Étapes').slice(1)).to.deep.equal([[1, 1, 'Choisir la solution', 'Fait', 'Non', null, null], [1, 2, 'Former les communes', 'Non démarré', 'Oui', null, null]]);
    expect(rowsOf(wb, 'Effets de bord').slice(1)).to.deep.equal([[1, 'Fort', 'Une étape de plus à la connexion']]);
    expect(rowsOf(wb, 'Porteurs').slice(1)).to.deep.equal([[1, 'Équipe sécurité export', null], [1, 'Équipe exploitation export', 'Toodego export']]);
    const risks = rowsOf(wb, 'Risques');
    const r1 = Object.fromEntries(risks[0]!.map((h, i) => [String(h), risks[1]![i]]));
    expect(r1).to.include({
      'N°': 1, Risque: 'Usurpation de compte', Vraisemblance: 'Probable', 'Gravité': 'Majeur', 'Criticité': 'Critique', Responsable: 'Équipe sécurité export',
      Traitement: 'Réduire', 'Vraisemblance résiduelle': 'Improbable', 'Gravité résiduelle': 'Majeur', Fiches: '1, 2',
      Instances: 'Toodego export — Toodego (commune)\nToodego export — Toodego (production)',
    });
    expect(Object.fromEntries(risks[0]!.map((h, i) => [String(h), risks[2]![i]]))).to.include({ Traitement: 'Accepter', Fiches: '2' });

    const calendar = rowsOf(wb, 'Calendrier');
    expect(calendar[0]).to.deep.equal(['Date', 'Jalon', 'Fait']);
    expect((calendar[1]![0] as Date).toISOString().slice(0, 10)).to.equal('2026-06-30');
    expect(calendar[1]!.slice(1)).to.deep.equal(['Audit de sécurité', 'Non']);
    const meetings = rowsOf(wb, 'Comités');
    expect(meetings[1]).to.include('Comité de suivi de printemps').and.to.include('14:00 – 16:00').and.to.include('Toutes');
    const decisions = rowsOf(wb, 'Décisions');
    expect(decisions[1]).to.include('Homologuée sous conditions').and.to.include(24).and.to.include('- Déployer le second facteur');
    expect((decisions[1]![4] as Date).toISOString().slice(0, 10)).to.equal('2028-03-10');
  });

  it('freezes the header row and sets a filter in every XLSX sheet, and never turns a text into a formula', async () => {
    const res = await download(editor, `${base()}/export.xlsx`);
    const files = unzipSync(new Uint8Array(res.body));
    const sheets = Object.keys(files).filter((n) => /^xl\/worksheets\/sheet\d+\.xml$/.test(n));
    expect(sheets).to.have.length(8);
    for (const name of sheets) {
      const xml = strFromU8(files[name]!);
      expect(xml, name).to.match(/<sheetView[^>]*><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"\/>/);
      expect(xml, name).to.match(/<autoFilter ref="A1:[A-Z]+\d+"\/>/);
      expect(xml, name).not.to.include('<f>');
    }
    const wb = XLSX.read(res.body);
    expect(wb.Sheets.Fiches!['!autofilter']).to.deep.equal({ ref: `A1:${XLSX.utils.encode_col(SPEC_HEADERS.Fiches!.length - 1)}3` });
    const finding = wb.Sheets.Fiches![`${XLSX.utils.encode_col(SPEC_HEADERS.Fiches!.indexOf('Constat'))}2`]!;
    expect(finding).to.include({ t: 's', v: '=1+1 ressemble à une formule' });
    expect(finding.f).to.equal(undefined);
  });

  it('writes the ODS: same sheets and headers, date cells as dates, a filter and a frozen header per sheet, the mimetype first', async () => {
    const res = await download(editor, `${base()}/export.ods`);
    expect(res.headers['content-type']).to.match(/^application\/vnd\.oasis\.opendocument\.spreadsheet/);
    expect(res.headers['content-disposition']).to.include('filename="plan-d-action-teleservices-2026-2026-03-16.ods"');
    const wb = XLSX.read(res.body, { cellDates: true });
    expect(wb.SheetNames).to.deep.equal([...IMPORTABLE, 'Calendrier', 'Comités', 'Décisions']);
    for (const name of IMPORTABLE) expect(headersOf(wb, name), name).to.deep.equal(SPEC_HEADERS[name]);
    const date = wb.Sheets.Fiches![`${XLSX.utils.encode_col(SPEC_HEADERS.Fiches!.indexOf('Date cible'))}2`]!;
    expect(date.t).to.equal('d');
    expect(wb.Sheets.Fiches![`${XLSX.utils.encode_col(SPEC_HEADERS.Fiches!.indexOf('Constat'))}2`]).to.include({ t: 's', v: '=1+1 ressemble à une formule' });

    const files = unzipSync(new Uint8Array(res.body));
    expect(Object.keys(files)[0]).to.equal('mimetype');
    const content = strFromU8(files['content.xml']!);
    expect(content).to.include('office:value-type="date" office:date-value="2026-12-31"');
    expect(content.match(/<table:database-range [^>]*table:display-filter-buttons="true"\/>/g)).to.have.length(8);
    expect(content).not.to.include('table:formula');
    const settings = strFromU8(files['settings.xml']!);
    expect(settings.match(/config:name="VerticalSplitPosition" config:type="int">1</g)).to.have.length(8);
    expect(strFromU8(files['META-INF/manifest.xml']!)).to.include('settings.xml');
  });

  it('writes each table as a CSV, a cell that looks like a formula escaped, dates as 31/12/2026', async () => {
    const res = await editor.get(`${base()}/export/fiches.csv`).expect(200);
    expect(res.headers['content-type']).to.equal('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).to.include('plan-d-action-teleservices-2026-2026-03-16-fiches.csv');
    expect(res.text.charCodeAt(0)).to.equal(0xfeff);
    expect(res.text).to.include(`${SPEC_HEADERS.Fiches!.join(';')}\n`);
    expect(res.text).to.include(";'=1+1 ressemble à une formule;");
    expect(res.text).to.include(';31/12/2026;');
    const risks = await editor.get(`${base()}/export/risques.csv`).expect(200);
    expect(risks.text).to.include('Usurpation de compte').and.to.include(';1, 2;');
    await editor.get(`${base()}/export/inconnue.csv`).expect(404);
  });

  it("gives a commune agent only its fiches and risks, each scope narrowed to its commune's instances", async () => {
    const wb = XLSX.read((await download(commune, `${base()}/export.xlsx`)).body);
    const fiches = rowsOf(wb, 'Fiches');
    expect(fiches.slice(1).map((r) => r[0])).to.deep.equal([1]);
    expect(fiches[1]).to.include('Toodego export — Toodego (commune)');
    expect(JSON.stringify(fiches)).not.to.include('Toodego (production)');
    const risks = rowsOf(wb, 'Risques');
    expect(risks.slice(1).map((r) => r[1])).to.deep.equal(['Usurpation de compte']);
    const header = risks[0]!;
    // its fiche 2 is not the commune's: the risk lists fiche 1 only, and the commune's instance only
    expect(risks[1]![header.indexOf('Fiches')]).to.equal('1');
    expect(risks[1]![header.indexOf('Instances')]).to.equal('Toodego export — Toodego (commune)');
    expect(rowsOf(wb, 'Étapes').slice(1).map((r) => r[0])).to.deep.equal([1, 1]);
    // the decision without its conditions' text, as on the homologation's page
    const decisions = rowsOf(wb, 'Décisions');
    expect(decisions[1]).to.include('Homologuée sous conditions').and.not.to.include('- Déployer le second facteur');
    const csv = await commune.get(`${base()}/export/fiches.csv`).expect(200);
    expect(csv.text).not.to.include('Fiche hors de la commune');
  });

  it('builds the committee dossier: the agenda, the workbook, the decision, the risks and a LISEZMOI; refused to a commune agent', async () => {
    const res = await download(viewer, `${base()}/dossier.zip`);
    expect(res.headers['content-type']).to.equal('application/zip');
    expect(res.headers['content-disposition']).to.include('plan-d-action-teleservices-2026-2026-03-16-dossier-comite.zip');
    const files = unzipSync(new Uint8Array(res.body));
    expect(Object.keys(files).sort()).to.deep.equal([
      'LISEZMOI.txt', 'decision.pdf', 'ordre-du-jour-2026-03-20.pdf', 'plan-d-action-teleservices-2026-2026-03-16.xlsx', 'risques.csv',
    ]);
    for (const pdf of ['decision.pdf', 'ordre-du-jour-2026-03-20.pdf']) expect(strFromU8(files[pdf]!.slice(0, 5))).to.equal('%PDF-');
    const { text } = await extractText(await getDocumentProxy(new Uint8Array(files['decision.pdf']!)), { mergePages: true });
    expect(text).to.include("Décision d'homologation").and.to.include('Homologuée sous conditions').and.to.include('10/03/2026')
      .and.to.include('Le directeur général des services').and.to.include('24 mois').and.to.include('10/03/2028').and.to.include('Déployer le second facteur');
    expect(XLSX.read(files['plan-d-action-teleservices-2026-2026-03-16.xlsx']!).SheetNames).to.include('Risques');
    expect(strFromU8(files['risques.csv']!)).to.include('Usurpation de compte').and.to.include('Risque hors de la commune');
    const readme = strFromU8(files['LISEZMOI.txt']!);
    expect(readme).to.include('Dossier du comité — Plan d’action « Téléservices » 2026').and.to.include('ordre-du-jour-2026-03-20.pdf')
      .and.to.include('decision.pdf').and.to.include('16/03/2026');
    await commune.get(`${base()}/dossier.zip`).expect(403);
  });

  it('says in the LISEZMOI when there is no meeting nor decision, and leaves their files out', async () => {
    const files = unzipSync(new Uint8Array((await download(editor, `/homologations/${bare}/dossier.zip`)).body));
    expect(Object.keys(files).sort()).to.deep.equal(['LISEZMOI.txt', 'homologation-sans-seance-2026-03-16.xlsx', 'risques.csv']);
    const readme = strFromU8(files['LISEZMOI.txt']!);
    expect(readme).to.include("ne contient pas d'ordre du jour").and.to.include('ne contient pas de décision');
  });

  for (const fmt of ['xlsx', 'ods'] as const) {
    it(`writes the import template (${fmt}): the five sheets with the spec headers and one example row, then the help`, async () => {
      const res = await download(editor, `${base()}/import/modele.${fmt}`);
      const wb = XLSX.read(res.body, { cellDates: true });
      expect(wb.SheetNames).to.deep.equal([...IMPORTABLE, "Mode d'emploi"]);
      for (const name of IMPORTABLE) {
        const rows = rowsOf(wb, name);
        expect(rows[0], name).to.deep.equal(SPEC_HEADERS[name]);
        expect(rows, name).to.have.length(2);
        expect(rows[1]![0], name).to.equal(1);
      }
      expect(rowsOf(wb, 'Fiches')[1]).to.include("Déployer l'authentification multifacteur");
      // the example uses the homologation's own instances, so it imports as it is
      expect(rowsOf(wb, 'Fiches')[1]).to.include('Toodego export — Toodego (commune)\nToodego export — Toodego (production)');
      const help = rowsOf(wb, "Mode d'emploi");
      expect(help[0]).to.deep.equal(['Feuille', 'Colonne', 'Obligatoire', "Ce qu'elle contient"]);
      expect(help.length - 1).to.equal(Object.values(SPEC_HEADERS).reduce((n, h) => n + h.length, 0));
      expect(help).to.deep.include(['5. Risques', 'Criticité', 'Non', 'Calculée par la matrice : la valeur du fichier est ignorée.']);
      expect(help).to.deep.include(['1. Fiches', 'N°', 'Oui', FICHE_COLUMNS[0].help]);
    });
  }

  it('exports without writing anything, in a fixed number of queries whatever the number of fiches', async () => {
    const audit = Number((await t.db('audit_log').count({ n: '*' }).first())!.n);
    await download(editor, `${base()}/export.xlsx`);
    await download(editor, `${base()}/dossier.zip`);
    expect(Number((await t.db('audit_log').count({ n: '*' }).first())!.n)).to.equal(audit);

    const plan = { id: hom, title: 'x', organisation: 'y' };
    const counter = countQueries(t.db);
    try {
      await planSnapshot(t.db, plan, null);
      const before = counter.count();
      for (let i = 0; i < 5; i++) await aFiche().inHomologation(hom).withSteps(2).withSideEffect('faible', 'x').insert(t.db);
      counter.reset();
      await planSnapshot(t.db, plan, null);
      expect(counter.count()).to.equal(before);
    } finally {
      counter.stop();
    }
  });

  it("links the exports from the homologation's page, the committee dossier for the organisation's staff only", async () => {
    const page = (await editor.get(base()).expect(200)).text;
    expect(page).to.include(`href="${base()}/export.xlsx" download>Tableur (XLSX)</a>`);
    expect(page).to.include(`href="${base()}/export.ods" download>Tableur (ODS)</a>`);
    expect(page).to.include(`href="${base()}/dossier.zip" download>Dossier du comité (ZIP)</a>`);
    const communePage = (await commune.get(base()).expect(200)).text;
    expect(communePage).to.include(`href="${base()}/export.xlsx"`);
    expect(communePage).not.to.include('dossier.zip');
  });

  it('the writer: an ISO day in a date column is a date, anything else stays a text; a number stays a number', async () => {
    const buf = await writeWorkbook([{ name: 'T', columns: [{ header: 'D', kind: 'date' }, { header: 'N', kind: 'number' }], rows: [['2026-02-30', 3], ['31/12/2026', -2], ['2024-02-29', null]] }], 'xlsx');
    const ws = XLSX.read(buf).Sheets.T!;
    expect(ws.A2).to.include({ t: 's', v: '2026-02-30' });
    expect(ws.A3).to.include({ t: 's', v: '31/12/2026' });
    expect(ws.A4).to.include({ t: 'n', v: daySerial('2024-02-29') });
    expect(ws.B3).to.include({ t: 'n', v: -2 });
    expect(ws.B4).to.equal(undefined);
  });
});
