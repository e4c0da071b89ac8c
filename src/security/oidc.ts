import type * as OpenId from 'openid-client';
import type { OidcConfig } from '../config';

/** The provider cannot be reached (discovery, token or userinfo endpoint down, or answering garbage). */
export class OidcUnavailable extends Error {}
/** The provider answered, but the answer fails a check: state, nonce, PKCE, code, signature, issuer, audience, expiry. */
export class OidcRefused extends Error {}

/** What the app keeps in the session between the redirect to the provider and the return. */
export interface OidcPending {
  state: string;
  nonce: string;
  verifier: string;
  retour: string;
  at: number;
}

/** Who the provider says signed in, and how. */
export interface OidcIdentity {
  issuer: string;
  subject: string;
  email: string | null;
  /** true/false as the provider asserts it; null when it says nothing. */
  emailVerified: boolean | null;
  name: string;
  siret: string | null;
  acr: string | null;
  amr: string[];
  /** Kept for signing out of the provider too (id_token_hint). */
  idToken: string;
}

/** How long discovery and every call to the provider may take before the provider counts as down. */
const TIMEOUT_SECONDS = 8;
/** The provider's metadata is read again after this long (keys rotate). */
const DISCOVERY_MS = 60 * 60_000;

let library: Promise<typeof OpenId> | null = null;
/** openid-client, loaded with the first sign-in through the provider, not at start. */
const load = () => (library ??= import('openid-client'));

/** Whether plain http is allowed for this issuer: a local provider only (development, tests). */
const localHttp = (issuer: string) => /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(issuer);

/**
 * The relying party: discovery (cached, read again hourly or after a failure), the authorization URL with state,
 * nonce and PKCE (S256), the code exchanged and the ID token checked (signature, issuer, audience, expiry within a
 * minute's tolerance, nonce), userinfo read (a signed JWT when the provider signs it, as ProConnect does).
 */
export function oidcClient(cfg: OidcConfig) {
  let discovered: { at: number; config: Promise<OpenId.Configuration> } | null = null;

  const configuration = async (now: number): Promise<OpenId.Configuration> => {
    if (!discovered || now - discovered.at > DISCOVERY_MS) {
      const client = await load();
      const metadata: Partial<OpenId.ClientMetadata> = {
        client_secret: cfg.clientSecret,
        [client.clockTolerance]: 60,
        ...(cfg.signedUserinfo ? { userinfo_signed_response_alg: cfg.signedUserinfo } : {}),
      };
      const config = client.discovery(new URL(cfg.issuer), cfg.clientId, metadata, client.ClientSecretPost(cfg.clientSecret), {
        timeout: TIMEOUT_SECONDS,
        ...(localHttp(cfg.issuer) ? { execute: [client.allowInsecureRequests] } : {}),
      });
      discovered = { at: now, config };
      config.catch(() => {
        if (discovered?.config === config) discovered = null;
      });
    }
    try {
      return await discovered.config;
    } catch (err) {
      throw new OidcUnavailable(`découverte impossible (${(err as Error).message})`);
    }
  };

  return {
    label: cfg.label,

    /** Where to send the browser, and what to keep until it comes back. */
    async start(retour: string, now: number): Promise<{ url: string; pending: OidcPending }> {
      const config = await configuration(now);
      const client = await load();
      const verifier = client.randomPKCECodeVerifier();
      const pending: OidcPending = { state: client.randomState(), nonce: client.randomNonce(), verifier, retour, at: now };
      const params: Record<string, string> = {
        redirect_uri: cfg.redirectUri, scope: cfg.scopes, state: pending.state, nonce: pending.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      };
      if (cfg.acrValues) params.acr_values = cfg.acrValues;
      return { url: client.buildAuthorizationUrl(config, params).href, pending };
    },

    /** The browser is back with a code (or an error): the whole answer checked, the identity read. */
    async finish(currentUrl: URL, pending: OidcPending, now: number): Promise<OidcIdentity> {
      const config = await configuration(now);
      const client = await load();
      const providerError = currentUrl.searchParams.get('error');
      if (providerError) throw new OidcRefused(`le fournisseur a répondu ${providerError}${currentUrl.searchParams.get('error_description') ? ` (${currentUrl.searchParams.get('error_description')})` : ''}`);
      let tokens: Awaited<ReturnType<typeof OpenId.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true,
        }, { redirect_uri: cfg.redirectUri });
      } catch (err) {
        throw classify(err);
      }
      const claims = tokens.claims();
      if (!claims || !tokens.id_token) throw new OidcRefused('pas de jeton d’identité');
      let info: Record<string, unknown>;
      try {
        info = await client.fetchUserInfo(config, tokens.access_token, claims.sub) as Record<string, unknown>;
      } catch (err) {
        throw classify(err);
      }
      const all = { ...claims, ...info } as Record<string, unknown>;
      const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);
      const verified = all.email_verified;
      const given = text(all.given_name);
      const family = text(all.usual_name) ?? text(all.family_name);
      const email = text(all.email);
      return {
        issuer: String(claims.iss), subject: String(claims.sub), email,
        emailVerified: verified === true || verified === 'true' ? true : verified === false || verified === 'false' ? false : null,
        name: [given, family].filter(Boolean).join(' ') || text(all.name) || email || String(claims.sub),
        siret: text(all.siret)?.replace(/\s/g, '') ?? null,
        acr: text(claims.acr), amr: Array.isArray(claims.amr) ? claims.amr.map(String) : [],
        idToken: tokens.id_token,
      };
    },

    /** The provider's sign-out address for this session (RP-initiated logout), if it has one. */
    async endSessionUrl(idToken: string, now: number): Promise<string | null> {
      try {
        const config = await configuration(now);
        if (!config.serverMetadata().end_session_endpoint) return null;
        const client = await load();
        return client.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: cfg.postLogoutRedirectUri }).href;
      } catch {
        return null;
      }
    },
  };
}

export type OidcClient = ReturnType<typeof oidcClient>;

/** A failed exchange: the provider unreachable, or an answer that fails a check. */
function classify(err: unknown): Error {
  const e = err as Error & { code?: string; cause?: unknown };
  const message = e?.message ?? String(err);
  // fetch failures and timeouts: the provider is down
  if (e?.name === 'TypeError' || e?.name === 'AbortError' || e?.name === 'TimeoutError' || /fetch failed|ECONNREFUSED|timeout/i.test(message)) {
    return new OidcUnavailable(message);
  }
  return new OidcRefused(`${message}${e?.code ? ` [${e.code}]` : ''}`);
}
