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
  /** When this process last wrote each session's expiry (ms). */
  private readonly touched = new Map<string, number>();

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

  /**
   * Every response moves the session's expiry (rolling sessions): written at most once a minute per session by this
   * process, so that reading pages does not write to the database at every request. The expiry is eight hours away;
   * a minute of it is nothing, and the idle timeout is counted apart (web/auth.ts).
   */
  override touch(sid: string, session: SessionData, callback?: Callback): Promise<void> {
    const now = Date.now();
    const last = this.touched.get(sid);
    if (last !== undefined && now - last >= 0 && now - last < TOUCH_INTERVAL_MS) {
      callback?.();
      return Promise.resolve();
    }
    if (this.touched.size >= MAX_TOUCHED) this.touched.clear();
    this.touched.set(sid, now);
    return settle(super.touch(sid, session, noop), callback, undefined);
  }

  /** Whether this process wrote the session's expiry less than a minute ago. */
  touchedRecently(sid: string): boolean {
    const last = this.touched.get(sid);
    const age = Date.now() - (last ?? 0);
    return last !== undefined && age >= 0 && age < TOUCH_INTERVAL_MS;
  }

  override set(sid: string, session: SessionData, callback?: Callback): Promise<void> {
    // a saved session has its expiry moved too
    this.touched.set(sid, Date.now());
    return settle(super.set(sid, session, noop), callback, undefined);
  }

  override destroy(sid: string, callback?: Callback): Promise<number> {
    this.touched.delete(sid);
    return settle(super.destroy(sid, noop), callback, 0);
  }
}

const noop = () => {};
const TOUCH_INTERVAL_MS = 60_000;
const MAX_TOUCHED = 100_000;

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
