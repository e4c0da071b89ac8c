import type { Knex } from 'knex';
import type { Config } from '../config';
import type { PasswordHasher } from '../security/passwords';

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
