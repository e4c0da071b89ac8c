import type { Knex } from 'knex';
import type { Config } from '../config';

/** What every router is given: no globals, so tests build the app with their own database and clock. */
export interface AppContext {
  db: Knex;
  config: Config;
  now: () => Date;
  /** Asks the background worker to deliver now (the server's scheduler); absent in tests and the CLI. */
  wake?: () => void;
}
