import { isIPv6 } from 'node:net';
import type { Knex } from 'knex';

/**
 * The network source a request is counted under: an IPv4 address, or the /64 prefix of an IPv6 address
 * (one machine commonly holds a whole /64, so counting single IPv6 addresses would count nothing).
 */
export function sourceOf(ip: string | undefined): string {
  const raw = (ip ?? '').trim();
  if (!raw) return 'inconnue';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  if (mapped) return mapped[1]!;
  if (!isIPv6(raw)) return raw.slice(0, 64);
  // expand "::" to get the first four groups
  const [head = '', tail = ''] = raw.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = raw.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

const rowsOf = (result: unknown): Record<string, unknown>[] =>
  Array.isArray(result) ? (result as Record<string, unknown>[]) : ((result as { rows?: Record<string, unknown>[] }).rows ?? []);

/**
 * Counts one more hit on a fixed-window counter and returns the count in the current window, in one
 * atomic statement (an upsert: concurrent requests, from any number of app processes, each get their own number).
 */
export async function hit(db: Knex, name: string, windowMs: number, now: Date): Promise<number> {
  const at = now.toISOString();
  const expired = new Date(now.getTime() - windowMs).toISOString();
  const result = await db.raw(
    `insert into throttle (name, hits, window_start) values (?, 1, ?)
     on conflict (name) do update set
       hits = case when throttle.window_start <= ? then 1 else throttle.hits + 1 end,
       window_start = case when throttle.window_start <= ? then excluded.window_start else throttle.window_start end
     returning hits`,
    [name, at, expired, expired],
  );
  return Number(rowsOf(result)[0]?.hits ?? 1);
}

/** Takes back one hit (an attempt counted before it was known to succeed), atomically. */
export async function unhit(db: Knex, name: string): Promise<void> {
  await db('throttle').where('name', name).where('hits', '>', 0).decrement('hits', 1);
}

/** Forgets counters whose window ended long ago (they would restart at 1 anyway). */
export async function purgeThrottle(db: Knex, now: Date): Promise<void> {
  await db('throttle').where('window_start', '<', new Date(now.getTime() - 86_400_000).toISOString()).delete();
}
