import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addDays, format } from 'date-fns';
import { expect } from 'chai';
import { AUTHORITY, at, day, decide, mails, newHomologation, reminders } from '../fixtures/expiry';
import type { Knex } from 'knex';
import { smtpMailer } from '../../src/mail/transport';
import { deliverDue } from '../../src/mail/worker';
import { scanExpiryReminders } from '../../src/services/expiry-reminders';
import { ACCOUNTS, freshApp, NOW, type TestApp } from '../helpers';
import { startSmtp, tally } from '../smtp';

// Expiry reminders scanned from several server processes at once (test/fixtures/expiry-scan.ts): each threshold
// sent once. (The reminders' rules in one process: test/expiry-reminders.test.ts.)

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function userId(db: Knex, email: string): Promise<number> {
  return Number((await db('users').where({ email }).first()).id);
}

/** A scan by another server process over the test's database (test/fixtures/expiry-scan.ts). */
function scanElsewhere(t: TestApp, now: Date): Promise<{ sent: number; skipped: number; closed: number }> {
  return new Promise((resolve, reject) => {
    const args = [path.join(root, 'test/fixtures/expiry-scan.ts'), t.config.databaseUrl ?? t.config.databaseFile, now.toISOString(), JSON.stringify(t.config.mail)];
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += String(d); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`scan exited ${code}: ${out}`))));
  });
}

describe('expiry reminders of homologation decisions, scanned by several processes', function () {
  this.timeout(60_000);
  let t: TestApp;
  beforeEach(async () => {
    t = await freshApp();
    // only this suite's decisions: whatever the demo decided is set aside
    await t.db('expiry_reminders').del();
    await t.db('fiches').update({ condition_of: null });
    await t.db('signatures').del();
  });
  afterEach(async () => t.close());

  it('sends each threshold once, to the project team and the authority, through the outbox and SMTP; never twice, even from two servers', async () => {
    const editor = await userId(t.db, ACCOUNTS.editor);
    const viewer = await userId(t.db, ACCOUNTS.viewer);
    const commune = await userId(t.db, ACCOUNTS.commune);
    const hid = await newHomologation(t.db, 'Portail citoyen');
    // the project team (an editor member); a committee member and a commune agent listed as editor get nothing
    await t.db('plan_members').insert([{ plan_id: hid, user_id: editor, role: 'editor' }, { plan_id: hid, user_id: viewer, role: 'viewer' }, { plan_id: hid, user_id: commune, role: 'editor' }]);
    await decide(t.db, hid, { decidedOn: '2023-06-24', endsOn: day(100), authorityEmail: AUTHORITY });

    const smtp = await startSmtp();
    const mailer = smtpMailer(smtp.url);
    try {
      // 100 days before the end: the 6-month threshold is due, the 3-month one not yet
      expect(await scanExpiryReminders(t.db, t.config.mail, NOW)).to.deep.equal({ sent: 1, skipped: 0, closed: 0 });
      const [six] = await reminders(t.db, hid);
      expect(await reminders(t.db, hid)).to.have.length(1);
      expect(six.months_before).to.equal(6);
      expect(six.ends_on).to.equal(day(100));
      await deliverDue(t.db, mailer, t.config.mail, () => NOW);
      expect([...tally(smtp.received).entries()].sort()).to.deep.equal([[AUTHORITY, 1], [ACCOUNTS.editor, 1]]);
      const mail = smtp.received[0]!;
      expect(mail.subject).to.equal(`Homologation « Portail citoyen » : expire dans 100 jours (le ${format(addDays(new Date('2026-03-16T12:00:00Z'), 100), 'dd/MM/yyyy')})`);
      expect(mail.text).to.contain('Décision du 24/06/2023').and.contain('Jours restants : 100').and.contain('Préparer le renouvellement')
        .and.contain(`Ouvrir l'homologation : https://plan.metropole.example.org/homologations/${hid}\n`)
        .and.contain(`Accuser réception du rappel : https://plan.metropole.example.org/homologations/${hid}/rappels/${six.id}`);
      expect(smtp.received.find((r) => r.envelopeTo[0] === AUTHORITY)!.to).to.contain('Mme la Directrice générale des services');

      // scanning again, here and from two other server processes at once, decides nothing more
      const again = await Promise.all([scanExpiryReminders(t.db, t.config.mail, at(1)), scanElsewhere(t, at(1)), scanElsewhere(t, at(1))]);
      expect(again).to.deep.equal([{ sent: 0, skipped: 0, closed: 0 }, { sent: 0, skipped: 0, closed: 0 }, { sent: 0, skipped: 0, closed: 0 }]);
      expect(await mails(t.db, hid)).to.have.length(2);

      // 85 days before the end: the 3-month threshold, sent by one of two servers scanning together; the 6-month one is superseded
      const later = at(15);
      const both = await Promise.all([scanElsewhere(t, later), scanElsewhere(t, later)]);
      expect(both.map((r) => r.sent).sort()).to.deep.equal([0, 1]);
      const rows = await reminders(t.db, hid);
      expect(rows.map((r) => [r.months_before, r.closed_at !== null])).to.deep.equal([[6, true], [3, false]]);
      expect((await mails(t.db, hid)).map((m) => m.months_before)).to.deep.equal([6, 6, 3, 3]);
      await deliverDue(t.db, mailer, t.config.mail, () => later);
      expect(smtp.received).to.have.length(4);
      expect(smtp.received[3]!.subject).to.match(/^Homologation « Portail citoyen » : expire dans 85 jours \(le \d\d\/\d\d\/2026\)$/);
    } finally {
      mailer.close();
      await smtp.close();
    }
  });
});
