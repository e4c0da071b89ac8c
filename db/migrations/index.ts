import type { Knex } from 'knex';
import * as m001 from './001_initial';
import * as m002 from './002_meetings';
import * as m003 from './003_mail';
import * as m004 from './004_security';
import * as m005 from './005_throttle';
import * as m006 from './006_homologations';
import * as m007 from './007_identity';
import * as m008 from './008_risks';
import * as m009 from './009_risk_acceptance';
import * as m010 from './010_imports';
import * as m011 from './011_people';
import * as m012 from './012_evidence';
import * as m013 from './013_step_links';
import * as m014 from './014_step_late_ack';
import * as m015 from './015_comanagement';
import * as m016 from './016_fiche_progress';
import * as m017 from './017_data_revision';
import * as m018 from './018_oidc';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

// Migrations are listed here by a stable name (no file extension), so the same
// database migrates the same way whether the code runs from .ts (tsx) or compiled .js.
const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_meetings': m002,
  '003_mail': m003,
  '004_security': m004,
  '005_throttle': m005,
  '006_homologations': m006,
  '007_identity': m007,
  '008_risks': m008,
  '009_risk_acceptance': m009,
  '010_imports': m010,
  '011_people': m011,
  '012_evidence': m012,
  '013_step_links': m013,
  '014_step_late_ack': m014,
  '015_comanagement': m015,
  '016_fiche_progress': m016,
  '017_data_revision': m017,
  '018_oidc': m018,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`Migration inconnue : ${name}`);
    return migration;
  },
};
