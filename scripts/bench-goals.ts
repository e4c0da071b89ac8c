// The goals of `npm run bench` (issue 19), each with its figure and "ok" or "short": measured in the same run as the
// pages' throughput against the floor. Also the cold start and the memory of a real server process at national scale.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build, isFresh } from './build.mjs';

export interface PageFigure { name: string; url: string; bytes: number; firstMs: number; ratio: number }
export interface Goal { goal: string; figure: string; ok: boolean }

const KIB = 1024;
const pct = (r: number) => `${(r * 100).toFixed(1)} %`;

/** The goals on pages: throughput against the floor, first view, weight. */
export function pageGoals(pages: readonly PageFigure[], repeat: readonly string[], frozen: string | null, live50: string | null, pdf50Ms: number | null): Goal[] {
  const goals: Goal[] = [];
  for (const p of pages.filter((x) => repeat.includes(x.url))) {
    goals.push({ goal: `${p.name} : vues répétées ≥ 50 % du plancher`, figure: pct(p.ratio), ok: p.ratio >= 0.5 });
    goals.push({ goal: `${p.name} : première vue après un changement < 100 ms`, figure: `${p.firstMs} ms`, ok: p.firstMs < 100 });
  }
  const held = pages.find((p) => p.url === frozen);
  if (held) goals.push({ goal: `${held.name} : ≥ 50 % du plancher`, figure: pct(held.ratio), ok: held.ratio >= 0.5 });
  const live = pages.find((p) => p.url === live50);
  if (live) goals.push({ goal: `${live.name} : HTML < 150 ms`, figure: `${live.firstMs} ms`, ok: live.firstMs < 150 });
  if (pdf50Ms !== null) goals.push({ goal: 'Ordre du jour de 50 fiches en PDF < 1 s', figure: `${pdf50Ms} ms`, ok: pdf50Ms < 1000 });
  const heaviest = [...pages].sort((a, b) => b.bytes - a.bytes)[0];
  if (heaviest) {
    goals.push({
      goal: 'Aucune page au-delà de 150 Kio', figure: pages.filter((p) => p.bytes > 150 * KIB).map((p) => `${p.name} ${(p.bytes / KIB).toFixed(0)} Kio`).join(', ') || `la plus lourde : ${(heaviest.bytes / KIB).toFixed(0)} Kio`,
      ok: pages.every((p) => p.bytes <= 150 * KIB),
    });
  }
  return goals;
}

/**
 * A real server process, as `npm start` runs it (scripts/start.mjs: the bundle of scripts/build.mjs, built beforehand as
 * `npm ci` does), on the bench's database: the time from its start to its first page, then its resident memory after
 * serving the national plan's pages as the project team.
 */
export async function serverProcess(dataDir: string, credentials: { email: string; password: string }, urls: readonly string[]): Promise<{ coldMs: number; rssMb: number }> {
  if (!isFresh()) await build();
  const port = 39_000 + Math.floor(Math.random() * 1000);
  const started = performance.now();
  const child = spawn(process.execPath, [path.resolve('scripts/start.mjs')], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), NODE_ENV: 'development', SMTP_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  try {
    let coldMs = -1;
    while (performance.now() - started < 30_000) {
      try {
        const res = await fetch(`${base}/connexion`);
        if (res.status === 200) { await res.text(); coldMs = Math.round(performance.now() - started); break; }
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (coldMs < 0) throw new Error(`le serveur n'a pas répondu en 30 s :\n${output}`);
    const login = await fetch(`${base}/connexion`);
    let cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const token = /name="_csrf" value="([^"]+)"/.exec(await login.text())![1]!;
    const signed = await fetch(`${base}/connexion`, {
      method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: token, email: credentials.email, password: credentials.password }),
    });
    cookie = (signed.headers.get('set-cookie') ?? '').split(';')[0]!;
    for (let round = 0; round < 3; round++) {
      for (const url of urls) {
        const res = await fetch(base + url, { headers: { cookie } });
        if (res.status !== 200) throw new Error(`${url} : ${res.status}`);
        await res.arrayBuffer();
      }
    }
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { coldMs, rssMb: Math.round(rssKb / 1024) };
  } finally {
    child.kill('SIGTERM');
  }
}

export function goalsTable(goals: readonly Goal[]): string {
  return ['| Objectif | Mesure | Verdict |', '|---|---|---|', ...goals.map((g) => `| ${g.goal} | ${g.figure} | ${g.ok ? 'ok' : 'short'} |`)].join('\n');
}

/**
 * Where the time goes: a CPU profile (the inspector's sampling profiler, in this process) taken while `work` runs, and
 * its functions with the most self time, as "share · function (file:line)".
 */
export async function topOfProfile(work: () => Promise<void>, top = 12): Promise<string[]> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  await work();
  const { profile } = await session.post('Profiler.stop') as { profile: { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples: number[] } };
  session.disconnect();
  const byNode = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const f = byNode.get(id);
    if (!f) continue;
    const file = f.url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
    const key = `${f.functionName || '(anonyme)'} (${file || 'natif'}${f.url ? `:${f.lineNumber + 1}` : ''})`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length || 1;
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, n]) => `${(n / total * 100).toFixed(1)} % · ${k}`);
}
