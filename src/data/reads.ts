import type { Knex } from 'knex';

/**
 * Runs independent reads together on the pool, but one after another inside a transaction: a transaction
 * holds a single connection, which takes one query at a time (pg queues them with a deprecation warning
 * today and will refuse them in its next major version).
 */
export async function reads<T extends unknown[]>(db: Knex, ...thunks: { [K in keyof T]: () => PromiseLike<T[K]> }): Promise<T> {
  if (!db.isTransaction) return (await Promise.all(thunks.map((read) => read()))) as T;
  const results: unknown[] = [];
  for (const read of thunks) results.push(await read());
  return results as T;
}
