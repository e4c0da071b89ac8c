import type { Knex } from 'knex';
import type { Config } from '../config';

/** What every router is given: no globals, so tests build the app with their own database and clock. */
export interface AppContext {
  db: Knex;
  config: Config;
  now: () => Date;
}
