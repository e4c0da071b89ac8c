import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { DEMO_PASSWORD } from '../../db/seeds/demo';
import { scanExpiryReminders } from '../../src/services/expiry-reminders';
import { ACCOUNTS, NOW, type TestApp } from '../helpers';
import { checkPage, signInWithMouse, startBrowserSession } from './browser';

describe('in a real browser (chromium)', function () {
  this.timeout(120_000);
  let session: Awaited<ReturnType<typeof startBrowserSession>>;
  let browser: Browser;
  let base: string;
  let t: TestApp;
  let page: Page;

  before(async () => {
    session = await startBrowserSession();
    ({ browser, base, t } = session);
  });
  after(async () => session?.stop());
  beforeEach(async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'fr-FR' });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
  });
  afterEach(async () => page?.context().close());

  for (const role of Object.keys(ACCOUNTS) as (keyof typeof ACCOUNTS)[]) {
    it(`signs in as ${role}, reads the plan and a fiche, signs out; every page passes axe`, async () => {
      await page.goto(`${base}/connexion`);
      await checkPage(page, `${role}-connexion`);
      await signInWithMouse(page, base, ACCOUNTS[role]);
      await checkPage(page, `${role}-homologations`);
      await page.click('table a[href="/homologations/1"]');
      await checkPage(page, `${role}-plan`);
      await page.click('a:has-text("Sécuriser l\'accès aux demandes")');
      await expect(page.locator('h1')).to.exist;
      expect(await page.locator('h1').innerText()).to.contain('Sécuriser');
      await checkPage(page, `${role}-fiche`);
      await page.click('nav a:has-text("Tableau de bord")');
      await checkPage(page, `${role}-tableau-de-bord`);
      await page.click('nav a:has-text("Séances")');
      await checkPage(page, `${role}-seances`);
      await page.click('a:has-text("signature de l")');
      await checkPage(page, `${role}-seance`);
      await page.click('a:has-text("Ordre du jour (à imprimer)")');
      await checkPage(page, `${role}-ordre-du-jour`);
      if (role === 'admin') {
        for (const url of ['/homologations/1/seances/nouvelle', '/admin', '/admin/mise-en-route', '/admin/securite', '/admin/supervision', '/admin/journal?action=login', '/admin/equipes', '/admin/instances', '/admin/instances/nouveau', '/admin/utilisateurs', '/admin/utilisateurs/nouveau', '/admin/jalons', '/admin/journal', '/tableau-de-bord', '/homologations/1/fiches/nouvelle', '/homologations/nouvelle', '/homologations/1/parametres', '/homologations/1/membres', '/homologations/1/archiver']) {
          await page.goto(`${base}${url}`);
          await checkPage(page, `${role}${url.replace(/\//g, '-')}`);
        }
      }
      if (role === 'commune') {
        const other = await t.db('fiches').where({ number: 2 }).first();
        const res = await page.goto(`${base}/homologations/1/fiches/${other.id}`);
        expect(res!.status()).to.equal(403);
        await checkPage(page, `${role}-refus`);
      }
      await page.click('button:has-text("Se déconnecter")');
      await page.waitForURL(`${base}/connexion`);
      const res = await page.goto(`${base}/homologations`);
      expect(page.url()).to.contain('/connexion');
      expect(res!.ok()).to.equal(true);
    });
  }

  it('creates a fiche with steps and side effects, adds a note that changes its status, and finds it in the plan', async () => {
    await signInWithMouse(page, base, ACCOUNTS.editor);
    await page.click('table a[href="/homologations/1"]');
    await page.click('main a:has-text("Nouvelle fiche")');
    await checkPage(page, 'editeur-nouvelle-fiche');
    await page.fill('#number', '6');
    await page.fill('#title', 'Journaliser les accès au back office');
    await page.fill('#finding', "Les accès des agents ne sont pas tracés.");
    await page.fill('#targetDate', '2026-10-31');
    await page.fill('#steps-0-label', 'Activer les journaux');
    await page.fill('#steps-1-label', 'Centraliser les journaux');
    await page.selectOption('#steps-0-status', 'en_cours');
    await page.selectOption('#effects-0-level', 'fort');
    await page.fill('#effects-0-description', 'Volume de stockage à prévoir');
    await page.selectOption('#owners-0-teamId', { label: 'SNU 1' });
    await page.click('label[for=scope-part]');
    await page.click('label:has-text("SAU production")');
    await page.click('button[value=save] >> nth=0');
    await page.waitForURL(/\/fiches\/\d+$/);
    const text = await page.locator('main').innerText();
    expect(text).to.contain('Journaliser les accès au back office');
    expect(text).to.contain('Activer les journaux');
    expect(text).to.contain('Volume de stockage à prévoir');
    // the save ends with a notice saying what happened, once
    expect(await page.locator('.fr-alert--success[role=status]').innerText()).to.contain('La fiche n°6 « Journaliser les accès au back office » est créée');
    await checkPage(page, 'editeur-fiche-creee');

    await page.fill('#body', 'Journaux activés sur la production.');
    await page.selectOption('#status', 'en_cours');
    await page.click('button:has-text("Ajouter le point")');
    await page.waitForURL(/#historique$/);
    expect(await page.locator('#historique').locator('..').innerText()).to.contain('Non démarré → En cours');
    await checkPage(page, 'editeur-point-ajoute');

    await page.click('.app-hom-nav a:has-text("Plan d\'action")');
    const row = page.locator('tr', { hasText: 'Journaliser les accès au back office' });
    expect(await row.textContent()).to.contain('En cours');
    await page.click('button:has-text("Se déconnecter")');
    await page.waitForURL(`${base}/connexion`);
  });

  it('prepares a meeting, holds it and records a decision', async () => {
    await signInWithMouse(page, base, ACCOUNTS.editor);
    await page.goto(`${base}/homologations/1/seances/nouvelle`);
    await page.fill('#title', 'Comité de test');
    await page.fill('#date', '2026-04-20');
    await page.fill('#startTime', '16:00');
    await page.fill('#endTime', '15:00');
    await page.click('button:has-text("Enregistrer la séance")');
    expect(await page.locator('#endTime-error').innerText()).to.contain("L'heure de fin doit être après l'heure de début.");
    expect(await page.locator('#place-error').innerText()).to.contain('Indiquez un lieu');
    expect(await page.inputValue('#title')).to.equal('Comité de test');
    await checkPage(page, 'editeur-seance-erreurs');
    await page.fill('#endTime', '17:30');
    await page.fill('#place', 'Salle du conseil');
    await page.click('button:has-text("Enregistrer la séance")');
    await page.waitForURL(/\/seances\/\d+$/);
    expect(await page.locator('h1').innerText()).to.equal('Comité de test');
    // holding freezes the agenda: a confirmation page says so first (and warns of a meeting still to come)
    await page.click('a:has-text("Marquer la séance comme tenue")');
    await page.waitForURL(/\/seances\/\d+\/tenir$/);
    await checkPage(page, 'editeur-seance-confirmer');
    await page.click('button:has-text("Tenir la séance et figer l\'ordre du jour")');
    await page.waitForURL(/\/seances\/\d+$/);
    expect(await page.locator('main').textContent()).to.contain('ordre du jour figé');
    await page.selectOption('#decision-ficheId', { index: 1 });
    await page.fill('#decision-text', 'Valider la priorité de cette fiche.');
    await page.click('button:has-text("Enregistrer la décision")');
    await page.waitForURL(/#decisions$/);
    expect(await page.locator('#decisions').locator('..').innerText()).to.contain('Valider la priorité de cette fiche.');
    await checkPage(page, 'editeur-seance-tenue');
  });

  it('previews a commune digest, manages its contacts, sends it and reads it in the send log', async () => {
    await signInWithMouse(page, base, ACCOUNTS.admin);
    await page.goto(`${base}/admin`);
    await page.click('a:has-text("Points d\'avancement des communes")');
    await checkPage(page, 'admin-points');
    await page.click('a:has-text("Aperçu"):has(span:has-text("de Villeurbanne"))');
    await checkPage(page, 'admin-point-apercu');
    const frame = page.frameLocator('iframe.app-mail-preview');
    expect(await frame.locator('h1').innerText()).to.equal("Point d'avancement pour Villeurbanne");
    expect(await frame.locator('body').innerText()).to.contain('Toodego Villeurbanne').and.not.contain('Toodego Bron');
    // the e-mail itself, as a mail client would show it
    const communeId = (await t.db('communes').where({ name: 'Villeurbanne' }).first()).id;
    await page.goto(`${base}/communes/${communeId}/point/courriel.html`);
    await checkPage(page, 'courriel-point-html');
    await page.goto(`${base}/admin/points`);
    await page.click('a:has-text("Contacts"):has(span:has-text("de Villeurbanne"))');
    await page.fill('#name', 'Inès Morel');
    await page.fill('#email', 'ines.morel@');
    await page.click('button:has-text("Ajouter le contact")');
    expect(await page.locator('#email-error').innerText()).to.contain('Saisissez une adresse électronique valide');
    expect(await page.inputValue('#name')).to.equal('Inès Morel');
    await checkPage(page, 'admin-contacts-erreur');
    await page.fill('#email', 'ines.morel@villeurbanne.example.org');
    await page.click('button:has-text("Ajouter le contact")');
    expect(await page.locator('table').innerText()).to.contain('ines.morel@villeurbanne.example.org');
    await page.goto(`${base}/admin/points`);
    await page.selectOption('#communeId', { label: 'Villeurbanne' });
    await page.click('button:has-text("Envoyer le point d\'avancement")');
    // a confirmation page names whom it reaches before anything is sent
    await page.waitForURL(/\/admin\/points\/envoyer\?/);
    expect(await page.locator('main').innerText()).to.contain('3 destinataires');
    await checkPage(page, 'admin-points-confirmer');
    await page.click('button:has-text("Envoyer à 3 destinataires")');
    expect(await page.locator('[role=status] >> nth=-1').innerText()).to.contain('Villeurbanne : point préparé pour 3 destinataires');
    await page.click('a:has-text("boîte d\'envoi") >> nth=-1');
    await checkPage(page, 'admin-courriels');
    await page.click('a:has-text("point d\'avancement pour Villeurbanne") >> nth=0');
    expect(await page.locator('main').innerText()).to.contain('Non envoyé');
    await checkPage(page, 'admin-courriel');
  });

  it("receives an expiring homologation's reminder, acknowledges it, and reads the organisation overview", async () => {
    // the deck's homologation ends in 87 days: the scheduler's scan records its 3-month reminder and mails the team
    await scanExpiryReminders(t.db, t.config.mail, NOW);
    const reminder = await t.db('expiry_reminders').where({ plan_id: 1 }).whereNull('closed_at').first();
    expect(reminder, 'un rappel ouvert').to.exist;
    expect(Number((await t.db('outbox').where({ expiry_reminder_id: reminder.id }).count({ n: '*' }).first())!.n)).to.be.greaterThan(0);
    await signInWithMouse(page, base, ACCOUNTS.editor);
    const row = page.locator('table tr', { has: page.locator('a[href="/homologations/1"]') });
    expect(await row.textContent()).to.contain('Expire bientôt').and.match(/expire dans \d+ jours/);
    await page.click('table a[href="/homologations/1"]');
    await checkPage(page, 'editeur-homologation-expire-bientot');
    await page.click(`#rappels-echeance a[href="/homologations/1/rappels/${reminder.id}"]`);
    await checkPage(page, 'editeur-rappel');
    await page.click('button:has-text("Accuser réception du rappel")');
    expect(await page.locator('main').innerText()).to.contain('Accusé de réception enregistré');
    await page.click('nav a:has-text("Vue d\'ensemble")');
    expect(await page.locator('main').textContent()).to.contain('Expire bientôt');
    await checkPage(page, 'editeur-vue-ensemble');
  });

  it('prepares the renewal of a homologation: unfinished fiches carried over with their origin, done ones left behind', async () => {
    const hr = await t.db('plans').where('title', 'like', '%RH%').first();
    const fiches = await t.db('fiches').where({ plan_id: hr.id });
    const unfinished = fiches.filter((f) => f.status !== 'fait');
    await signInWithMouse(page, base, ACCOUNTS.editor);
    await page.click(`table a[href="/homologations/${hr.id}"]`);
    await page.fill('#renew-title', 'Portail RH — renouvellement (essai)');
    await page.click('button:has-text("Préparer le renouvellement")');
    await page.waitForURL(/\/homologations\/\d+$/);
    expect(page.url()).not.to.match(new RegExp(`/homologations/${hr.id}$`));
    expect(await page.locator('h1').innerText()).to.equal('Portail RH — renouvellement (essai)');
    const main = await page.locator('main').innerText();
    expect(main).to.contain(`Fiches actions (${unfinished.length})`).and.contain(`« ${hr.title} »`);
    await checkPage(page, 'editeur-renouvellement');
    await page.click('main table a >> nth=0');
    expect(await page.locator('main').innerText()).to.contain('Reprise de la fiche n°');
    // the renewed one links to it and offers no second renewal
    await page.goto(`${base}/homologations/${hr.id}`);
    expect(await page.locator('main').innerText()).to.contain('Renouvellement : « Portail RH — renouvellement (essai) »');
    expect(await page.locator('button:has-text("Préparer le renouvellement")').count()).to.equal(0);
  });

  it('lets a commune agent see its contacts, and the editor the alerts', async () => {
    await signInWithMouse(page, base, ACCOUNTS.commune);
    await page.click('nav a:has-text("Contacts de ma commune")');
    expect(await page.locator('h1').innerText()).to.equal('Contacts de Villeurbanne');
    await checkPage(page, 'commune-contacts');
    await page.click('a:has-text("aperçu du prochain point")');
    await checkPage(page, 'commune-point-apercu');
    await page.click('button:has-text("Se déconnecter")');
    await signInWithMouse(page, base, ACCOUNTS.editor);
    await page.click('nav a:has-text("Alertes")');
    await checkPage(page, 'editeur-alertes');
  });

  it('lets a commune administrator create an agent, who sets a password with the one-time link', async () => {
    await signInWithMouse(page, base, ACCOUNTS.communeAdmin);
    await page.click('nav a:has-text("Comptes de ma commune")');
    await checkPage(page, 'commune-admin-comptes');
    await page.fill('#name', 'Léa Girard');
    await page.click('button:has-text("Créer le compte")');
    expect(await page.locator('#email-error').innerText()).to.contain("Saisissez l'adresse électronique.");
    expect(await page.inputValue('#name')).to.equal('Léa Girard');
    await checkPage(page, 'commune-admin-comptes-erreur');
    await page.fill('#email', 'lea.girard@villeurbanne.example.org');
    await page.click('button:has-text("Créer le compte")');
    const link = await page.locator('code.app-link').innerText();
    await page.click('button:has-text("Se déconnecter")');
    await page.goto(link.replace(/^https?:\/\/[^/]+/, base));
    await checkPage(page, 'mot-de-passe-lien');
    await page.fill('#password', 'court');
    await page.fill('#confirm', 'court');
    await page.click('button:has-text("Enregistrer le mot de passe")');
    expect(await page.locator('#password-error').innerText()).to.contain('au moins 12 caractères');
    await page.fill('#password', 'une phrase de passe pour léa');
    await page.fill('#confirm', 'une phrase de passe pour léa');
    await page.click('button:has-text("Enregistrer le mot de passe")');
    await page.waitForURL(/\/connexion\?mot-de-passe=1$/);
    await page.fill('#email', 'lea.girard@villeurbanne.example.org');
    await page.fill('#password', 'une phrase de passe pour léa');
    await page.click('button:has-text("Se connecter")');
    await page.waitForURL(`${base}/homologations`);
  });

  it('shows the account pages: password change with errors, second-factor enrolment with its QR code, forgotten password', async () => {
    await signInWithMouse(page, base, ACCOUNTS.viewer);
    await page.click('a[href="/compte"]');
    await checkPage(page, 'compte');
    await page.click('a:has-text("Changer mon mot de passe")');
    await page.fill('#current', 'faux');
    await page.fill('#password', 'x');
    await page.click('button:has-text("Changer le mot de passe")');
    expect(await page.locator('#current-error').innerText()).to.contain('Le mot de passe actuel est incorrect.');
    await checkPage(page, 'compte-mot-de-passe-erreurs');
    await page.goto(`${base}/compte/double-authentification`);
    expect(await page.locator('.app-qr svg').count()).to.equal(1);
    await checkPage(page, 'compte-double-authentification');
    await page.click('button:has-text("Se déconnecter")');
    await page.click('a:has-text("Mot de passe oublié")');
    await checkPage(page, 'mot-de-passe-oublie');
  });

  it('shows the errors and keeps what was typed when the fiche is invalid', async () => {
    await signInWithMouse(page, base, ACCOUNTS.editor);
    await page.goto(`${base}/homologations/1/fiches/nouvelle`);
    await page.fill('#number', '7');
    await page.fill('#finding', 'Constat saisi avant l’erreur');
    await page.fill('#steps-0-label', 'Action saisie avant l’erreur');
    await page.click('button[value=save] >> nth=0');
    expect(await page.locator('#title-error').innerText()).to.contain("Saisissez l'intitulé de la fiche.");
    expect(await page.locator('#targetDate-error').innerText()).to.contain('Saisissez la date cible.');
    expect(await page.inputValue('#finding')).to.equal('Constat saisi avant l’erreur');
    expect(await page.inputValue('#steps-0-label')).to.equal('Action saisie avant l’erreur');
    await checkPage(page, 'editeur-fiche-erreurs');
  });

  it('works with the keyboard alone: sign in, edit a fiche, add a progress note', async () => {
    const tabTo = async (selector: string, max = 80) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
      }
      throw new Error(`Impossible d'atteindre ${selector} au clavier`);
    };
    await page.goto(`${base}/connexion`);
    await tabTo('#email');
    await page.keyboard.type(ACCOUNTS.editor);
    await tabTo('#password');
    await page.keyboard.type(DEMO_PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/homologations`);
    await tabTo('a[href="/homologations/1"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/homologations/1`);

    await tabTo('a[href^="/homologations/1/fiches/"]:not([href="/homologations/1/fiches/nouvelle"])');
    const href = await page.evaluate(() => document.activeElement!.getAttribute('href'));
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}${href}`);
    await tabTo('a[href$="/modifier"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/modifier$/);
    await tabTo('#title');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('Titre modifié au clavier');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}${href}`);
    expect(await page.locator('h1').innerText()).to.equal('Titre modifié au clavier');

    await tabTo('#body');
    await page.keyboard.type('Point saisi au clavier.');
    await tabTo('#status');
    await page.keyboard.press('End');
    await tabTo('button[type=submit]:not([name])');
    expect(await page.evaluate(() => document.activeElement!.textContent)).to.contain('Ajouter le point');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#historique$/);
    expect(await page.locator('main').innerText()).to.contain('Point saisi au clavier.');
    expect(await page.locator('main').innerText()).to.contain('→ Fait');
  });
});
