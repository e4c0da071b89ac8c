import { accessSync, constants, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';

/**
 * What one run of the tests leaves behind, and how it is cleared: its SQLite files in one folder, its PostgreSQL
 * template databases under one name prefix. A run is one mocha command; its worker processes (--parallel) share it.
 * test/hooks.ts names the run and clears it at the end; without it (mocha --no-config), helpers.ts does.
 */
export const runId = () => process.env.PLAN_TEST_RUN ?? `p${process.pid}`;

/**
 * The run's folder, on a RAM file system when there is one: the app's SQLite runs with synchronous=FULL, and each
 * commit's fsync on a disk was a third of the suite's time. Nothing here needs to survive the run.
 */
export function runDir(): string {
  const dir = path.join(scratchRoot(), `plan-tests-${runId()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function scratchRoot(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** The run's PostgreSQL databases: the demo template of each process, and each test's copy of it. */
export const templatePrefix = () => `plan_tpl_${runId()}_`;
export const databasePrefix = () => `plan_t_${runId()}_`;

/** Removes the run's folder and drops the run's PostgreSQL databases still there (each test drops its own as it ends). */
export async function clearRun(pgUrl: string | null): Promise<void> {
  rmSync(path.join(scratchRoot(), `plan-tests-${runId()}`), { recursive: true, force: true });
  if (!pgUrl) return;
  const admin = knexFactory({ client: 'pg', connection: pgUrl, pool: { min: 0, max: 1 } });
  try {
    // '_' matches any character in LIKE: escaped, run p12 never matches run p123's databases
    const like = (prefix: string) => `${prefix.replace(/_/g, '\\_')}%`;
    const rows: { datname: string }[] = (await admin.raw(
      "SELECT datname FROM pg_database WHERE datname LIKE ? ESCAPE '\\' OR datname LIKE ? ESCAPE '\\' ORDER BY datname LIKE 'plan\\_tpl%'",
      [like(databasePrefix()), like(templatePrefix())],
    )).rows;
    // the tests' copies first, then the templates they were made from
    for (const { datname } of rows) await admin.raw(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  } finally {
    await admin.destroy();
  }
}

/** Whether a process of this machine is still running. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the folders of earlier runs whose process is gone (a run stopped with Ctrl-C never reaches its clearing,
 * and on /dev/shm its files would hold memory until the machine restarts).
 */
export function clearStaleRuns(): void {
  const root = scratchRoot();
  for (const name of readdirSync(root)) {
    const pid = /^plan-tests-p(\d+)$/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !alive(Number(pid))) rmSync(path.join(root, name), { recursive: true, force: true });
  }
}
