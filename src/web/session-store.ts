import type { SessionData } from 'express-session';
import { ConnectSessionKnexStore } from 'connect-session-knex';
import type { Knex } from 'knex';

/** The sessions could not be read or written (database unreachable, disk full…): the request gets a 503 page. */
export class SessionStoreError extends Error {
  constructor(override readonly cause: unknown) {
    super(`Sessions indisponibles : ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Callback<T = any> = (err?: unknown, value?: T) => void;

/**
 * connect-session-knex 5 hands a database error to express-session's callback and then rethrows it from
 * the promise its get/set/destroy return (touch does not even call the callback): nobody awaits that
 * promise, so the rejection is unhandled and Node ends the process. One failed query (PostgreSQL
 * terminating a connection, a full disk) killed the server for every user.
 *
 * This store keeps the library's queries but settles each call exactly once through the callback,
 * never through a rejected promise. Its start-up check is not kept either: the library remembers a
 * failed one (the database down at that moment) and fails every later call, even once the database is
 * back; the table comes from the migrations.
 */
export class ResilientSessionStore extends ConnectSessionKnexStore {
  constructor(knex: Knex) {
    super({ knex, tableName: 'sessions', createTable: false, cleanupInterval: 0 });
    this.ready.catch(() => {
      // the table is checked by the migrations at start; a failure here is the database being down, seen by the next call
    });
    this.ready = Promise.resolve();
  }

  override get(sid: string, callback: Callback<SessionData | null>): Promise<SessionData | null> {
    return settle(super.get(sid, noop), callback, null);
  }

  override set(sid: string, session: SessionData, callback?: Callback): Promise<void> {
    return settle(super.set(sid, session, noop), callback, undefined);
  }

  override touch(sid: string, session: SessionData, callback?: Callback): Promise<void> {
    return settle(super.touch(sid, session, noop), callback, undefined);
  }

  override destroy(sid: string, callback?: Callback): Promise<number> {
    return settle(super.destroy(sid, noop), callback, 0);
  }
}

const noop = () => {};

function settle<T>(work: Promise<T>, callback: Callback<T> | undefined, fallback: T): Promise<T> {
  return work.then(
    (value) => {
      callback?.(undefined, value);
      return value;
    },
    (err: unknown) => {
      callback?.(new SessionStoreError(err));
      return fallback;
    },
  );
}
