// Knex configuration, for tools that expect a knexfile. The app itself opens the
// database through src/db.ts and migrates with `migrate()` (no knex CLI needed).
import { loadDatabaseConfig } from './src/config';
import { migrationSource } from './db/migrations/index';

const config = loadDatabaseConfig();

export default config.databaseUrl
  ? { client: 'pg', connection: config.databaseUrl, migrations: { migrationSource } }
  : { client: 'better-sqlite3', connection: { filename: config.databaseFile }, useNullAsDefault: true, migrations: { migrationSource } };
