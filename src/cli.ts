import { parseArgs } from 'node:util';
import { ConfigError, loadDatabaseConfig, loadMailConfig, loadTimeZone } from './config';
import { getMailSettings } from './data/mail-settings';
import { type Db } from './db';
import { PERIOD_PATTERN, periodOf } from './domain/schedule';
import { smtpMailer } from './mail/transport';
import { deliverDue } from './mail/worker';
import { scanAlerts } from './services/alerts';
import { enqueueDigests } from './services/digests';
import { pendingCount } from './data/outbox';
import { communes } from './data/referentials';
import { connect, migrate } from './db';
import { isCommuneRole, isRole, ROLES } from './domain/roles';
import { passwordHasher } from './security/passwords';
import { accountService } from './services/accounts';
import { emailAddress } from './web/forms/fields';

const HELP = `Usage : npm run cli -- <commande> [options]

Commandes :
  user:create --email E --name "N" --role ${ROLES.join('|')} [--commune "Nom de la commune"]
      Crée un compte. Le mot de passe est lu sur l'entrée standard quand elle n'est pas un terminal
      (par exemple : printf '%s' "$MOT_DE_PASSE" | npm run cli -- user:create ...), sinon il est demandé.
      Au moins 12 caractères. --commune est obligatoire pour le rôle commune.
      Utilisable pendant que le serveur tourne. Sert à créer le premier administrateur en production.

  digest:send --all | --commune "Nom" [--period 2026-12]
      Envoie le point d'avancement de chaque commune (ou d'une seule) à ses contacts inscrits.
      Une commune reçoit un seul point par période (le mois, ou la semaine ISO si l'envoi planifié est
      hebdomadaire ; --period pour en nommer une autre) : relancer la commande, même en parallèle ou
      après une interruption, n'envoie rien en double. Délivre ensuite les messages en attente.
      Code de sortie 1 si un message n'a pas pu être remis (il sera retenté, voir Administration > Courriels).

  outbox:deliver
      Délivre les messages en attente de la boîte d'envoi (le serveur le fait aussi chaque minute).

  alerts:scan
      Crée les alertes des fiches dont la date cible est dépassée, envoie les rappels non acquittés.

  migrate
      Applique les migrations de la base (le serveur le fait aussi à chaque démarrage).

  --help
      Affiche cette aide.

Variables d'environnement : DATA_DIR (dossier de la base, ./data par défaut) ou DATABASE_URL (PostgreSQL) ;
SMTP_URL, MAIL_FROM et PUBLIC_URL pour les courriels (sans SMTP_URL, ils restent dans la boîte d'envoi).
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
const DIGEST_OPTIONS = { all: { type: 'boolean' }, commune: { type: 'string' }, period: { type: 'string' } } as const;

type Options = Parameters<typeof parseArgs>[0] extends infer C ? C extends { options?: infer O } ? NonNullable<O> : never : never;

/** node:util parseArgs, with its English errors told in French. */
function parseOptions<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true });
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
  const { values } = parseOptions(args, USER_CREATE_OPTIONS);
  const email = values.email?.trim() ?? '';
  const name = values.name?.trim() ?? '';
  if (!emailAddress('').safeParse(email).success) throw new CliError('--email : adresse électronique manquante ou invalide.');
  if (!name) throw new CliError('--name : nom manquant.');
  if (!isRole(values.role)) throw new CliError(`--role : rôle manquant ou inconnu (attendu : ${ROLES.join(', ')}).`);
  const role = values.role;
  if (isCommuneRole(role) && !values.commune) throw new CliError(`--commune : obligatoire pour le rôle ${role}.`);
  if (!isCommuneRole(role) && values.commune) throw new CliError('--commune : réservé aux rôles commune et commune_admin.');

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
    const accounts = accountService({ db, passwords: passwordHasher });
    const result = await accounts.createWithPassword({ id: null, name: 'Ligne de commande' }, { email, name, role, communeId }, password, new Date());
    if (!result.ok && result.reason === 'weak_password') throw new CliError(`Mot de passe refusé : ${result.problem}`);
    if (!result.ok && result.reason === 'duplicate') throw new CliError(`Un compte existe déjà avec l'adresse ${email}.`);
    if (!result.ok) throw new CliError(`--commune : la commune « ${values.commune} » n'existe plus.`);
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

async function withDatabase<T>(work: (db: Db) => Promise<T>): Promise<T> {
  const db = connect(loadDatabaseConfig());
  try {
    await migrate(db);
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** Delivers what is due; returns false if a message could not be handed over. */
async function deliver(db: Db): Promise<boolean> {
  const mail = loadMailConfig();
  if (!mail.smtpUrl) {
    console.log(`SMTP_URL n'est pas défini : ${await pendingCount(db)} message(s) restent dans la boîte d'envoi, lisibles dans l'application (Administration > Courriels), non envoyés.`);
    return true;
  }
  const mailer = smtpMailer(mail.smtpUrl);
  try {
    const report = await deliverDue(db, mailer, mail, () => new Date());
    console.log(`Remis : ${report.sent}. À retenter : ${report.retrying}. En échec définitif : ${report.failed}.`);
    for (const error of report.errors) console.error(`Échec : ${error}`);
    return report.retrying === 0 && report.failed === 0;
  } finally {
    mailer.close();
  }
}

async function digestSend(args: string[]): Promise<number> {
  const { values } = parseOptions(args, DIGEST_OPTIONS);
  if (Boolean(values.all) === Boolean(values.commune)) throw new CliError('Indiquez --all ou --commune "Nom de la commune" (l\'un ou l\'autre).');
  if (values.period !== undefined && !PERIOD_PATTERN.test(values.period)) {
    throw new CliError('--period : lettres, chiffres et tirets, 40 caractères au plus (par exemple 2026-12).');
  }
  const mail = loadMailConfig();
  return withDatabase(async (db) => {
    let communeIds: number[] | 'all' = 'all';
    if (values.commune) {
      const found = (await communes.list(db)).find((c) => c.name.toLowerCase() === values.commune!.trim().toLowerCase());
      if (!found) throw new CliError(`--commune : la commune « ${values.commune} » est inconnue.`);
      communeIds = [found.id];
    }
    const now = new Date();
    const settings = await getMailSettings(db);
    const period = values.period ?? periodOf(now, settings.schedule.frequency === 'weekly' ? 'weekly' : 'monthly', mail.timeZone);
    const outcomes = await enqueueDigests(db, mail, now, { communeIds, period, origin: 'cli' });
    const said = { queued: 'point préparé', already_sent: 'déjà envoyé pour cette période, rien de plus', no_contact: 'aucun contact inscrit, rien envoyé', nothing: 'aucune homologation ne porte sur ses instances, rien envoyé' };
    for (const o of outcomes) console.log(`${o.communeName} : ${said[o.result]}${o.result === 'queued' ? ` pour ${o.recipients} destinataire(s)` : ''}.`);
    console.log(`Période ${period} : ${outcomes.filter((o) => o.result === 'queued').length} point(s) préparé(s).`);
    return (await deliver(db)) ? 0 : 1;
  });
}

async function main(argv: string[]): Promise<number> {
  process.env.TZ ||= loadTimeZone();
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return command ? 0 : 1;
  }
  if (command === 'user:create') await userCreate(rest);
  else if (command === 'migrate') await migrateCommand();
  else if (command === 'digest:send') return digestSend(rest);
  else if (command === 'outbox:deliver') return withDatabase(async (db) => ((await deliver(db)) ? 0 : 1));
  else if (command === 'alerts:scan') {
    return withDatabase(async (db) => {
      const r = await scanAlerts(db, loadMailConfig(), new Date());
      console.log(`Alertes créées : ${r.created}. Rappels : ${r.reminded}. Alertes closes : ${r.resolved}.`);
      return (await deliver(db)) ? 0 : 1;
    });
  }
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
