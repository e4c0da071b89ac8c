import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface Received {
  envelopeTo: string[];
  to: string;
  subject: string;
  text: string;
  html: string;
  messageId: string;
  headers: ParsedMail['headers'];
  /** A header as it was sent, unparsed. */
  header(name: string): string | undefined;
}

/** What the test server does with the n-th message it is handed (1-based): accept it, refuse it, or hold it. */
export type Verdict = 'accept' | { code: number; message: string } | 'hold';

/**
 * A real SMTP server in the test process (smtp-server), recording the messages it accepts, parsed.
 * Refused and held messages are not recorded: only what a mail server would have taken in counts.
 */
export async function startSmtp(decide: (n: number) => Verdict = () => 'accept') {
  const received: Received[] = [];
  let handed = 0;
  const held: (() => void)[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const heldWaiters: (() => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const verdict = decide(++handed);
        if (verdict === 'hold') {
          held.push(() => callback(Object.assign(new Error('Abandonné'), { responseCode: 421 })));
          heldWaiters.splice(0).forEach((w) => w());
          return;
        }
        if (verdict !== 'accept') return callback(Object.assign(new Error(verdict.message), { responseCode: verdict.code }));
        const mail = await simpleParser(Buffer.concat(chunks));
        received.push({
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          to: typeof mail.to === 'object' && !Array.isArray(mail.to) ? mail.to.text : '',
          subject: mail.subject ?? '',
          text: mail.text ?? '',
          html: typeof mail.html === 'string' ? mail.html : '',
          messageId: mail.messageId ?? '',
          headers: mail.headers,
          header: (name: string) => mail.headerLines.find((h) => h.key === name.toLowerCase())?.line.replace(/^[^:]+:\s*/, ''),
        });
        callback();
        for (const w of waiters.filter((x) => received.length >= x.count)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    /** Resolves once a message is being held. */
    held: () => new Promise<void>((resolve) => (held.length ? resolve() : heldWaiters.push(resolve))),
    release: () => held.splice(0).forEach((r) => r()),
    count: (n: number) => new Promise<void>((resolve) => (received.length >= n ? resolve() : waiters.push({ count: n, resolve }))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The addresses the server received messages for, each with how many messages. */
export function tally(received: Received[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of received) for (const to of r.envelopeTo) counts.set(to, (counts.get(to) ?? 0) + 1);
  return counts;
}
