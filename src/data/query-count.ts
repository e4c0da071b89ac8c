import type { Knex } from 'knex';

/** Counts the SQL statements a Knex instance runs, for tests and the benchmark. */
export function countQueries(db: Knex): { reset(): void; count(): number; stop(): void } {
  let n = 0;
  const listener = () => { n += 1; };
  db.on('query', listener);
  return { reset: () => { n = 0; }, count: () => n, stop: () => { db.removeListener('query', listener); } };
}
