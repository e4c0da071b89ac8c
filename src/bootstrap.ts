import type { Knex } from 'knex';
import { loadDemo } from '../db/seeds/demo';
import type { Config } from './config';
import { loadOnceIntoEmpty } from './data/plans';
import { migrate } from './db';
import { type PasswordHasher, passwordHasher } from './security/passwords';

/**
 * Migrates, and outside production fills an empty database with the demonstration plan.
 * The demo is loaded in one transaction: a load interrupted (full disk, process killed) leaves the database
 * empty, not half-filled without accounts, and the next start loads it again.
 */
export async function prepareDatabase(
  db: Knex, config: Pick<Config, 'demo'>, now: Date, passwords: PasswordHasher = passwordHasher,
): Promise<{ demoLoaded: boolean }> {
  await migrate(db);
  let demoLoaded = false;
  if (config.demo) {
    demoLoaded = await loadOnceIntoEmpty(db, (trx) => loadDemo(trx, now, passwords));
  }
  return { demoLoaded };
}
