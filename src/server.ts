import { createApp } from './app';
import { prepareDatabase } from './bootstrap';
import { ConfigError, loadConfig } from './config';
import { connect } from './db';

async function main() {
  const config = loadConfig();
  const db = connect(config);
  const { demoLoaded } = await prepareDatabase(db, config, new Date());
  if (demoLoaded) console.log('Base vide : plan de démonstration chargé (comptes affichés sur la page de connexion).');
  const app = createApp({ db, config, now: () => new Date() });
  const server = app.listen(config.port, () => {
    console.log(`Plan d'action RGS : http://localhost:${config.port} (${config.production ? 'production' : 'démonstration'}, base ${config.databaseUrl ? 'PostgreSQL' : config.databaseFile})`);
  });
  // Expired sessions are purged hourly (the session store's own timer is off so tests can close the pool cleanly).
  const purge = setInterval(() => {
    db('sessions').where('expired', '<', new Date().toISOString()).delete().catch((err) => console.error('Purge des sessions :', err));
  }, 60 * 60 * 1000);
  purge.unref();
  const stop = () => {
    clearInterval(purge);
    server.close(() => db.destroy().then(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    console.error(`Configuration invalide : ${err.message}`);
  } else {
    console.error('Démarrage impossible :', err);
  }
  process.exit(1);
});
