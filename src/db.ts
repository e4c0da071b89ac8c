import { createRequire } from 'node:module';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from '../db/migrations/index';
import { assertWritableDataDir } from './config';

export type Db = Knex;

type TransactionClass = new (...args: unknown[]) => { query(conn: unknown, sql: string): Promise<unknown> };
const require = createRequire(import.meta.url);
const BetterSqlite3Client = require('knex/lib/dialects/better-sqlite3/index.js') as new (...args: unknown[]) => object;
const SqliteTransaction = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction.js') as TransactionClass;

/**
 * Every SQLite transaction takes the write lock when it begins (BEGIN IMMEDIATE). With a plain BEGIN, a
 * transaction that reads then writes fails outright (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out)
 * when another process — the command line, a second server — committed in between: an error page for the
 * user. Holding the lock from the start makes the other process wait its turn instead.
 */
class ImmediateTransaction extends SqliteTransaction {
  begin(conn: unknown) {
    return this.query(conn, 'BEGIN IMMEDIATE;');
  }
}
class ImmediateSqliteClient extends BetterSqlite3Client {
  transaction(...args: unknown[]) {
    return new ImmediateTransaction(this, ...args);
  }
}

/**
 * Opens the embedded SQLite database. WAL with synchronous=FULL so an acknowledged
 * write survives a crash; a busy timeout so the CLI can write while the server runs.
 */
export function openDatabase(filename: string): Db {
  // A folder or file that cannot be written is said plainly here, not by SQLite or knex's migration lock later.
  if (filename !== ':memory:') assertWritableDataDir(path.dirname(filename), filename);
  return knexFactory({
    client: ImmediateSqliteClient as unknown as Knex.Config['client'],
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
