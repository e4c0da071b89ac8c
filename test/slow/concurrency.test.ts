import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Knex } from 'knex';
import request from 'supertest';
import { aFiche, aHomologation, aTeam, aUser, type BuiltUser } from '../builders';
import { csrfOf, emptyDatabase, ENGINE, formBody } from '../helpers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Server { child: ChildProcess; port: number; output: () => string }

/** Starts the app as `npm start` does (demo mode, not production) on the given database; resolves once it listens. */
function startServer(env: NodeJS.ProcessEnv): Promise<Server> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['NODE_ENV', 'SESSION_SECRET', 'DATABASE_URL', 'TEST_DATABASE_URL', 'PORT', 'DATA_DIR', 'SMTP_URL', 'PUBLIC_URL']) delete base[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root, env: { ...base, PORT: '0', SESSION_SECRET: 'k3J9vQ2mX7pL4sT8wZ1nB6cR5yH0aD3fG9uE2iO7qW4eR1tY', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Le serveur n'a pas démarré :\n${out}`)), 30_000);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`Le serveur s'est arrêté (code ${code}) :\n${out}`)); });
    child.stdout!.on('data', () => {
      const match = /http:\/\/localhost:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), output: () => out });
      }
    });
  });
}

async function signInAt(port: number, { email, password }: BuiltUser) {
  const agent = request.agent(`http://127.0.0.1:${port}`);
  const page = await agent.get('/connexion').expect(200);
  await agent.post('/connexion').type('form').send({ _csrf: csrfOf(page.text), email, password }).expect(302);
  return agent;
}

const unescape = (html: string) => html.replace(/&#39;/g, "'").replace(/&#34;|&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

const STATUSES = ['non_demarre', 'en_cours', 'bloque', 'fait'] as const;

interface AuditRow { id: number; action: string; before: string | null; after: string | null }

// Two app processes on one database (PostgreSQL in the PostgreSQL run, one SQLite file otherwise), as behind a
// load balancer: progress notes that change the status go through the first, full edits of the fiche through the
// second. An acknowledged write is never silently undone: an edit whose form was loaded before a change gets 409.
describe(`two app processes racing notes against edits on one fiche (${ENGINE})`, function () {
  this.timeout(90_000);
  const servers: Server[] = [];
  let db: Knex;
  let dropDatabase = async () => {};

  before(async () => {
    const empty = await emptyDatabase('race');
    dropDatabase = empty.drop;
    const env: NodeJS.ProcessEnv = { DATA_DIR: empty.config.dataDir, ...(empty.config.databaseUrl ? { DATABASE_URL: empty.config.databaseUrl } : {}) };
    // The first process migrates the empty database and loads the demo; the second finds it ready.
    servers.push(await startServer(env));
    servers.push(await startServer(env));
    db = empty.open();
  });

  after(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
      if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
      s.child.on('exit', () => resolve());
      s.child.kill('SIGTERM');
    })));
    await db?.destroy();
    await dropDatabase();
  });

  it('loses no acknowledged update: notes through one process, stale edits through the other refused with 409', async () => {
    const [notesServer, editsServer] = servers as [Server, Server];
    const hid = await aHomologation().insert(db);
    const id = await aFiche().inHomologation(hid).numbered(4).ownedBy(await aTeam().insert(db)).insert(db);
    const fiche = await db('fiches').where({ id }).first();
    const team = await db('fiche_owners').where({ fiche_id: id }).first();
    const initial = { version: Number(fiche.version), status: String(fiche.status), title: String(fiche.title) };
    const lastAuditBefore = Number((await db('audit_log').max({ id: 'id' }).first())!.id);

    const editor = await signInAt(notesServer.port, await aUser().withRole('editor').insert(db));
    const admin = await signInAt(editsServer.port, await aUser().withRole('admin').insert(db));
    // One page each before the race, so each session holds its CSRF token (parallel first pages would each make one).
    const noteToken = csrfOf((await editor.get(`/homologations/${hid}/fiches/${id}`).expect(200)).text);
    await admin.get(`/homologations/${hid}/fiches/${id}/modifier`).expect(200);

    const notes: { body: string; status: string; code: number }[] = [];
    const edits: { title: string; status: string; seen: { version: string; title: string; status: string }; code: number }[] = [];

    const noteWorker = async (w: number) => {
      for (let k = 0; k < 12; k++) {
        const body = `note-${w}-${k}`;
        const status = STATUSES[(w + k) % STATUSES.length]!;
        const res = await editor.post(`/homologations/${hid}/fiches/${id}/notes`).type('form').send({ _csrf: noteToken, body, notedOn: '2026-03-16', status });
        notes.push({ body, status, code: res.status });
      }
    };
    const editWorker = async (w: number) => {
      for (let k = 0; k < 12; k++) {
        const form = (await admin.get(`/homologations/${hid}/fiches/${id}/modifier`).expect(200)).text;
        const seen = {
          version: /name="version" value="(\d+)"/.exec(form)![1]!,
          title: unescape(/id="title" name="title" value="([^"]*)"/.exec(form)![1]!),
          status: /<option value="([a-z_]+)" selected>/.exec(/<select[^>]*id="status"[\s\S]*?<\/select>/.exec(form)![0])![1]!,
        };
        const title = `edit-${w}-${k}`;
        const status = STATUSES[(w * 3 + k) % STATUSES.length]!;
        const res = await admin.post(`/homologations/${hid}/fiches/${id}`).type('form').send(formBody({
          _csrf: csrfOf(form), _action: 'save', version: seen.version, number: '4', title, targetDate: '2026-09-30', status, scope: 'all',
          owners: [{ teamId: String(team.team_id), serviceId: '' }],
        }));
        edits.push({ title, status, seen, code: res.status });
      }
    };
    await Promise.all([0, 1, 2, 3].flatMap((w) => [noteWorker(w), editWorker(w)]));

    // Every answer is an acknowledgement or, for an edit, a conflict: never an error.
    expect(notes.map((n) => n.code).filter((c) => c !== 303), 'notes answered otherwise than 303').to.deep.equal([]);
    expect(edits.map((e) => e.code).filter((c) => c !== 303 && c !== 409), 'edits answered otherwise than 303 or 409').to.deep.equal([]);
    const saved = edits.filter((e) => e.code === 303);
    expect(saved.length, 'some edits got through').to.be.greaterThan(0);
    expect(edits.length - saved.length, 'some edits raced a change (409)').to.be.greaterThan(0);

    // Every acknowledged note is kept.
    const kept = await db('progress_notes').where({ fiche_id: id }).whereLike('body', 'note-%').select('body', 'status_before', 'status_after');
    expect(kept.map((n) => n.body).sort()).to.deep.equal(notes.map((n) => n.body).sort());

    // The fiche's writes, in commit order (each holds the fiche's row until it commits, so the audit ids follow commits).
    const trail: AuditRow[] = await db('audit_log').where({ entity_type: 'fiche', entity_id: id }).whereIn('action', ['update', 'note'])
      .where('id', '>', lastAuditBefore).orderBy('id');
    const updates = trail.filter((r) => r.action === 'update').map((r) => ({ before: JSON.parse(r.before!), after: JSON.parse(r.after!) }));
    // Every acknowledged edit is there once, and no refused one.
    expect(updates.map((u) => u.after.title).sort()).to.deep.equal(saved.map((e) => e.title).sort());

    // No lost update: an edit went through only if nothing changed since its form was loaded.
    for (const u of updates) {
      const edit = saved.find((e) => e.title === u.after.title)!;
      expect({ version: String(u.before.version), title: u.before.title, status: u.before.status }, `${edit.title} was saved over a change it never saw`)
        .to.deep.equal(edit.seen);
    }
    // Replaying the trail: each write starts from the state the previous one left, and the fiche ends as the last one left it.
    let status = initial.status;
    let title = initial.title;
    let bumps = 0;
    for (const row of trail) {
      const before = row.before ? JSON.parse(row.before) : null;
      const after = JSON.parse(row.after!);
      if (row.action === 'note' && !before) continue;
      expect(before.status, `audit ${row.id}: starts from a stale status`).to.equal(status);
      status = after.status;
      if (row.action === 'update') title = after.title;
      bumps++;
    }
    const final = await db('fiches').where({ id }).first();
    expect({ status: final.status, title: final.title }).to.deep.equal({ status, title });
    // …and every acknowledged change moved the version once: no two writes ended on the same version.
    expect(Number(final.version)).to.equal(initial.version + bumps);
  });
});
