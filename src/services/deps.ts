import type { Knex } from 'knex';
import type { MailConfig } from '../config';
import type { PasswordHasher } from '../security/passwords';

/**
 * What the account, sign-in and account-security rules are given: the database, the password hasher, where e-mails
 * go, and how to wake the mail worker. The web layer builds it from its context (`servicesOf` in web/context.ts).
 */
export interface ServiceDeps {
  db: Knex;
  passwords: PasswordHasher;
  mail: MailConfig;
  wake?: () => void;
}
