import { expect } from 'chai';
import { subscribedByCommune } from './fixtures/digests';
import { listContacts } from '../src/data/contacts';
import { createFiche } from '../src/data/fiches';
import { communes } from '../src/data/referentials';
import { runScheduledDigests } from '../src/services/scheduler';
import { smtpMailer } from '../src/mail/transport';
import { deliverDue, retryDelayMs } from '../src/mail/worker';
import { enqueueDigests } from '../src/services/digests';
import { ACCOUNTS, csrfOf, ENGINE, ficheIdByNumber, freshApp, NOW, postForm, signIn, type TestApp, textOf } from './helpers';
import { startSmtp, tally } from './smtp';

describe('commune digests through the outbox, to a real SMTP server', function () {
  this.timeout(90_000);
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtp>> | undefined;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(async () => {
    await smtp?.close();
    smtp = undefined;
    await t.close();
  });

  it("sends each commune one digest, to its own contacts, with its fiches and nobody else's", async () => {
    smtp = await startSmtp();
    const expected = await subscribedByCommune(t);
    const outcomes = await enqueueDigests(t.db, t.config.mail, NOW, { communeIds: 'all', period: '2026-03', origin: 'manuel' });
    expect(outcomes.filter((o) => o.result === 'queued')).to.have.length(16);
    const mailer = smtpMailer(smtp.url);
    const report = await deliverDue(t.db, mailer, t.config.mail, () => NOW);
    mailer.close();
    expect(report).to.include({ sent: expected.size, failed: 0, retrying: 0 });

    const counts = tally(smtp.received);
    expect([...counts.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    expect([...counts.values()].every((n) => n === 1)).to.equal(true);
    const allCommunes = (await communes.list(t.db)).map((c) => c.name);
    for (const mail of smtp.received) {
      const commune = expected.get(mail.envelopeTo[0]!)!;
      expect(mail.subject).to.equal(`Plan d'action RGS : point d'avancement pour ${commune} (mars 2026)`);
      for (const part of [mail.text, mail.html]) {
        expect(part).to.contain(`Toodego ${commune}`);
        // another commune's instances are never named
        for (const other of allCommunes.filter((c) => c !== commune)) expect(part, `${commune} ⊅ ${other}`).not.to.contain(`Toodego ${other}`);
      }
      // the portal fiches concern every commune; fiche 2 (intranet, extranet) concerns none
      expect(mail.text).to.contain('Fiche n°1').and.contain('Fiche n°3').and.not.contain('Fiche n°2 ');
      expect(mail.text).to.contain('Recenser les agents communaux');
      expect(mail.text).to.contain('Comité de pilotage — signature');
      // a section per homologation touching the commune: the deck's, expiring soon, and its renewal; not the HR portal
      expect(mail.text).to.match(/1\. HOMOLOGATION « Plan d'action de l'homologation RGS des téléservices »\n=+\nÉtat : Expire bientôt\nHomologuée sous conditions le 11\/06\/2023, valable jusqu'au 11\/06\/2026 \(expire dans 87 jours\)\./);
      expect(mail.text).to.match(/2\. HOMOLOGATION « Renouvellement de l'homologation RGS des téléservices »\n=+\nÉtat : Plan d'action en cours\n/);
      expect(mail.text).to.contain("Reprise de la fiche n°3 de l'homologation « Plan d'action de l'homologation RGS des téléservices ».")
        .and.contain('Reprise dans cette homologation depuis le précédent point.').and.not.contain('portail RH');
      expect(mail.header('List-Unsubscribe')).to.match(/^<https:\/\/plan\.metropole\.example\.org\/desinscription\/[\w-]+>$/);
    }
    // a second send for the same period adds nothing
    const again = await enqueueDigests(t.db, t.config.mail, NOW, { communeIds: 'all', period: '2026-03', origin: 'manuel' });
    expect(again.every((o) => o.result === 'already_sent')).to.equal(true);
  });

  it('counts what changed since the commune’s previous digest', async () => {
    const [villeurbanne] = (await communes.list(t.db)).filter((c) => c.name === 'Villeurbanne');
    const editor = await signIn(t.app, ACCOUNTS.editor);
    const fiche3 = await ficheIdByNumber(t.db, 3);
    await postForm(editor, `/homologations/1/fiches/${fiche3}`, `/homologations/1/fiches/${fiche3}/notes`, { body: 'Le prestataire a répondu : raccordement planifié.', notedOn: '2026-03-15', status: 'en_cours' })
      .then((r) => expect(r.status).to.equal(303));
    await enqueueDigests(t.db, t.config.mail, NOW, { communeIds: [villeurbanne!.id], period: '2026-03', origin: 'manuel' });
    const message = await t.db('outbox').where({ kind: 'digest', commune_id: villeurbanne!.id }).orderBy('id', 'desc').first();
    expect(message.text).to.contain('depuis le précédent point, envoyé le 16/02/2026');
    // fiche 3 was blocked just after the previous digest, then unblocked: both notes are told, oldest first
    expect(message.text).to.match(/Point du 16\/02\/2026 \(Julien Petit\) : Demande de raccordement[\s\S]*Point du 15\/03\/2026 \(Julien Petit\) : Le prestataire a répondu/);
    expect(message.text).not.to.contain('Chiffrage reçu du prestataire');
  });

  it('sends Villeurbanne one message with a section per homologation touching it, none for the others, and nothing to a commune no homologation touches', async () => {
    const all = await communes.list(t.db);
    const villeurbanne = all.find((c) => c.name === 'Villeurbanne')!;
    const limonest = all.find((c) => c.name === 'Limonest')!;
    const instanceOf = async (name: string) => Number((await t.db('instances').where({ name }).first()).id);
    const deck = await t.db('plans').where('id', 1).first();
    // Villeurbanne is touched by the deck's homologation and by a new one covering its production portal only
    const villeurbanneInstances = t.db('instances').where('commune_id', villeurbanne.id).select('id');
    await t.db('plan_instances').whereNot('plan_id', 1).whereIn('instance_id', villeurbanneInstances).delete();
    const newPlan = async (title: string, instanceNames: string[], archivedAt: string | null = null) => {
      const [row] = await t.db('plans').insert({ title, organisation: 'Métropole (démonstration)', reminder: '', is_demo: false, created_at: NOW.toISOString(), archived_at: archivedAt, archived_reason: archivedAt ? 'manuel' : null }).returning('id');
      const id = Number(typeof row === 'object' ? row.id : row);
      for (const name of instanceNames) await t.db('plan_instances').insert({ plan_id: id, instance_id: await instanceOf(name) });
      return id;
    };
    const rdv = await newPlan('Prise de rendez-vous en ligne', ['Toodego Villeurbanne', 'Toodego Bron']);
    await newPlan('Messagerie des agents', ['Intranet production']);
    await newPlan('Ancien portail', ['Toodego Villeurbanne'], '2025-01-01T00:00:00.000Z');
    const snu1 = Number((await t.db('teams').where({ name: 'SNU 1' }).first()).id);
    const editor = await t.db('users').where({ email: ACCOUNTS.editor }).first();
    await createFiche(t.db, rdv, {
      number: 1, title: 'Limiter les créneaux réservables par usager', finding: 'Des créneaux sont bloqués par des robots.', targetDate: '2026-04-20', status: 'en_cours',
      conclusion: '', conclusionCounts: [], costAmount: null, costSource: '', scopeAll: true, instanceIds: [],
      owners: [{ teamId: snu1, serviceId: null }],
      steps: [{ id: null, position: 1, label: 'Tester le captcha avec la mairie', status: 'non_demarre', forCommunes: true }], sideEffects: [],
    }, { id: editor.id, email: editor.email, name: editor.name, role: 'editor', communeId: null }, NOW);
    // Limonest: no homologation covers its instances any more
    await t.db('plan_instances').whereIn('instance_id', t.db('instances').where('commune_id', limonest.id).select('id')).delete();

    const outcomes = await enqueueDigests(t.db, t.config.mail, NOW, { communeIds: [villeurbanne.id, limonest.id], period: '2026-03', origin: 'manuel' });
    expect(outcomes.map((o) => [o.communeName, o.result]).sort()).to.deep.equal([['Limonest', 'nothing'], ['Villeurbanne', 'queued']]);
    expect(await t.db('digests').where({ commune_id: limonest.id, period: '2026-03' }).first()).to.equal(undefined);
    expect(await t.db('outbox').where({ kind: 'digest', commune_id: limonest.id }).where('created_at', '>=', NOW.toISOString()).first()).to.equal(undefined);

    const messages = await t.db('outbox').where({ kind: 'digest', commune_id: villeurbanne.id }).where('created_at', '>=', NOW.toISOString());
    const contacts = await listContacts(t.db, villeurbanne.id);
    // one message per contact, all the same digest (one per commune and period)
    expect(messages).to.have.length(contacts.length);
    expect(new Set(messages.map((m) => m.digest_id)).size).to.equal(1);
    const { text, html } = messages[0];
    const sections = text.split(/\n(?=\d\. HOMOLOGATION « )/).slice(1);
    expect(sections.map((x: string) => /HOMOLOGATION « ([^»]+) »/.exec(x)![1])).to.deep.equal([deck.title, 'Prise de rendez-vous en ligne']);
    expect(html.match(/<h2[^>]*>Homologation « /g)).to.have.length(2);
    for (const other of ['Messagerie des agents', 'Ancien portail']) {
      expect(text).not.to.contain(other);
      expect(html).not.to.contain(other);
    }
    const [deckPart, rdvPart] = sections as [string, string];
    // the deck's section tells its own fiches; the new one's its fiche, its state and that it awaits its decision
    expect(deckPart).to.contain('État : Expire bientôt').and.contain("Homologuée sous conditions le 11/06/2023, valable jusqu'au 11/06/2026")
      .and.contain('Fiche n°3 — Mettre en œuvre une double authentification').and.contain('Recenser les agents communaux').and.not.contain('Limiter les créneaux');
    expect(rdvPart).to.contain("État : Plan d'action en cours").and.contain("Pas encore de décision d'homologation.")
      .and.contain('Fiche n°1 — Limiter les créneaux réservables par usager').and.contain('Vos instances : Toodego Villeurbanne')
      .and.contain('Tester le captcha avec la mairie').and.contain(`Voir l'homologation : https://plan.metropole.example.org/homologations/${rdv}`)
      .and.not.contain('Toodego Bron').and.not.contain('double authentification');
    expect(text).to.contain('2 homologations vous concernent');

    // the preview shows the same; a commune no homologation touches is told there is nothing to send
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const preview = textOf((await admin.get(`/communes/${villeurbanne.id}/point`).expect(200)).text);
    expect(preview).to.contain('Prise de rendez-vous en ligne').and.not.contain('Messagerie des agents');
    expect(textOf((await admin.get(`/communes/${limonest.id}/point`).expect(200)).text)).to.contain('Aucun point à envoyer');
    await admin.get(`/communes/${limonest.id}/point/courriel.html`).expect(404);
  });

  it('sends nothing to a contact who unsubscribed with the link, and the admin sees who did', async () => {
    smtp = await startSmtp();
    const villeurbanne = (await communes.list(t.db)).find((c) => c.name === 'Villeurbanne')!;
    const [contact] = await listContacts(t.db, villeurbanne.id);
    // a link scanner's GET unsubscribes nobody
    const { default: request } = await import('supertest');
    const page = await request(t.app).get(`/desinscription/${contact!.unsubscribeToken}`).expect(200);
    expect(textOf(page.text)).to.contain('Ne plus recevoir');
    expect((await listContacts(t.db, villeurbanne.id))[0]!.unsubscribedAt).to.equal(null);
    // one-click unsubscribe (RFC 8058): a POST with no session and no CSRF token
    await request(t.app).post(`/desinscription/${contact!.unsubscribeToken}`).type('form').send('List-Unsubscribe=One-Click').expect(200);
    await request(t.app).post('/desinscription/inconnu-inconnu-inconnu-0000').expect(404);

    await enqueueDigests(t.db, t.config.mail, NOW, { communeIds: 'all', period: '2026-03', origin: 'manuel' });
    const mailer = smtpMailer(smtp.url);
    await deliverDue(t.db, mailer, t.config.mail, () => NOW);
    mailer.close();
    const counts = tally(smtp.received);
    expect(counts.has(contact!.email)).to.equal(false);
    expect(counts.size).to.equal((await subscribedByCommune(t)).size);

    const admin = await signIn(t.app, ACCOUNTS.admin);
    const list = textOf((await admin.get(`/communes/${villeurbanne.id}/contacts`).expect(200)).text);
    expect(list).to.match(new RegExp(`${contact!.name} .*Désinscrit le`));
    const audit = await t.db('audit_log').where({ entity_type: 'contact', entity_id: contact!.id }).orderBy('id', 'desc').first();
    expect(audit.summary).to.contain("s'est désinscrit");
  });

  it('retries a message the server refused for a while, with backoff, and delivers it once', async () => {
    smtp = await startSmtp((n) => (n === 1 ? { code: 451, message: 'Greylisting, réessayez plus tard' } : 'accept'));
    // Vénissieux has one contact
    const villeurbanne = (await communes.list(t.db)).find((c) => c.name === 'Vénissieux')!;
    await enqueueDigests(t.db, t.config.mail, NOW, { communeIds: [villeurbanne.id], period: '2026-03', origin: 'manuel' });
    const mailer = smtpMailer(smtp.url);
    let clock = NOW;
    const first = await deliverDue(t.db, mailer, t.config.mail, () => clock);
    expect(first).to.include({ sent: 0, retrying: 1 });
    const row = await t.db('outbox').where({ kind: 'digest', commune_id: villeurbanne.id, status: 'pending' }).first();
    expect(row.attempts).to.equal(1);
    expect(row.last_error).to.contain('451');
    expect(row.next_attempt_at).to.equal(new Date(NOW.getTime() + retryDelayMs(1)).toISOString());
    // not due yet: nothing happens
    expect(await deliverDue(t.db, mailer, t.config.mail, () => clock)).to.include({ sent: 0, retrying: 0 });
    clock = new Date(NOW.getTime() + retryDelayMs(1));
    expect(await deliverDue(t.db, mailer, t.config.mail, () => clock)).to.include({ sent: 1 });
    mailer.close();
    expect(smtp.received).to.have.length(1);
    expect(smtp.received[0]!.envelopeTo).to.deep.equal([row.to_address]);
    expect((await t.db('outbox').where('id', row.id).first()).status).to.equal('sent');
  });

  it('marks a permanent refusal failed with its error, in the send log, where an admin retries it by hand', async () => {
    let refuse = true;
    smtp = await startSmtp(() => (refuse ? { code: 550, message: 'Boîte inconnue' } : 'accept'));
    const bron = (await communes.list(t.db)).find((c) => c.name === 'Bron')!;
    await enqueueDigests(t.db, t.config.mail, NOW, { communeIds: [bron.id], period: '2026-03', origin: 'manuel' });
    const mailer = smtpMailer(smtp.url);
    expect(await deliverDue(t.db, mailer, t.config.mail, () => NOW)).to.include({ failed: 1, sent: 0 });
    const failed = await t.db('outbox').where({ status: 'failed' }).first();
    expect(failed.last_error).to.contain('550');

    const admin = await signIn(t.app, ACCOUNTS.admin);
    const log = textOf((await admin.get('/admin/courriels?etat=failed').expect(200)).text);
    expect(log).to.contain(failed.to_address).and.contain('Échec').and.contain('Boîte inconnue');
    await admin.get('/admin/courriels?etat=perdu').expect(400);
    const page = await admin.get(`/admin/courriels/${failed.id}`).expect(200);
    await admin.post(`/admin/courriels/${failed.id}/relancer`).type('form').send({ _csrf: csrfOf(page.text) }).expect(303);
    refuse = false;
    expect(await deliverDue(t.db, mailer, t.config.mail, () => NOW)).to.include({ sent: 1 });
    mailer.close();
    expect(smtp.received).to.have.length(1);
    // the raw HTML is served with a CSP of its own: inline styles, no script
    const html = await admin.get(`/admin/courriels/${failed.id}/courriel.html`).expect(200);
    expect(html.headers['content-security-policy']).to.contain("default-src 'none'").and.contain("frame-ancestors 'self'");
  });

  it('sends the scheduled digests once per occurrence, even from two servers at once', async () => {
    // monthly, the first Monday at 09:00 Paris time; last looked on 1 March 2026
    await t.db('mail_settings').where('id', 1).update({ digest_frequency: 'monthly', digest_weekday: 1, digest_week: '1', digest_time: '09:00', digest_checked_at: '2026-03-01T00:00:00.000Z' });
    const before = new Date('2026-03-02T07:59:00.000Z');
    const deps = (db: typeof t.db, now: Date) => ({ db, mail: t.config.mail, now: () => now, mailer: null });
    expect(await runScheduledDigests(deps(t.db, before))).to.equal(null);
    expect(await t.db('digests').where('period', '2026-03').first()).to.equal(undefined);
    const after = new Date('2026-03-02T08:01:00.000Z');
    const other = t.openAnother();
    // On PostgreSQL the two servers run at the same instant. On SQLite two connections of one process
    // cannot (the driver is synchronous): test/slow/mail-cli.test.ts runs two processes instead.
    const periods = ENGINE === 'postgresql'
      ? await Promise.all([runScheduledDigests(deps(t.db, after)), runScheduledDigests(deps(other, after))])
      : [await runScheduledDigests(deps(t.db, after)), await runScheduledDigests(deps(other, after))];
    expect(periods.filter((p) => p === '2026-03').length).to.be.at.least(1);
    expect(await t.db('digests').where('period', '2026-03').count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(16);
    const messages = await t.db('outbox').where({ kind: 'digest', status: 'pending' }).count({ n: '*' }).first().then((r) => Number(r!.n));
    expect(messages).to.equal((await subscribedByCommune(t)).size);
    // later the same month: nothing more
    expect(await runScheduledDigests(deps(t.db, new Date('2026-03-20T08:00:00.000Z')))).to.equal(null);
  });
});

describe('digest pages in the app', () => {
  let t: TestApp;
  beforeEach(async () => { t = await freshApp(); });
  afterEach(async () => t.close());

  it('lets a commune agent manage its own contacts and preview its digest, never another commune’s', async () => {
    const all = await communes.list(t.db);
    const own = all.find((c) => c.name === 'Villeurbanne')!;
    const other = all.find((c) => c.name === 'Bron')!;
    const agent = await signIn(t.app, ACCOUNTS.commune);
    await agent.get(`/communes/${own.id}/contacts`).expect(200);
    await agent.get(`/communes/${other.id}/contacts`).expect(403);
    await agent.get(`/communes/${other.id}/point`).expect(403);
    const otherContact = (await listContacts(t.db, other.id))[0]!;
    await agent.get(`/communes/${own.id}/contacts/${otherContact.id}/modifier`).expect(404);
    const preview = textOf((await agent.get(`/communes/${own.id}/point`).expect(200)).text);
    expect(preview).to.contain('Toodego Villeurbanne').and.not.contain('Toodego Bron');
    const html = await agent.get(`/communes/${own.id}/point/courriel.html`).expect(200);
    expect(html.text).to.contain("Point d'avancement pour Villeurbanne").and.not.contain('Toodego Bron');

    const bad = await postForm(agent, `/communes/${own.id}/contacts`, `/communes/${own.id}/contacts`, { name: 'Inès Morel', email: 'pas-une-adresse', function: 'DSI' });
    expect(bad.status).to.equal(422);
    expect(bad.text).to.contain('Saisissez une adresse électronique valide').and.contain('value="Inès Morel"').and.contain('value="pas-une-adresse"');
    const ok = await postForm(agent, `/communes/${own.id}/contacts`, `/communes/${own.id}/contacts`, { name: 'Inès Morel', email: 'ines.morel@villeurbanne.example.org', function: 'DSI' });
    expect(ok.status).to.equal(303);
    const dup = await postForm(agent, `/communes/${own.id}/contacts`, `/communes/${own.id}/contacts`, { name: 'Autre', email: 'INES.MOREL@villeurbanne.example.org', function: '' });
    expect(dup.status).to.equal(422);
    expect(dup.text).to.contain('déjà parmi les contacts');

    const viewer = await signIn(t.app, ACCOUNTS.viewer);
    await viewer.get(`/communes/${own.id}/contacts`).expect(403);
    await viewer.get('/admin/points').expect(403);
    await viewer.get('/admin/courriels').expect(403);
  });

  it('lets the admin set the schedule, refusing a bad time next to the field, and send by hand', async () => {
    const admin = await signIn(t.app, ACCOUNTS.admin);
    const bad = await postForm(admin, '/admin/points', '/admin/points/reglages', { frequency: 'monthly', week: '1', weekday: '1', time: '25:00', alertsEnabled: 'on', alertReminderDays: '7' });
    expect(bad.status).to.equal(422);
    expect(bad.text).to.contain('Saisissez une heure, par exemple 09:00.').and.contain('value="25:00"');
    const good = await postForm(admin, '/admin/points', '/admin/points/reglages', { frequency: 'weekly', week: '1', weekday: '5', time: '08:30', alertsEnabled: 'on', alertReminderDays: '3' });
    expect(good.status).to.equal(303);
    const page = textOf((await admin.get('/admin/points').expect(200)).text);
    expect(page).to.contain('Chaque semaine, le vendredi à 08 h 30').and.contain('prochain envoi le 20/03/2026 à');

    const badPeriod = await postForm(admin, '/admin/points', '/admin/points/envoyer', { communeId: 'all', period: 'mars 2026 !' });
    expect(badPeriod.status).to.equal(422);
    const sent = await postForm(admin, '/admin/points', '/admin/points/envoyer', { communeId: 'all', period: '2026-S12' });
    expect(sent.status).to.equal(200);
    expect(textOf(sent.text)).to.contain('Villeurbanne : point préparé pour 2 destinataires').and.contain('Bron : point préparé pour 1 destinataire');
    const log = textOf((await admin.get('/admin/courriels').expect(200)).text);
    expect(log).to.contain('Messages non envoyés').and.contain('Non envoyé');
  });
});
