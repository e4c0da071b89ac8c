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
  const stop = () => {
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
