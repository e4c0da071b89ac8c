import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { extractText, getDocumentProxy } from 'unpdf';
import { DEFAULT_RISK_SCALES } from '../../src/domain/risks';
import { aFiche, aHomologation } from '../builders';
import { ACCOUNTS, type TestApp } from '../helpers';
import { checkPage, signedInPage, startBrowserSession } from './browser';

// Seed 002's "Analyse de risques": nine risks typed by hand in the risk form, treated by five fiches whose preventions
// they share (the backups fiche serves six). Responsable and prévention as the seed gives them.
const FICHES = {
  backups: 'Sauvegardes chiffrées, testées et documentées',
  recovery: 'Plan de reprise après sinistre et site de secours',
  access: 'Authentification multi-facteurs, privilèges et détection d’intrusion',
  continuity: 'Plan de continuité des activités',
  training: 'Sensibilisation et formation des agents',
} as const;
type FicheKey = keyof typeof FICHES;

const RISKS: { title: string; likelihood: string; severity: string; owner: string; prevention: string; fiches: FicheKey[] }[] = [
  { title: 'Perte de connexion internet', likelihood: 'Peu probable', severity: 'Majeur', owner: 'Equipe infra', prevention: 'Identifier des fournisseurs Internet alternatifs. Mettre en place un mécanisme de bascule automatique.', fiches: ['recovery', 'continuity'] },
  { title: 'Panne matérielle du serveur', likelihood: 'Peu probable', severity: 'Majeur', owner: 'Equipe infra', prevention: 'Stratégie de sauvegarde régulière. Identifier un centre de données alternatif. Plan de récupération après sinistre.', fiches: ['backups', 'recovery'] },
  { title: 'Attaque de sécurité par ransomware', likelihood: 'Probable', severity: 'Grave', owner: 'Responsable sécurité', prevention: 'Plan de sécurité robuste, des pare-feux, détection des intrusions. Former régulièrement les employés.', fiches: ['access', 'backups', 'training'] },
  { title: 'Erreur humaine entraînant la perte de données', likelihood: 'Peu probable', severity: 'Modéré', owner: 'Equipe informatique', prevention: 'Former les employés. Automatiser les sauvegardes régulières. Mettre en place des mécanismes de validation.', fiches: ['training', 'backups'] },
  { title: 'Mauvaise sauvegarde', likelihood: 'Peu probable', severity: 'Majeur', owner: 'Infogérant / Responsable de la sécurité', prevention: 'Stratégie de sauvegarde. Tester la restauration des sauvegardes. Documenter les procédures de sauvegarde. Former le personnel.', fiches: ['backups'] },
  { title: 'Perte d’intégrité des sauvegardes', likelihood: 'Probable', severity: 'Majeur', owner: 'Infogérant / Responsable de la sécurité', prevention: 'Mécanismes de chiffrement. Contrôles d’authentification et d’autorisation. Vérifier régulièrement l’intégrité des sauvegardes.', fiches: ['backups', 'access'] },
  { title: 'Risque pandémique', likelihood: 'Improbable', severity: 'Grave', owner: 'Direction Générale', prevention: 'Plan de continuité des activités. Prévoir des ressources financières.', fiches: ['continuity'] },
  { title: 'Destruction des serveurs', likelihood: 'Peu probable', severity: 'Grave', owner: 'Infogérant', prevention: 'Sauvegardes régulières stockées dans un lieu sûr. Plan de reprise après sinistre.', fiches: ['backups', 'recovery'] },
  { title: 'Violation de données sensibles', likelihood: 'Probable', severity: 'Grave', owner: 'RSI', prevention: 'Authentification multi-facteurs et gestion des privilèges. Chiffrement. Détection d’intrusion et surveillance. Sensibilisation des employés.', fiches: ['access', 'training'] },
];

// the organisation's default scales (src/domain/risks.ts); an option reads "2 — Peu probable"
const LIKELIHOOD = DEFAULT_RISK_SCALES.likelihood;
const SEVERITY = DEFAULT_RISK_SCALES.severity;
const level = (labels: readonly string[], label: string) => `${labels.indexOf(label) + 1} — ${label}`;

describe('the risk register in a real browser (chromium)', function () {
  this.timeout(180_000);
  let session: Awaited<ReturnType<typeof startBrowserSession>>;
  let browser: Browser;
  let base: string;
  let t: TestApp;
  let page: Page;
  let hid: number;
  const ficheIds = {} as Record<FicheKey, number>;

  before(async () => {
    session = await startBrowserSession();
    ({ browser, base, t } = session);
    // seed 002's platform: a homologation over two of the organisation's production instances, with its five fiches
    const instances = await t.db('instances').where({ environment: 'prod' }).orderBy('id').limit(2).pluck('id');
    hid = await aHomologation().named('Plateforme de services en ligne (analyse de risques)').withInstances(...instances.map(Number)).insert(t.db);
    const team = Number((await t.db('teams').orderBy('id').first()).id);
    for (const [key, title] of Object.entries(FICHES) as [FicheKey, string][]) {
      const fiche = aFiche().inHomologation(hid).titled(title).ownedBy(team).withSteps(2);
      // the access fiche is late: the risks it treats wait on it
      ficheIds[key] = await (key === 'access' ? fiche.late() : fiche.due('2026-12-31')).insert(t.db);
    }
    page = await signedInPage(browser, base, ACCOUNTS.admin);
  });
  after(async () => {
    await page?.context().close();
    await session?.stop();
  });

  it("enters seed 002's nine risks by hand, each treated by fiches shared with others", async () => {
    for (const [i, r] of RISKS.entries()) {
      await page.goto(`${base}/homologations/${hid}/risques/nouveau`);
      if (i === 0) {
        // an empty form first: the errors are told by the fields
        await page.click('button:has-text("Enregistrer le risque")');
        expect(await page.locator('#title-error').innerText()).to.not.equal('');
        await checkPage(page, 'risque-erreurs');
      }
      await page.fill('#title', r.title);
      await page.fill('#description', `Prévention prévue : ${r.prevention}`);
      await page.fill('#ownerName', r.owner);
      await page.selectOption('#likelihood', { label: level(LIKELIHOOD, r.likelihood) });
      await page.selectOption('#severity', { label: level(SEVERITY, r.severity) });
      await page.check('#treatment-reduire');
      for (const key of r.fiches) await page.check(`#fiche-${ficheIds[key]}`);
      await page.click('button:has-text("Enregistrer le risque")');
      await page.waitForURL(new RegExp(`/homologations/${hid}/risques/\\d+$`));
      expect(await page.locator('main').innerText()).to.contain('est créé');
    }
    expect(Number((await t.db('risks').where({ plan_id: hid }).count({ n: '*' }).first())!.n)).to.equal(9);
    // the backups fiche treats six risks, and shows them
    expect(Number((await t.db('risk_fiches').where({ fiche_id: ficheIds.backups }).count({ n: '*' }).first())!.n)).to.equal(6);
    await page.goto(`${base}/homologations/${hid}/fiches/${ficheIds.backups}`);
    const fiche = await page.locator('main').innerText();
    for (const title of ['Mauvaise sauvegarde', 'Panne matérielle du serveur', 'Destruction des serveurs']) expect(fiche).to.contain(title);
    await checkPage(page, 'risques-fiche-sauvegardes');
  });

  it('sets a residual level, and shows the register with its initial and residual heat maps at 1280 and 375 px', async () => {
    const risk = await t.db('risks').where({ plan_id: hid, title: 'Violation de données sensibles' }).first();
    await page.goto(`${base}/homologations/${hid}/risques/${risk.id}/modifier`);
    await page.selectOption('#residualLikelihood', { label: level(LIKELIHOOD, 'Improbable') });
    await page.selectOption('#residualSeverity', { label: level(SEVERITY, 'Grave') });
    await page.click('button:has-text("Enregistrer le risque")');
    await page.waitForURL(new RegExp(`/risques/${risk.id}$`));
    await checkPage(page, 'risque-residuel');

    await page.goto(`${base}/homologations/${hid}/risques`);
    const list = await page.locator('main').innerText();
    for (const r of RISKS) expect(list).to.contain(r.title);
    await checkPage(page, 'risques-liste-1280');
    await page.setViewportSize({ width: 375, height: 800 });
    await page.reload();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).to.be.at.most(375);
    await checkPage(page, 'risques-liste-375');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("puts the register in a meeting's agenda and its PDF", async () => {
    await page.goto(`${base}/homologations/${hid}/seances/nouvelle`);
    await page.fill('#title', 'Comité de pilotage des risques');
    await page.fill('#date', '2026-04-20');
    await page.fill('#startTime', '14:00');
    await page.fill('#endTime', '16:00');
    await page.fill('#place', 'Salle du conseil');
    await page.click('button:has-text("Enregistrer la séance")');
    await page.waitForURL(/\/seances\/\d+$/);
    const meetingUrl = page.url();
    await page.goto(`${meetingUrl}/ordre-du-jour`);
    const agenda = await page.locator('main').innerText();
    expect(agenda).to.contain('Risques');
    for (const r of RISKS) expect(agenda).to.contain(r.title);
    await checkPage(page, 'risques-ordre-du-jour');

    const pdf = await page.request.get(`${meetingUrl}/ordre-du-jour.pdf`);
    expect(pdf.status()).to.equal(200);
    const { text } = await extractText(await getDocumentProxy(new Uint8Array(await pdf.body())), { mergePages: true });
    const flat = text.replace(/\s+/g, ' ').replace(/’/g, "'");
    // the first words of each title (a long title may wrap in its table cell)
    for (const r of RISKS) expect(flat).to.contain(r.title.replace(/’/g, "'").split(' ').slice(0, 3).join(' '));
  });
});
