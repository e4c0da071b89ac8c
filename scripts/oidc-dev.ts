// npm run oidc:dev: a local OpenID Connect provider that looks like ProConnect, to try "S'identifier avec
// ProConnect" without a ProConnect account. It listens on 127.0.0.1 (OIDC_DEV_PORT, 9090 by default) and shows a
// page to choose which agent signs in, with or without "double authentification". For development only.
import { startOidcProvider, type ProviderAccount } from '../test/support/oidc-provider';

const port = Number(process.env.OIDC_DEV_PORT || 9090);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`OIDC_DEV_PORT doit être un numéro de port (1 à 65535), pas « ${process.env.OIDC_DEV_PORT} ».`);
  process.exit(1);
}
const publicUrl = (process.env.PUBLIC_URL?.trim() || 'http://localhost:3000').replace(/\/+$/, '');
const clientId = 'plan-action-rgs-dev';
const clientSecret = process.env.OIDC_DEV_CLIENT_SECRET?.trim() || 'secret-de-developpement-plan-action-rgs';

const METROPOLE_SIRET = '20004697700019';
const VILLEURBANNE_SIRET = '21690266800013';
const accounts: ProviderAccount[] = [
  { sub: 'dev-equipe-projet', email: 'equipe-projet@metropole.example.org', given_name: 'Camille', usual_name: 'Équipe projet', siret: METROPOLE_SIRET },
  { sub: 'dev-agent-villeurbanne', email: 'agent@villeurbanne.example.org', given_name: 'Dominique', usual_name: 'Agent de Villeurbanne', siret: VILLEURBANNE_SIRET },
  { sub: 'dev-nouvel-agent', email: 'nouvel.agent@villeurbanne.example.org', given_name: 'Alex', usual_name: 'Nouvel agent', siret: VILLEURBANNE_SIRET },
  { sub: 'dev-non-verifie', email: 'non.verifie@example.org', email_verified: false, given_name: 'Sacha', usual_name: 'Adresse non vérifiée', siret: VILLEURBANNE_SIRET },
];

let provider;
try {
  provider = await startOidcProvider({
    port,
    interactive: true,
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [`${publicUrl}/connexion/oidc/retour`],
        post_logout_redirect_uris: [`${publicUrl}/connexion`],
        userinfo_signed_response_alg: 'RS256',
      },
    ],
    accounts,
  });
} catch (err) {
  const code = (err as NodeJS.ErrnoException).code;
  console.error(code === 'EADDRINUSE' ? `Le port ${port} est déjà pris : choisissez-en un autre avec OIDC_DEV_PORT.` : err);
  process.exit(1);
}
const running = provider;

const publicUrlEnv = process.env.PUBLIC_URL?.trim() ? `PUBLIC_URL=${publicUrl} ` : '';
console.log(`ProConnect de développement : ${running.issuer}
  découverte : ${running.issuer}/.well-known/openid-configuration
  client : ${clientId} (secret : ${clientSecret})
  retour : ${publicUrl}/connexion/oidc/retour, après déconnexion : ${publicUrl}/connexion
  comptes proposés :
${accounts.map((a) => `    - ${a.email} (${[a.given_name, a.usual_name].filter(Boolean).join(' ')}${a.siret ? `, SIRET ${a.siret}` : ''}${a.email_verified === false ? ', adresse non vérifiée' : ''})`).join('\n')}

Lancez l’application avec, dans un autre terminal :
  ${publicUrlEnv}OIDC_ISSUER=${running.issuer} OIDC_CLIENT_ID=${clientId} OIDC_CLIENT_SECRET=${clientSecret} OIDC_TRUSTS_EMAIL=1 OIDC_USERINFO_SIGNED=1 npm start

Ctrl+C pour arrêter.`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal} reçu : arrêt du fournisseur d’identité de développement.`);
  await running.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
