import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../db/migrations/index';
import { assertWritableDataDir } from './config';

export type Db = Knex;

/**
 * Opens the embedded SQLite database. WAL with synchronous=FULL so an acknowledged
 * write survives a crash; a busy timeout so the CLI can write while the server runs.
 */
export function openDatabase(filename: string): Db {
  // A folder or file that cannot be written is said plainly here, not by SQLite or knex's migration lock later.
  if (filename !== ':memory:') assertWritableDataDir(path.dirname(filename), filename);
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = FULL');
          conn.pragma('foreign_keys = ON');
          conn.pragma('busy_timeout = 5000');
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
}

/** PostgreSQL, for deployments that outgrow one machine: same migrations, same queries. */
export function openPostgres(url: string): Db {
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 10 } });
}

/** The database the configuration names: DATABASE_URL when set, else the SQLite file in DATA_DIR. */
export function connect(config: { databaseUrl: string | null; databaseFile: string }): Db {
  return config.databaseUrl ? openPostgres(config.databaseUrl) : openDatabase(config.databaseFile);
}

export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource });
}
