import { createRequire } from 'node:module';
import type { Knex } from 'knex';
import { readRevision } from './revision';

/**
 * The two statements every page view makes before anything else: the data's revision and the session. On SQLite they
 * are prepared once, on a reading connection of their own (WAL lets it read while the app's connection writes): a
 * repeat view then costs two lookups of a few microseconds instead of two trips through the query builder and its
 * pool. On PostgreSQL they go through knex like every other statement.
 */
export interface HotReads {
  revision(): Promise<number>;
  /** The stored session (its JSON, parsed), if it exists and has not expired; as connect-session-knex reads it. */
  session(sid: string): Promise<Record<string, unknown> | null>;
}

/** What is used here of better-sqlite3 (the driver knex uses for SQLite). */
interface Statement { get(...params: unknown[]): unknown }
interface Connection { prepare(sql: string): Statement; pragma(statement: string): unknown; close(): void }
const require = createRequire(import.meta.url);
const Database = require('better-sqlite3') as new (filename: string, options: { fileMustExist: boolean }) => Connection;

export function hotReads(db: Knex): HotReads {
  const filename = sqliteFile(db);
  if (filename === null) {
    return {
      revision: () => readRevision(db),
      session: async (sid) => {
        const row = await db('sessions').where('sid', sid).whereRaw('CAST(? as timestamp with time zone) <= expired', [new Date().toISOString()]).select('sess').first();
        if (!row) return null;
        return typeof row.sess === 'string' ? JSON.parse(row.sess) : row.sess;
      },
    };
  }
  let connection: Connection | null = null;
  let statements: { revision: Statement; session: Statement } | null = null;
  const open = () => {
    if (statements) return statements;
    connection = new Database(filename, { fileMustExist: true });
    connection.pragma('busy_timeout = 5000');
    statements = {
      revision: connection.prepare('SELECT (SELECT n FROM data_revision WHERE id = 1) + (SELECT count(*) FROM data_changes) AS n'),
      session: connection.prepare('SELECT sess FROM sessions WHERE sid = ? AND datetime(?) <= datetime(expired)'),
    };
    return statements;
  };
  // the reading connection ends with the app's database
  const client = db.client as { destroy: (...args: unknown[]) => unknown };
  const destroy = client.destroy.bind(client);
  client.destroy = (...args: unknown[]) => {
    connection?.close();
    connection = null;
    statements = null;
    return destroy(...args);
  };
  return {
    revision: async () => Number((open().revision.get() as { n: number }).n),
    session: async (sid) => {
      const row = open().session.get(sid, new Date().toISOString()) as { sess: string } | undefined;
      return row ? JSON.parse(row.sess) as Record<string, unknown> : null;
    },
  };
}

/** The file of a SQLite database opened by src/db.ts, or null for PostgreSQL (or an in-memory database). */
function sqliteFile(db: Knex): string | null {
  if (db.client.config.client === 'pg') return null;
  const connection = db.client.config.connection as { filename?: string } | undefined;
  const filename = connection?.filename;
  return filename && filename !== ':memory:' ? filename : null;
}
