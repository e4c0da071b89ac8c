import type { Knex } from 'knex';
import { loadDemo } from '../db/seeds/demo';
import type { Config } from './config';
import { currentPlan, isEmpty } from './data/plans';
import { migrate } from './db';

/** Migrates, and outside production fills an empty database with the demonstration plan. */
export async function prepareDatabase(db: Knex, config: Pick<Config, 'demo'>, now: Date): Promise<{ demoLoaded: boolean }> {
  await migrate(db);
  let demoLoaded = false;
  if (config.demo && (await isEmpty(db))) {
    await loadDemo(db, now);
    demoLoaded = true;
  }
  await currentPlan(db);
  return { demoLoaded };
}
