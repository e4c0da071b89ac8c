import { parseArgs } from 'node:util';
import { ConfigError, loadDatabaseConfig } from './config';
import { communes } from './data/referentials';
import { createUser } from './data/users';
import { connect, migrate } from './db';
import { passwordProblem } from './domain/password';
import { isRole, ROLES } from './domain/roles';
import { hashPassword } from './security/passwords';

const HELP = `Usage : npm run cli -- <commande> [options]

Commandes :
  user:create --email E --name "N" --role ${ROLES.join('|')} [--commune "Nom de la commune"]
      Crée un compte. Le mot de passe est lu sur l'entrée standard quand elle n'est pas un terminal
      (par exemple : printf '%s' "$MOT_DE_PASSE" | npm run cli -- user:create ...), sinon il est demandé.
      Au moins 12 caractères. --commune est obligatoire pour le rôle commune.
      Utilisable pendant que le serveur tourne. Sert à créer le premier administrateur en production.

  migrate
      Applique les migrations de la base (le serveur le fait aussi à chaque démarrage).

  --help
      Affiche cette aide.

Variables d'environnement : DATA_DIR (dossier de la base, ./data par défaut) ou DATABASE_URL (PostgreSQL).
SESSION_SECRET n'est pas nécessaire à la ligne de commande.
`;

class CliError extends Error {}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  // On a terminal, ask without echoing what is typed.
  process.stdout.write('Mot de passe : ');
  process.stdin.setRawMode(true);
  process.stdin.resume();
  process.stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    process.stdin.on('data', (key: string) => {
      for (const ch of key) {
        if (ch === '\r' || ch === '\n') {
          process.stdin.setRawMode(false);
          process.stdin.pause();
          process.stdout.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') return reject(new CliError('Interrompu.'));
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    });
  });
}

const USER_CREATE_OPTIONS = { email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, commune: { type: 'string' } } as const;

/** node:util parseArgs, with its English errors told in French. */
function parseOptions(args: string[]) {
  try {
    return parseArgs({ args, options: USER_CREATE_OPTIONS, strict: true });
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
    const quoted = /'([^']+)'/.exec(err instanceof Error ? err.message : '')?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new CliError(`option inconnue : ${quoted}. Voir npm run cli -- --help`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new CliError(`l'option ${quoted.replace(/ <value>$/, '')} attend une valeur.`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new CliError(`argument inattendu : « ${quoted} ». Mettez entre guillemets une valeur qui contient des espaces (--name "Prénom Nom").`);
    }
    throw err;
  }
}

async function userCreate(args: string[]): Promise<void> {
  const { values } = parseOptions(args);
  const email = values.email?.trim() ?? '';
  const name = values.name?.trim() ?? '';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new CliError('--email : adresse électronique manquante ou invalide.');
  if (!name) throw new CliError('--name : nom manquant.');
  if (!isRole(values.role)) throw new CliError(`--role : rôle manquant ou inconnu (attendu : ${ROLES.join(', ')}).`);
  const role = values.role;
  if (role === 'commune' && !values.commune) throw new CliError('--commune : obligatoire pour le rôle commune.');
  if (role !== 'commune' && values.commune) throw new CliError('--commune : réservé au rôle commune.');

  const config = loadDatabaseConfig();
  const db = connect(config);
  try {
    await migrate(db);
    let communeId: number | null = null;
    if (values.commune) {
      const found = (await communes.list(db)).find((c) => c.name.toLowerCase() === values.commune!.trim().toLowerCase());
      if (!found) throw new CliError(`--commune : la commune « ${values.commune} » est inconnue. Créez-la d'abord dans l'administration.`);
      communeId = found.id;
    }
    const password = await readPassword();
    const problem = passwordProblem(password, { email });
    if (problem) throw new CliError(`Mot de passe refusé : ${problem}`);
    const result = await createUser(
      db, { email, name, role, communeId, active: true, passwordHash: await hashPassword(password) },
      { id: null, name: 'Ligne de commande' }, new Date(),
    );
    if (!result.ok) throw new CliError(`Un compte existe déjà avec l'adresse ${email}.`);
    console.log(`Compte créé : ${email} (${role}), n°${result.id}.`);
  } finally {
    await db.destroy();
  }
}

async function migrateCommand(): Promise<void> {
  const config = loadDatabaseConfig();
  const db = connect(config);
  try {
    await migrate(db);
    console.log(`Base à jour : ${config.databaseUrl ? 'PostgreSQL' : config.databaseFile}`);
  } finally {
    await db.destroy();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return command ? 0 : 1;
  }
  if (command === 'user:create') await userCreate(rest);
  else if (command === 'migrate') await migrateCommand();
  else throw new CliError(`Commande inconnue : ${command}. Voir npm run cli -- --help`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof CliError || err instanceof ConfigError) console.error(`Erreur : ${err.message}`);
    else if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) console.error(`Erreur : ${err.message}`);
    else console.error('Erreur inattendue :', err);
    process.exit(1);
  },
);
