import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { prepareDatabase } from './bootstrap';
import { ConfigError, DataDirError, loadConfig } from './config';
import { connect } from './db';
import { purgeExpiredSessions } from './data/sessions';
import { smtpMailer } from './mail/transport';
import { startScheduler } from './services/scheduler';

/** How long after listening the background work's first round waits (unless a request wakes it sooner). */
const FIRST_ROUND_DELAY_MS = 3_000;

async function main() {
  const config = loadConfig();
  // Times are shown and meetings typed in the plan's time zone (Paris by default), whatever the machine's is.
  process.env.TZ ||= config.mail.timeZone;
  const db = connect(config);
  const { demoLoaded } = await prepareDatabase(db, config, new Date());
  if (demoLoaded) console.log('Base vide : plan de démonstration chargé (comptes affichés sur la page de connexion).');
  // Background work: scheduled digests, late-fiche alerts and delivery of the outbox, every minute. Its first round
  // waits until the server has been answering for a moment, so that after a restart the first pages come first (on a
  // national plan the first scan of late fiches takes about a second of the database); a request that wakes the
  // background work (a message to send now) starts it at once.
  const mailer = config.mail.smtpUrl ? smtpMailer(config.mail.smtpUrl) : null;
  let scheduler: ReturnType<typeof startScheduler> | null = null;
  let firstRound: NodeJS.Timeout | undefined;
  const startWork = () => {
    clearTimeout(firstRound);
    scheduler ??= startScheduler({ db, mail: config.mail, now: () => new Date(), mailer }, config.schedulerIntervalSeconds * 1000);
  };
  if (!mailer) console.log("SMTP_URL n'est pas défini : les courriels restent dans la boîte d'envoi (Administration > Courriels), non envoyés.");
  const app = createApp({ db, config, now: () => new Date(), wake: () => (scheduler ? scheduler.wake() : startWork()) });
  const server = app.listen(config.port, (err?: Error) => {
    // Express 5 hands a listen failure (port taken, no permission) to this callback instead of throwing.
    if (err) {
      console.error(`Démarrage impossible : le port ${config.port} n'est pas utilisable (${(err as NodeJS.ErrnoException).code ?? err.message}). Choisissez-en un autre avec PORT.`);
      db.destroy().finally(() => process.exit(1));
      return;
    }
    // PORT=0 lets the system choose: show the port actually listened on.
    const port = (server.address() as AddressInfo).port;
    console.log(`Plan d'action RGS : http://localhost:${port} (${config.production ? 'production' : 'démonstration'}, base ${config.databaseUrl ? 'PostgreSQL' : config.databaseFile})`);
    firstRound = setTimeout(startWork, FIRST_ROUND_DELAY_MS);
  });
  // Expired sessions are purged hourly (the session store's own timer is off so tests can close the pool cleanly).
  const purge = setInterval(() => {
    purgeExpiredSessions(db, new Date()).catch((err) => console.error('Purge des sessions :', err));
  }, 60 * 60 * 1000);
  purge.unref();
  const stop = () => {
    clearInterval(purge);
    clearTimeout(firstRound);
    server.close(() => {
      (scheduler?.stop() ?? Promise.resolve()).then(() => {
        mailer?.close();
        return db.destroy();
      }).then(() => process.exit(0));
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// Last resort: a promise rejected where nobody listens (a library's background work) is logged, not fatal
// to every request in flight. Errors of requests go to the error page; this is for what escapes them.
process.on('unhandledRejection', (reason) => {
  console.error('Erreur non traitée (le serveur continue) :', reason);
});

main().catch((err) => {
  if (err instanceof DataDirError) {
    console.error(`Démarrage impossible : ${err.message}`);
  } else if (err instanceof ConfigError) {
    console.error(`Configuration invalide : ${err.message}`);
  } else {
    console.error('Démarrage impossible :', err);
  }
  process.exit(1);
});
