import { type SpawnSyncReturns, execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { communes } from '../../src/data/referentials';
import { migrate, openDatabase } from '../../src/db';
import { passwordHasher } from '../../src/security/passwords';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STRONG = 'cheval agrafe pile correcte';

/** The environment an operator would have: production, no session secret, the database in DATA_DIR. */
function envFor(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', DATA_DIR: dataDir, ...extra };
  for (const name of ['SESSION_SECRET', 'DATABASE_URL', 'TEST_DATABASE_URL', 'PORT']) if (!(name in extra)) delete env[name];
  return env;
}

/** Runs the command line as `npm run cli -- …` does, the password (if any) piped on stdin. */
function cli(dataDir: string, args: string[], input = '', extra: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: root, env: envFor(dataDir, extra), input, encoding: 'utf8', timeout: 30_000,
  });
  if (result.error) throw result.error;
  return result;
}

function cliAsync(dataDir: string, args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, env: envFor(dataDir), timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

describe('command line (src/cli.ts)', function () {
  // Each run starts tsx (about 2 s) and hashes a password.
  this.timeout(60_000);

  const dirs: string[] = [];
  const dbs: Knex[] = [];
  const freshDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plan-cli-'));
    dirs.push(dir);
    return dir;
  };
  const open = (dir: string) => {
    const db = openDatabase(path.join(dir, 'plan.sqlite'));
    dbs.push(db);
    return db;
  };
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((db) => db.destroy()));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('--help lists the commands and exits 0; no command prints the help and exits 1', () => {
    const dir = freshDir();
    const help = cli(dir, ['--help']);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.contain('user:create --email E --name "N" --role admin|editor|viewer|commune');
    expect(help.stdout).to.contain('migrate');
    const none = cli(dir, []);
    expect(none.status).to.equal(1);
    expect(none.stdout).to.contain('user:create');
    const unknown = cli(dir, ['user:delete']);
    expect(unknown.status).to.equal(1);
    expect(unknown.stderr).to.contain('Commande inconnue : user:delete');
    // Neither touched the database.
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('user:create makes an account from a password on stdin, in production without SESSION_SECRET', async () => {
    const dir = freshDir();
    // As `echo "$MOT_DE_PASSE" | …` sends it: with a final newline, which is not part of the password.
    const res = cli(dir, ['user:create', '--email', 'Admin@Collectivite.fr', '--name', 'Alice Durand', '--role', 'admin'], `${STRONG}\n`);
    expect(res.stderr).to.equal('');
    expect(res.status).to.equal(0);
    expect(res.stdout).to.match(/Compte créé : Admin@Collectivite\.fr \(admin\), n°\d+\./);

    const db = open(dir);
    const rows = await db('users').select('*');
    expect(rows).to.have.length(1);
    const row = rows[0];
    expect({ email: row.email, name: row.name, role: row.role, communeId: row.commune_id, active: Boolean(row.active) })
      .to.deep.equal({ email: 'admin@collectivite.fr', name: 'Alice Durand', role: 'admin', communeId: null, active: true });
    expect(row.password_hash).to.match(/^\$argon2id\$/);
    expect(await passwordHasher.verify(row.password_hash, STRONG)).to.equal(true);
    expect(await passwordHasher.verify(row.password_hash, `${STRONG}\n`)).to.equal(false);

    const audit = await db('audit_log').where({ entity_type: 'user', entity_id: row.id });
    expect(audit).to.have.length(1);
    expect(audit[0]).to.include({ action: 'create', actor: 'Ligne de commande', user_id: null });
    expect(audit[0].after).not.to.contain('argon2');
  });

  it('refuses a weak password with a French message, a non-zero exit and no account', async () => {
    const dir = freshDir();
    const res = cli(dir, ['user:create', '--email', 'admin@collectivite.fr', '--name', 'Alice Durand', '--role', 'admin'], 'court123');
    expect(res.status).not.to.equal(0);
    expect(res.stderr).to.contain('Mot de passe refusé : Le mot de passe doit contenir au moins 12 caractères.');
    expect(res.stdout).not.to.contain('Compte créé');
    const common = cli(dir, ['user:create', '--email', 'admin@collectivite.fr', '--name', 'Alice Durand', '--role', 'admin'], 'motdepasse123');
    expect(common.status).not.to.equal(0);
    expect(common.stderr).to.contain('trop courant');
    const empty = cli(dir, ['user:create', '--email', 'admin@collectivite.fr', '--name', 'Alice Durand', '--role', 'admin'], '');
    expect(empty.status).not.to.equal(0);
    expect(await open(dir)('users').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('refuses an unknown commune, a commune account without commune, and bad options, naming the option', async () => {
    const dir = freshDir();
    const unknown = cli(dir, ['user:create', '--email', 'agent@atlantis.fr', '--name', 'Agent', '--role', 'commune', '--commune', 'Atlantis'], STRONG);
    expect(unknown.status).not.to.equal(0);
    expect(unknown.stderr).to.contain("Erreur : --commune : la commune « Atlantis » est inconnue. Créez-la d'abord dans l'administration.");
    const missing = cli(dir, ['user:create', '--email', 'agent@atlantis.fr', '--name', 'Agent', '--role', 'commune'], STRONG);
    expect(missing.status).not.to.equal(0);
    expect(missing.stderr).to.contain('--commune : obligatoire pour le rôle commune.');
    const role = cli(dir, ['user:create', '--email', 'x@collectivite.fr', '--name', 'X', '--role', 'superadmin'], STRONG);
    expect(role.status).not.to.equal(0);
    expect(role.stderr).to.contain('--role : rôle manquant ou inconnu (attendu : admin, editor, viewer, commune, commune_admin).');
    const email = cli(dir, ['user:create', '--email', 'pas-une-adresse', '--name', 'X', '--role', 'viewer'], STRONG);
    expect(email.status).not.to.equal(0);
    expect(email.stderr).to.contain('--email : adresse électronique manquante ou invalide.');
    const option = cli(dir, ['user:create', '--email', 'x@collectivite.fr', '--name', 'X', '--role', 'viewer', '--password', 'dans-la-ligne'], STRONG);
    expect(option.status).not.to.equal(0);
    expect(option.stderr).to.contain('Erreur : option inconnue : --password.');
    // An unquoted name with a space: the second word is not silently dropped.
    const unquoted = cli(dir, ['user:create', '--email', 'x@collectivite.fr', '--name', 'Alice', 'Durand', '--role', 'viewer'], STRONG);
    expect(unquoted.status).not.to.equal(0);
    expect(unquoted.stderr).to.contain('Erreur : argument inattendu : « Durand ».');
    const value = cli(dir, ['user:create', '--role', 'viewer', '--name', 'X', '--email'], STRONG);
    expect(value.status).not.to.equal(0);
    expect(value.stderr).to.contain("Erreur : l'option --email attend une valeur.");
    const db = open(dir);
    await migrate(db);
    expect(await db('users').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });

  it('creates a commune agent attached to a commune that exists', async () => {
    const dir = freshDir();
    const db = open(dir);
    await migrate(db);
    await communes.create(db, { name: 'Villeurbanne', inseeCode: '69266' }, { id: null, name: 'Test' }, new Date());
    const created = await communes.create(db, { name: 'Vénissieux', inseeCode: '69259' }, { id: null, name: 'Test' }, new Date());
    expect(created.ok).to.equal(true);
    const venissieux = created.ok ? created.id : -1;

    const res = cli(dir, ['user:create', '--email', 'agent@venissieux.fr', '--name', 'Paul Agent', '--role', 'commune', '--commune', 'Vénissieux'], STRONG);
    expect(res.stderr).to.equal('');
    expect(res.status).to.equal(0);
    const row = await db('users').where({ email: 'agent@venissieux.fr' }).first();
    expect({ role: row.role, communeId: Number(row.commune_id) }).to.deep.equal({ role: 'commune', communeId: venissieux });

    const other = cli(dir, ['user:create', '--email', 'agent@villeurbanne.fr', '--name', 'Lina Agent', '--role', 'viewer', '--commune', 'Villeurbanne'], STRONG);
    expect(other.status).not.to.equal(0);
    expect(other.stderr).to.contain('--commune : réservé aux rôles commune et commune_admin.');
  });

  it('refuses an e-mail already used, whatever its case, leaving the account as it was', async () => {
    const dir = freshDir();
    expect(cli(dir, ['user:create', '--email', 'chef@collectivite.fr', '--name', 'Chef', '--role', 'admin'], STRONG).status).to.equal(0);
    const db = open(dir);
    const before = await db('users').where({ email: 'chef@collectivite.fr' }).first();
    const again = cli(dir, ['user:create', '--email', 'CHEF@collectivite.fr', '--name', 'Usurpateur', '--role', 'viewer'], 'une autre phrase de passe');
    expect(again.status).not.to.equal(0);
    expect(again.stderr).to.contain("Un compte existe déjà avec l'adresse CHEF@collectivite.fr.");
    const rows = await db('users').select('*');
    expect(rows).to.have.length(1);
    expect(rows[0]).to.deep.equal(before);
  });

  it('writes while another connection (the running server) holds the database open', async () => {
    const dir = freshDir();
    const server = open(dir);
    await migrate(server);
    expect(await server('users').count({ n: '*' }).first()).to.deep.equal({ n: 0 });

    const res = cli(dir, ['user:create', '--email', 'redacteur@collectivite.fr', '--name', 'Rédacteur', '--role', 'editor'], STRONG);
    expect(res.stderr).to.equal('');
    expect(res.status).to.equal(0);
    // The open connection sees the new row at once.
    const row = await server('users').where({ email: 'redacteur@collectivite.fr' }).first();
    expect(row).to.include({ name: 'Rédacteur', role: 'editor' });
  });

  it('waits for a write in progress on the other connection instead of failing', async () => {
    const dir = freshDir();
    const server = open(dir);
    await migrate(server);
    let committed = false;
    // The "server" holds the write lock for 2.5 s while the command starts and needs it.
    const holding = server.transaction(async (trx) => {
      await trx('audit_log').insert({ at: new Date().toISOString(), actor: 'Serveur', action: 'note', entity_type: 'test', summary: 'écriture longue' });
      await new Promise((r) => setTimeout(r, 2500));
      committed = true;
    });
    const run = cliAsync(dir, ['user:create', '--email', 'patient@collectivite.fr', '--name', 'Patient', '--role', 'viewer'], STRONG);
    const [res] = await Promise.all([run, holding]);
    expect(committed).to.equal(true);
    expect(res.stderr).to.equal('');
    expect(res.code).to.equal(0);
    expect(await server('users').where({ email: 'patient@collectivite.fr' })).to.have.length(1);
    expect(await server('audit_log').where({ entity_type: 'test' })).to.have.length(1);
  });

  it('migrate creates the database in DATA_DIR without any session secret', async () => {
    const dir = freshDir();
    const res = cli(dir, ['migrate']);
    expect(res.stderr).to.equal('');
    expect(res.status).to.equal(0);
    expect(res.stdout).to.contain(`Base à jour : ${path.join(dir, 'plan.sqlite')}`);
    const db = open(dir);
    expect(await db('users').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    // Outside production too, the command line does not leave a session secret behind: that is the server's business.
    const dev = freshDir();
    expect(cli(dev, ['migrate'], '', { NODE_ENV: 'development' }).status).to.equal(0);
    expect(readdirSync(dev).filter((f) => !f.startsWith('plan.sqlite'))).to.deep.equal([]);
  });
});
