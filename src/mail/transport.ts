import type { Transporter } from 'nodemailer';

export interface OutgoingMail {
  messageId: string;
  from: string;
  to: { name: string; address: string };
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

/** What the delivery worker needs of an SMTP server. */
export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** A delivery failure, told apart: a permanent refusal (5xx) is not tried again. */
export class DeliveryError extends Error {
  constructor(message: string, readonly permanent: boolean) {
    super(message);
  }
}

export function smtpMailer(url: string): Mailer {
  // nodemailer loaded with the first message sent, not at the server's start (most rounds send nothing)
  let transport: Promise<Transporter> | null = null;
  return {
    async send(mail) {
      transport ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(url));
      try {
        await (await transport).sendMail({
          messageId: mail.messageId, from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, headers: mail.headers,
        });
      } catch (err) {
        const e = err as { responseCode?: number; response?: string; message?: string; code?: string };
        const permanent = typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600;
        const detail = e.response ?? e.message ?? String(err);
        throw new DeliveryError(`${e.code ? `${e.code} : ` : ''}${detail}`.slice(0, 1000), permanent);
      }
    },
    close() {
      void transport?.then((t) => t.close());
    },
  };
}
