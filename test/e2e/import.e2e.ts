import * as XLSX from '@e965/xlsx';
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { listRisks } from '../../src/data/risks';
import { aFiche, aHomologation } from '../builders';
import { ACCOUNTS, type TestApp } from '../helpers';
import { checkPage, SHOTS, signedInPage, startBrowserSession } from './browser';

// Seed 002's "Analyse de risques" typed into a spreadsheet as a person would: a title row, the seed's own headers
// (« # », « Probabilité », « Prévention »…), its criticality column, a column of comments the app does not know,
// and the fiches treating each risk by their numbers.
const HEADERS = ['#', 'Risques identifiés', 'Probabilité', 'Gravité', 'Criticité', 'Responsable', 'Prévention', 'Fiches', 'Commentaire'];
const RISKS: (string | number)[][] = [
  [1, 'Perte de connexion internet', 'Peu probable', 'Majeur', 'Très critique', 'Equipe infra', 'Identifier des fournisseurs Internet alternatifs. Mettre en place un mécanisme de bascule automatique.', '2, 4', ''],
  [2, 'Panne matérielle du serveur', 'Peu probable', 'Majeur', 'Critique', 'Equipe infra', 'Stratégie de sauvegarde régulière. Identifier un centre de données alternatif. Plan de récupération après sinistre.', '1, 2', ''],
  [3, 'Attaque de sécurité par ransomware', 'Probable', 'Grave', 'Très critique', 'Responsable sécurité', 'Plan de sécurité robuste, des pare-feux, détection des intrusions, ... Former régulièrement les employés.', '3, 1, 5', 'à revoir en comité'],
  [4, 'Erreur humaine entraînant la perte de données', 'Peu probable', 'Modéré', 'Critique', 'Equipe informatique', 'Former les employés. Automatiser les sauvegardes régulières. Mettre en place des mécanismes de validation.', '5, 1', ''],
  [5, 'Mauvaise sauvegarde', 'Peu probable', 'Majeur', 'Critique', 'Infogérant / Responsable de la sécurité', 'Stratégie de sauvegarde. Tester la restauration des sauvegardes. Documenter les procédures de sauvegarde. Former le personnel.', '1', ''],
  [6, 'Perte d’intégrité des sauvegardes', 'Probable', 'Majeur', 'Très critique', 'Infogérant / Responsable de la sécurité', 'Mettre en œuvre des mécanismes de chiffrement. Contrôles d’authentification et d’autorisation. Vérifier régulièrement l’intégrité des sauvegardes.', '1, 3', ''],
  [7, 'Risque pandémique', 'Improbable', 'Grave', 'Critique', 'Direction Générale', 'Plan de continuité des activités. Prévoir des ressources financières.', '4', ''],
  [8, 'Destruction des serveurs', 'Peu probable', 'Grave', 'Très critique', 'Infogérant', 'Réaliser des sauvegardes régulières des données et les stocker dans un lieu sûr. Plan de reprise après sinistre.', '1, 2', ''],
  [9, 'Violation de données sensibles', 'Probable', 'Grave', 'Très critique', 'RSI', 'Authentification multi-facteurs et gestion des privilèges. Utiliser des méthodes de chiffrement. Sensibilisation des employés.', '3, 5', ''],
];

function spreadsheet(dir: string, name: string, rows: (string | number)[][]): string {
  const wb = XLSX.utils.book_new();
  XLSX.utils.book_append_sheet(wb, XLSX.utils.aoa_to_sheet([['Analyse de risques'], HEADERS, ...rows]), 'Analyse de risques');
  const file = path.join(dir, name);
  writeFileSync(file, XLSX.write(wb, { type: 'buffer', bookType: 'xlsx' }) as Buffer);
  return file;
}

describe('importing a spreadsheet in a real browser (chromium)', function () {
  this.timeout(180_000);
  let session: Awaited<ReturnType<typeof startBrowserSession>>;
  let browser: Browser;
  let base: string;
  let t: TestApp;
  let page: Page;
  let hid: number;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'import-e2e-'));

  before(async () => {
    session = await startBrowserSession();
    ({ browser, base, t } = session);
    const instances = await t.db('instances').where({ environment: 'prod' }).orderBy('id').limit(2).pluck('id');
    hid = await aHomologation().named('Plateforme de services en ligne (import)').withInstances(...instances.map(Number)).insert(t.db);
    const team = Number((await t.db('teams').orderBy('id').first()).id);
    for (const title of ['Sauvegardes chiffrées et testées', 'Plan de reprise après sinistre', 'Authentification multi-facteurs', 'Plan de continuité des activités', 'Sensibilisation des agents']) {
      await aFiche().inHomologation(hid).titled(title).ownedBy(team).due('2026-12-31').insert(t.db);
    }
    page = await signedInPage(browser, base, ACCOUNTS.editor);
  });
  after(async () => {
    await page?.context().close();
    await session?.stop();
  });

  it("imports seed 002's risk table: a line error told with its row and column, fixed in the file, then confirmed", async () => {
    await page.goto(`${base}/homologations/${hid}`);
    await page.click('a:has-text("Importer un tableur")');
    await page.waitForURL(`${base}/homologations/${hid}/import`);
    await checkPage(page, 'import-formulaire');

    // the person mistyped a level on the fourth risk
    const typo = RISKS.map((r) => [...r]);
    typo[3]![2] = 'Peu probabe';
    await page.setInputFiles('#fichier', spreadsheet(dir, 'analyse-de-risques.xlsx', typo));
    await page.click('button:has-text("Voir l\'aperçu")');
    await page.waitForURL(/\/import\/\d+$/);
    const errors = await page.locator('#erreurs').innerText();
    expect(errors).to.include("Ligne 6, colonne « Probabilité » : « Peu probabe » n'est pas un niveau de vraisemblance");
    expect(await page.locator('button:has-text("Confirmer l\'import")').count(), 'no confirmation while an error remains').to.equal(0);
    // the comments column is offered to the user, not imported
    expect(await page.locator('select[name="col-0-8"]').inputValue()).to.equal('');
    await checkPage(page, 'import-apercu-erreur');
    await page.setViewportSize({ width: 375, height: 800 });
    await page.screenshot({ path: path.join(SHOTS, 'import-apercu-erreur-375.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(await listRisks(t.db, hid, null)).to.have.length(0);

    // fixed in the spreadsheet, sent again
    await page.goto(`${base}/homologations/${hid}/import`);
    await page.setInputFiles('#fichier', spreadsheet(dir, 'analyse-de-risques.xlsx', RISKS));
    await page.click('button:has-text("Voir l\'aperçu")');
    await page.waitForURL(/\/import\/\d+$/);
    const summary = await page.locator('main').innerText();
    expect(summary).to.include('Risques : 9 créés');
    expect(summary).to.include('la criticité est calculée par la matrice');
    await checkPage(page, 'import-apercu');
    await page.click('button:has-text("Confirmer l\'import")');
    await page.waitForURL(`${base}/homologations/${hid}`);
    expect(await page.locator('main').innerText()).to.include("L'import est terminé");

    await page.goto(`${base}/homologations/${hid}/risques`);
    await checkPage(page, 'import-risques');
    const risks = await listRisks(t.db, hid, null);
    expect(risks.map((r) => r.title)).to.deep.equal(RISKS.map((r) => r[1]));
    expect(risks[2]!.fiches.map((f) => f.number), 'the fiches typed "3, 1, 5"').to.deep.equal([1, 3, 5]);
  });
});
