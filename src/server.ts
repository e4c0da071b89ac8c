import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { prepareDatabase } from './bootstrap';
import { ConfigError, DataDirError, loadConfig } from './config';
import { connect } from './db';
import { purgeExpiredSessions } from './data/sessions';
import { smtpMailer } from './mail/transport';
import { startScheduler } from './services/scheduler';

async function main() {
  const config = loadConfig();
  // Times are shown and meetings typed in the plan's time zone (Paris by default), whatever the machine's is.
  process.env.TZ ||= config.mail.timeZone;
  const db = connect(config);
  const { demoLoaded } = await prepareDatabase(db, config, new Date());
  if (demoLoaded) console.log('Base vide : plan de démonstration chargé (comptes affichés sur la page de connexion).');
  // Background work: scheduled digests, late-fiche alerts and delivery of the outbox, every minute.
  const mailer = config.mail.smtpUrl ? smtpMailer(config.mail.smtpUrl) : null;
  const scheduler = startScheduler({ db, mail: config.mail, now: () => new Date(), mailer }, config.schedulerIntervalSeconds * 1000);
  if (!mailer) console.log("SMTP_URL n'est pas défini : les courriels restent dans la boîte d'envoi (Administration > Courriels), non envoyés.");
  const app = createApp({ db, config, now: () => new Date(), wake: scheduler.wake });
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
  });
  // Expired sessions are purged hourly (the session store's own timer is off so tests can close the pool cleanly).
  const purge = setInterval(() => {
    purgeExpiredSessions(db, new Date()).catch((err) => console.error('Purge des sessions :', err));
  }, 60 * 60 * 1000);
  purge.unref();
  const stop = () => {
    clearInterval(purge);
    server.close(() => {
      scheduler.stop().then(() => {
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
