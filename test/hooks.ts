import { clearRun, clearStaleRuns, runId } from './run';

// Loaded first by .mocharc*.json (`require`), in the main process: names the run before any worker starts, so
// every worker's files and template databases carry its name and are cleared once, when the whole run ends.
process.env.PLAN_TEST_RUN = runId();
clearStaleRuns();

export async function mochaGlobalTeardown(): Promise<void> {
  await clearRun(process.env.TEST_DATABASE_URL || null);
}
