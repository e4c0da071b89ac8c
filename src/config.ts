import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_EVIDENCE_LIMITS, type EvidenceLimits, FILE_KIND_KEYS } from './domain/evidence';

export interface Config {
  port: number;
  dataDir: string;
  databaseFile: string;
  /** postgres://… to run on PostgreSQL (several app processes behind a load balancer); null for the embedded SQLite file. */
  databaseUrl: string | null;
  production: boolean;
  /** Demo mode: outside production, an empty database is filled with the demonstration plan. */
  demo: boolean;
  sessionSecret: string;
  mail: MailConfig;
  /** How often the server runs its background work (scheduled digests, alerts, delivery). */
  schedulerIntervalSeconds: number;
  /** Evidence files: accepted kinds and maximum size (EVIDENCE_TYPES, EVIDENCE_MAX_MB); the defaults when absent. */
  evidence?: EvidenceLimits;
  /** Sign-in through an OpenID Connect provider (ProConnect), when OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are set. */
  oidc?: OidcConfig | null;
}

/** The OpenID Connect provider the app signs agents in with (ProConnect or any standard provider). */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** What the button and pages call the provider ("ProConnect" by default). */
  label: string;
  scopes: string;
  /** acr_values asked for (ProConnect: eidas1), none by default. */
  acrValues: string | null;
  /** The acr values that assert a sign-in with several factors (besides an amr holding mfa). */
  mfaAcr: string[];
  /** The provider verifies every address it asserts (ProConnect does, and sends no email_verified): OIDC_TRUSTS_EMAIL=1. */
  trustsEmail: boolean;
  /** The provider's userinfo answer is a signed JWT (ProConnect: RS256). */
  signedUserinfo: string | null;
  /** Where the provider sends the browser back: PUBLIC_URL + /connexion/oidc/retour, and after signing out: PUBLIC_URL + /connexion. */
  redirectUri: string;
  postLogoutRedirectUri: string;
}

/** ProConnect's scopes and the acr values it uses for a sign-in with a second factor. */
export const PROCONNECT_SCOPES = 'openid email given_name usual_name siret';
export const PROCONNECT_MFA_ACR = [
  'eidas2', 'eidas3', 'https://proconnect.gouv.fr/assurance/self-asserted-2fa', 'https://proconnect.gouv.fr/assurance/consistency-checked-2fa',
];

/** OIDC_* from the environment: all three of issuer, client id and secret, or none (sign-in by password only). */
export function loadOidcConfig(env: NodeJS.ProcessEnv, publicUrl: string): OidcConfig | null {
  const issuer = env.OIDC_ISSUER?.trim() ?? '';
  const clientId = env.OIDC_CLIENT_ID?.trim() ?? '';
  const clientSecret = env.OIDC_CLIENT_SECRET?.trim() ?? '';
  if (!issuer && !clientId && !clientSecret) return null;
  if (!issuer || !clientId || !clientSecret) {
    throw new ConfigError('Connexion par un fournisseur d’identité (ProConnect) : donnez ensemble OIDC_ISSUER, OIDC_CLIENT_ID et OIDC_CLIENT_SECRET, ou aucun des trois.');
  }
  if (!/^https?:\/\/[^\s/]+/.test(issuer)) throw new ConfigError('OIDC_ISSUER doit être une adresse http:// ou https:// (par exemple https://auth.agentconnect.gouv.fr/api/v2).');
  if (env.NODE_ENV === 'production' && issuer.startsWith('http://') && !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(issuer)) {
    throw new ConfigError('OIDC_ISSUER doit être en https:// en production.');
  }
  const list = (v: string | undefined) => (v ?? '').split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
  const signed = env.OIDC_USERINFO_SIGNED?.trim();
  return {
    issuer: issuer.replace(/\/+$/, ''), clientId, clientSecret,
    label: env.OIDC_LABEL?.trim() || 'ProConnect',
    scopes: env.OIDC_SCOPES?.trim() || PROCONNECT_SCOPES,
    acrValues: env.OIDC_ACR_VALUES?.trim() || null,
    mfaAcr: env.OIDC_MFA_ACR !== undefined ? list(env.OIDC_MFA_ACR) : PROCONNECT_MFA_ACR,
    trustsEmail: /^(1|true|oui|yes)$/i.test(env.OIDC_TRUSTS_EMAIL?.trim() ?? ''),
    signedUserinfo: signed === '0' || signed === '' || signed === undefined ? null : signed === '1' ? 'RS256' : signed,
    redirectUri: `${publicUrl}/connexion/oidc/retour`,
    postLogoutRedirectUri: `${publicUrl}/connexion`,
  };
}

/** Where e-mails go and what their links point to. */
export interface MailConfig {
  /** smtp://user:pass@host:587 or smtps://…; null: e-mails stay in the outbox, readable in the app, not sent. */
  smtpUrl: string | null;
  from: string;
  /** The address users reach the app at, for the links in e-mails. */
  publicUrl: string;
  /** How long a worker holds a message it is sending; past it, another worker may take it over. */
  leaseSeconds: number;
  /** Delivery attempts before a message shows as failed. */
  maxAttempts: number;
  /** The time zone of the digest schedule. */
  timeZone: string;
}

export class ConfigError extends Error {}

/** DATA_DIR (or the database file in it) cannot be written: said plainly, before SQLite or knex say it their way. */
export class DataDirError extends ConfigError {}

const WHY: Record<string, string> = {
  EACCES: 'droits insuffisants', EPERM: 'droits insuffisants', EROFS: 'système de fichiers monté en lecture seule',
  ENOSPC: 'disque plein', EDQUOT: 'quota disque atteint', ENOTDIR: "ce chemin n'est pas un dossier", EEXIST: "ce chemin n'est pas un dossier",
};

function dataDirError(dataDir: string, err: unknown, file?: string): DataDirError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const what = file ? `Le fichier de la base ${file} dans le dossier des données DATA_DIR (${dataDir})` : `Le dossier des données DATA_DIR (${dataDir})`;
  return new DataDirError(
    `${what} n'est pas accessible en écriture (${WHY[code] ?? code}) : le serveur doit pouvoir y créer et modifier la base plan.sqlite, ` +
      'ses fichiers -wal et -shm et, hors production, le fichier .session-secret. ' +
      'Donnez à l’utilisateur qui lance le serveur le droit d’y écrire (par exemple : chown -R <utilisateur> <dossier>), ' +
      'ou indiquez un autre dossier avec DATA_DIR.',
  );
}

/**
 * Checks for real that DATA_DIR can be written (creating and removing a file: permission bits alone
 * do not tell, root ignores them, a read-only mount does not show in them), and the database file in it
 * if it exists. Throws DataDirError.
 */
export function assertWritableDataDir(dataDir: string, databaseFile?: string): void {
  try {
    mkdirSync(dataDir, { recursive: true });
    const probe = path.join(dataDir, `.ecriture-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (err) {
    throw dataDirError(dataDir, err);
  }
  if (databaseFile && existsSync(databaseFile)) {
    try {
      closeSync(openSync(databaseFile, 'r+'));
    } catch (err) {
      throw dataDirError(dataDir, err, databaseFile);
    }
  }
}

export type DatabaseConfig = Pick<Config, 'dataDir' | 'databaseFile' | 'databaseUrl'>;

/**
 * Only where the database is: what the command line needs. It neither asks for SESSION_SECRET
 * nor writes one, so an operator can create accounts in production without the web server's secret.
 */
export function loadDatabaseConfig(env: NodeJS.ProcessEnv = process.env): DatabaseConfig {
  const dataDir = path.resolve(env.DATA_DIR ?? './data');
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL doit être une adresse PostgreSQL (postgres://utilisateur@hôte:5432/base).');
  }
  return { dataDir, databaseFile: path.join(dataDir, 'plan.sqlite'), databaseUrl };
}

const positive = (env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number => {
  const text = env[name]?.trim() || String(fallback);
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > max) throw new ConfigError(`${name} doit être un nombre entier entre 1 et ${max} (reçu : « ${text} »).`);
  return value;
};

/** The plan's time zone (PLAN_TIMEZONE, Paris by default): all the command line needs before its command. */
export function loadTimeZone(env: NodeJS.ProcessEnv = process.env): string {
  const timeZone = env.PLAN_TIMEZONE?.trim() || 'Europe/Paris';
  try {
    new Intl.DateTimeFormat('fr-FR', { timeZone });
  } catch {
    throw new ConfigError(`PLAN_TIMEZONE n'est pas un fuseau horaire connu (reçu : « ${timeZone} »).`);
  }
  return timeZone;
}

export function loadMailConfig(env: NodeJS.ProcessEnv = process.env, port = 3000): MailConfig {
  const smtpUrl = env.SMTP_URL?.trim() || null;
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl)) {
    throw new ConfigError('SMTP_URL doit être une adresse smtp:// ou smtps:// (par exemple smtp://utilisateur:motdepasse@smtp.example.org:587).');
  }
  const publicUrl = (env.PUBLIC_URL?.trim() || `http://localhost:${port || 3000}`).replace(/\/+$/, '');
  if (env.NODE_ENV === 'production' && !env.PUBLIC_URL?.trim()) {
    throw new ConfigError(
      "PUBLIC_URL est obligatoire en production (NODE_ENV=production) : c'est l'adresse de l'application dans les liens des courriels " +
        '(connexion, mot de passe, désinscription, accusé de réception), par exemple PUBLIC_URL=https://plan.metropole.fr',
    );
  }
  if (!/^https?:\/\/[^\s/]+/.test(publicUrl)) throw new ConfigError('PUBLIC_URL doit être une adresse http:// ou https:// (par exemple https://plan.metropole.fr).');
  const timeZone = loadTimeZone(env);
  return {
    smtpUrl,
    from: env.MAIL_FROM?.trim() || "Plan d'action RGS <ne-pas-repondre@localhost>",
    publicUrl,
    leaseSeconds: positive(env, 'OUTBOX_LEASE_SECONDS', 120, 3600),
    maxAttempts: positive(env, 'OUTBOX_MAX_ATTEMPTS', 6, 50),
    timeZone,
  };
}

/**
 * Reads the environment once, into one typed object.
 * Outside production a missing SESSION_SECRET is generated and kept in DATA_DIR,
 * so sessions survive a restart; in production it must be given.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const portText = env.PORT?.trim() || '3000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT doit être un numéro de port entre 0 et 65535 (reçu : « ${portText} »).`);
  }
  const { dataDir, databaseFile, databaseUrl } = loadDatabaseConfig(env);
  let sessionSecret = env.SESSION_SECRET ?? '';
  if (production) {
    if (sessionSecret.length < 32) {
      throw new ConfigError(
        'SESSION_SECRET est obligatoire en production (NODE_ENV=production) et doit compter au moins 32 caractères. ' +
          'Générez-en un avec : node -e "console.log(require(\'crypto\').randomBytes(48).toString(\'base64url\'))"',
      );
    }
  } else if (!sessionSecret) {
    sessionSecret = localSecret(dataDir);
  }
  return {
    port,
    dataDir,
    databaseFile,
    databaseUrl,
    production,
    demo: !production,
    sessionSecret,
    mail: loadMailConfig(env, port),
    schedulerIntervalSeconds: positive(env, 'SCHEDULER_INTERVAL_SECONDS', 60, 86400),
    evidence: loadEvidenceLimits(env),
    oidc: loadOidcConfig(env, loadMailConfig(env, port).publicUrl),
  };
}

/**
 * The organisation's limits on evidence files, from the environment: EVIDENCE_MAX_MB (20 by default, 200 at most)
 * and EVIDENCE_TYPES, a comma-separated list of kinds (all of them by default).
 */
export function loadEvidenceLimits(env: NodeJS.ProcessEnv = process.env): EvidenceLimits {
  const maxBytes = positive(env, 'EVIDENCE_MAX_MB', DEFAULT_EVIDENCE_LIMITS.maxBytes / (1024 * 1024), 200) * 1024 * 1024;
  const text = env.EVIDENCE_TYPES?.trim();
  if (!text) return { maxBytes, kinds: [...DEFAULT_EVIDENCE_LIMITS.kinds] };
  const kinds = text.split(',').map((k) => k.trim().toLowerCase()).filter(Boolean);
  const unknown = kinds.filter((k) => !FILE_KIND_KEYS.includes(k));
  if (unknown.length || !kinds.length) {
    throw new ConfigError(`EVIDENCE_TYPES doit lister des types parmi ${FILE_KIND_KEYS.join(', ')}, séparés par des virgules (inconnus : « ${unknown.join(', ')} »).`);
  }
  return { maxBytes, kinds: [...new Set(kinds)] };
}

function localSecret(dataDir: string): string {
  const file = path.join(dataDir, '.session-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(48).toString('base64url');
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, secret, { mode: 0o600 });
  } catch (err) {
    throw dataDirError(dataDir, err);
  }
  return secret;
}
