import type { Knex } from 'knex';

/** Deletes the sessions expired before `now` (the session store's own timer is off); the number deleted. */
export async function purgeExpiredSessions(db: Knex, now: Date): Promise<number> {
  return db('sessions').where('expired', '<', now.toISOString()).delete();
}
