import type { Knex } from 'knex';
import type { Config } from '../config';
import type { PasswordHasher } from '../security/passwords';
import type { ServiceDeps } from '../services/deps';

/** What every router is given: no globals, so tests build the app with their own database and clock. */
export interface AppContext {
  db: Knex;
  config: Config;
  now: () => Date;
  /** Hashes and checks passwords (argon2id; a cheap argon2id in tests). */
  passwords: PasswordHasher;
  /** Asks the background worker to deliver now (the server's scheduler); absent in tests and the CLI. */
  wake?: () => void;
}

/** The dependencies of the account, sign-in and account-security services, from the app's context. */
export const servicesOf = (ctx: AppContext): ServiceDeps => ({ db: ctx.db, passwords: ctx.passwords, mail: ctx.config.mail, wake: ctx.wake });
