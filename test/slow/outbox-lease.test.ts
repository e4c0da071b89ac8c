import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { enqueue } from '../../src/data/outbox';
import { smtpMailer } from '../../src/mail/transport';
import { deliverDue } from '../../src/mail/worker';
import { freshApp, NOW, type TestApp } from '../helpers';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A real SMTP server that is slow: it takes in each message, then waits `stallMs` before saying
 * "250 OK", like an overloaded relay. It records the Message-ID of every message it accepts.
 */
async function startSlowSmtp(stallMs: number) {
  const accepted: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream: SMTPServerDataStream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        setTimeout(() => {
          const head = Buffer.concat(chunks).toString('utf8').split(/\r?\n\r?\n/)[0] ?? '';
          accepted.push(/^Message-ID:\s*(\S+)/im.exec(head)?.[1] ?? '');
          callback();
        }, stallMs);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    accepted,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** How many messages are still to deliver: pending whatever their time, or held by a worker. */
async function undelivered(db: Knex): Promise<number> {
  const row = await db('outbox').whereIn('status', ['pending', 'sending']).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

describe('outbox delivery to a slow SMTP server, two workers', function () {
  this.timeout(60_000);
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSlowSmtp>> | undefined;
  afterEach(async () => {
    await smtp?.close();
    smtp = undefined;
    await t.close();
  });

  it('never hands a message to two workers while the first is still sending it, even when a send outlasts the lease', async () => {
    const leaseSeconds = 2;
    t = await freshApp({ mail: { smtpUrl: null, from: 'Plan RGS <plan@metropole.example.org>', publicUrl: 'https://plan.metropole.example.org', leaseSeconds, maxAttempts: 3, timeZone: 'Europe/Paris' } });
    // only this test's messages are due
    await t.db('outbox').whereIn('status', ['pending', 'sending']).update({ status: 'sent', sent_at: NOW.toISOString() });
    const count = 4;
    await enqueue(t.db, Array.from({ length: count }, (_, i) => ({
      kind: 'security' as const, dedupKey: `test-lenteur-${i}`, toAddress: `destinataire${i}@example.org`, toName: `Destinataire ${i}`,
      subject: `Message ${i}`, text: `Message ${i}`, html: `<p>Message ${i}</p>`,
    })), NOW);
    const ids: number[] = (await t.db('outbox').where('dedup_key', 'like', 'test-lenteur-%').orderBy('id').pluck('id')).map(Number);
    expect(ids).to.have.length(count);

    // each message takes 1.5 leases to be accepted
    smtp = await startSlowSmtp(leaseSeconds * 1500);
    const mailer = smtpMailer(smtp.url);
    const deadline = Date.now() + 40_000;
    // two servers over one database, each running the outbox worker whenever it has nothing left to do
    const worker = async (db: Knex) => {
      while (Date.now() < deadline && (await undelivered(db)) > 0) {
        await deliverDue(db, mailer, t.config.mail, () => new Date());
        await sleep(100);
      }
    };
    await Promise.all([worker(t.db), worker(t.openAnother())]);
    mailer.close();

    const sent = await t.db('outbox').whereIn('id', ids).orderBy('id').select('id', 'status');
    expect(sent.map((r: { status: string }) => r.status)).to.deep.equal(ids.map(() => 'sent'));
    const perMessage = new Map<number, number>();
    for (const messageId of smtp.accepted) {
      const id = Number(/^<outbox-(\d+)\./.exec(messageId)?.[1]);
      perMessage.set(id, (perMessage.get(id) ?? 0) + 1);
    }
    expect(Object.fromEntries(perMessage), 'deliveries per outbox message').to.deep.equal(Object.fromEntries(ids.map((id) => [id, 1])));
  });
});
