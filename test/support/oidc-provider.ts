// A real OpenID Connect provider (the `oidc-provider` package) that looks like ProConnect, the identity federation of
// France's public agents: scopes openid email given_name usual_name siret, a signed (RS256 JWT) userinfo for clients
// that ask for it, acr / amr in the ID token, RP-initiated logout, PKCE required. The tests start it on 127.0.0.1 in
// their own process; `npm run oidc:dev` (scripts/oidc-dev.ts) starts it with a French page to choose who signs in.
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTHeaderParameters } from 'jose';

export interface ProviderAccount { sub: string; email: string; email_verified?: boolean; given_name?: string; usual_name?: string; siret?: string }
export interface ProviderClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  userinfo_signed_response_alg?: 'RS256';
  /** How the client authenticates at the token endpoint: client_secret_post by default (openid-client's default when given a secret). */
  token_endpoint_auth_method?: 'client_secret_post' | 'client_secret_basic';
}
export interface ProviderOptions {
  /** 0 (the default) = any free port. */
  port?: number;
  clients: ProviderClient[];
  accounts: ProviderAccount[];
  /** For `npm run oidc:dev`: a French HTML page to choose the account and tick "double authentification". */
  interactive?: boolean;
}
export interface RunningProvider {
  /** e.g. http://127.0.0.1:41234 (no trailing slash); discovery at issuer + '/.well-known/openid-configuration'. */
  issuer: string;
  /**
   * Who signs in at the next non-interactive login (default: the first account), and the acr (default eidas1) and amr
   * (default none) the ID token then carries. Used once. A browser that still holds a provider session (signed in
   * before, not signed out through endSession) is signed in again without a login, as that session's account: call
   * newBrowser() first to make the next authorization a fresh login.
   */
  nextLogin(login: { sub: string; acr?: string; amr?: string[] }): void;
  /** Rewrites the ID token of the next token-endpoint response: decodes its claims, applies edit, signs it again with the provider's own RS256 key (same header, same kid). */
  tamperNextIdToken(edit: (claims: Record<string, unknown>) => Record<string, unknown>): void;
  /**
   * Follows an authorization URL through the provider with this provider's own cookie jar (one "browser"), doing the
   * non-interactive login and consent, and returns the absolute URL the provider finally redirects to (the client's
   * redirect_uri with ?code&state&iss, or with ?error=...) without requesting it.
   */
  authorize(authorizationUrl: string): Promise<string>;
  /** Follows an end-session URL (RP-initiated logout), confirms the logout, returns the final redirect URL (the post_logout_redirect_uri, with state if given) without requesting it. */
  endSession(endSessionUrl: string): Promise<string>;
  /** Forgets the browser's cookies (and so its provider session). */
  newBrowser(): void;
  /** How many provider sessions were ended through the end_session endpoint. */
  readonly endedSessions: number;
  close(): Promise<void>;
}

// ── the little of oidc-provider's API used here (the package ships no type declarations) ──

interface KoaContext {
  method: string;
  path: string;
  req: http.IncomingMessage;
  res: http.ServerResponse;
  status: number;
  type: string;
  body: unknown;
  redirect(url: string): void;
  oidc?: { route?: string; session?: { accountId?: string; destroyed?: boolean } };
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface InteractionDetails {
  uid: string;
  prompt: { name: string; reasons?: string[]; details?: Record<string, unknown> };
  params: Record<string, unknown>;
  session?: { accountId?: string };
  grantId?: string;
}
interface OidcGrant { addOIDCScope(scope: string): void; addOIDCClaims(claims: string[]): void; save(): Promise<string> }
interface LoginResult { accountId: string; acr?: string; amr?: string[]; remember?: boolean }
interface InteractionResult { login?: LoginResult; consent?: { grantId: string }; error?: string; error_description?: string }
interface OidcProvider {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  use(middleware: KoaMiddleware): void;
  on(event: string, listener: (...args: never[]) => void): void;
  interactionDetails(req: http.IncomingMessage, res: http.ServerResponse): Promise<InteractionDetails>;
  interactionResult(req: http.IncomingMessage, res: http.ServerResponse, result: InteractionResult, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
  Grant: { new (properties: { accountId: string; clientId: string }): OidcGrant; find(id: string): Promise<OidcGrant | undefined> };
}
type OidcProviderClass = new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;

let providerClass: Promise<OidcProviderClass> | undefined;

/** Imports oidc-provider once, without its notice that Node 20 is older than the LTS it is tested on (it works on 20.19+). */
function loadProviderClass(): Promise<OidcProviderClass> {
  providerClass ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
      warn(...args);
    };
    try {
      // @ts-expect-error -- oidc-provider ships no type declarations; the part used here is typed above
      const module = (await import('oidc-provider')) as { Provider: OidcProviderClass };
      return module.Provider;
    } finally {
      console.warn = warn;
    }
  })();
  return providerClass;
}

// ── storage: oidc-provider's own in-memory adapter warns on first use, this one is as small and says nothing ──

interface Stored { payload: Record<string, unknown>; expiresAt: number }

function memoryAdapterFactory(): (model: string) => object {
  const store = new Map<string, Stored>();
  const live = (key: string): Record<string, unknown> | undefined => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return (model: string) => ({
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number) {
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(`${model}:${id}`, { payload, expiresAt });
      if (model === 'Session' && typeof payload.uid === 'string') store.set(`sessionUid:${payload.uid}`, { payload: { id }, expiresAt });
    },
    async find(id: string) {
      return live(`${model}:${id}`);
    },
    async findByUid(uid: string) {
      const index = live(`sessionUid:${uid}`);
      return typeof index?.id === 'string' ? live(`${model}:${index.id}`) : undefined;
    },
    async findByUserCode() {
      return undefined;
    },
    async consume(id: string) {
      const payload = live(`${model}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id: string) {
      store.delete(`${model}:${id}`);
    },
    async revokeByGrantId(grantId: string) {
      for (const [key, entry] of store) {
        if (key.startsWith(`${model}:`) && entry.payload.grantId === grantId) store.delete(key);
      }
    },
  });
}

// ── the "browser": one cookie jar for the provider's origin ──

interface Cookie { name: string; value: string; path: string }

class CookieJar {
  private cookies = new Map<string, Cookie>();

  clear(): void {
    this.cookies.clear();
  }

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key = '', ...rest] = attribute.split('=');
        const v = rest.join('=').trim();
        const k = key.trim().toLowerCase();
        if (k === 'path' && v) path = v;
        if (k === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        if (k === 'max-age' && Number(v) <= 0) expired = true;
      }
      const key = `${name};${path}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path });
    }
  }

  header(url: URL): string {
    const matches = (path: string) =>
      path === '/' || url.pathname === path || url.pathname.startsWith(path.endsWith('/') ? path : `${path}/`);
    return [...this.cookies.values()]
      .filter((c) => matches(c.path))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

// ── pages (dev command) ──

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="fr">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)} – ProConnect (simulation locale)</title>
  <style>
    body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#161616}
    h1{font-size:1.5rem}fieldset{border:1px solid #ddd;padding:1rem;margin:1rem 0}label{display:block;margin:.5rem 0}
    button{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem;background:#000091;color:#fff;border:0;cursor:pointer}
    button.secondaire{background:#fff;color:#000091;border:1px solid #000091}.note{color:#666;font-size:.9rem}
  </style>
</head>
<body>
  <p class="note">ProConnect – fournisseur d’identité de développement (ne pas utiliser en production)</p>
  ${body}
</body>
</html>`;
}

function loginPage(details: InteractionDetails, accounts: ProviderAccount[]): string {
  const client = String(details.params.client_id ?? '');
  const acrValues = typeof details.params.acr_values === 'string' ? details.params.acr_values : '';
  const choices = accounts
    .map((a, i) => {
      const name = [a.given_name, a.usual_name].filter(Boolean).join(' ') || a.email;
      const extra = [a.email, a.siret ? `SIRET ${a.siret}` : 'sans SIRET', a.email_verified === false ? 'adresse non vérifiée' : '']
        .filter(Boolean)
        .join(' · ');
      return `<label><input type="radio" name="sub" value="${escapeHtml(a.sub)}"${i === 0 ? ' checked' : ''}> <strong>${escapeHtml(name)}</strong> – ${escapeHtml(extra)}</label>`;
    })
    .join('\n      ');
  return page(
    'Identification',
    `<h1>S’identifier avec ProConnect</h1>
  <p>L’application <strong>${escapeHtml(client)}</strong> demande votre identité${acrValues ? ` (niveau demandé : ${escapeHtml(acrValues)})` : ''}.</p>
  <form method="post" action="/interaction/${escapeHtml(details.uid)}">
    <fieldset>
      <legend>Choisissez l’agent qui s’identifie</legend>
      ${choices}
    </fieldset>
    <label><input type="checkbox" name="mfa" value="1"> Double authentification (amr mfa, acr eidas2)</label>
    <p>
      <button type="submit" name="action" value="login">S’identifier</button>
      <button type="submit" name="action" value="abort" class="secondaire">Annuler</button>
    </p>
  </form>`,
  );
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('formulaire trop long');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// ── the provider ──

const SCOPES = ['openid', 'email', 'given_name', 'usual_name', 'siret'];

export async function startOidcProvider(options: ProviderOptions): Promise<RunningProvider> {
  const accounts = options.accounts;
  if (accounts.length === 0) throw new Error('startOidcProvider: at least one account');
  const accountBySub = new Map(accounts.map((a) => [a.sub, a]));
  const Provider = await loadProviderClass();

  // The issuer carries the port: listen first, then build the provider and hand it the requests.
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };

  let pendingLogin: LoginResult | undefined;
  let pendingTamper: ((claims: Record<string, unknown>) => Record<string, unknown>) | undefined;
  let endedSessions = 0;
  const jar = new CookieJar();

  const fr = (title: string, text: string) => page(title, `<h1>${escapeHtml(title)}</h1>\n  <p>${escapeHtml(text)}</p>`);

  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_post',
      id_token_signed_response_alg: 'RS256',
      ...(c.userinfo_signed_response_alg ? { userinfo_signed_response_alg: c.userinfo_signed_response_alg } : {}),
    })),
    jwks: { keys: [privateJwk] },
    adapter: memoryAdapterFactory(),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: SCOPES,
    // acr and amr with the openid scope: every ID token carries them (ProConnect's do), not only when acr_values or
    // the claims parameter ask for them; the userinfo answer never does (findAccount does not return them).
    claims: {
      openid: ['sub', 'acr', 'amr'],
      email: ['email', 'email_verified'],
      given_name: ['given_name'],
      usual_name: ['usual_name'],
      siret: ['siret'],
    },
    acrValues: ['eidas1', 'eidas2', 'eidas3'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: KoaContext, form: string) => {
          ctx.type = 'html';
          ctx.body = page(
            'Déconnexion',
            `<h1>Se déconnecter de ProConnect ?</h1>
  ${form}
  <p>
    <button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Oui, me déconnecter</button>
    <button type="submit" form="op.logoutForm" class="secondaire">Non, rester connecté</button>
  </p>`,
          );
        },
        postLogoutSuccessSource: async (ctx: KoaContext) => {
          ctx.type = 'html';
          ctx.body = fr('Déconnecté', 'Vous êtes déconnecté de ProConnect.');
        },
      },
      jwtUserinfo: { enabled: true },
      claimsParameter: { enabled: true },
      pushedAuthorizationRequests: { enabled: false },
    },
    interactions: { url: async (_ctx: KoaContext, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx: KoaContext, sub: string) => {
      const account = accountBySub.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          email: account.email,
          email_verified: account.email_verified ?? true,
          ...(account.given_name !== undefined ? { given_name: account.given_name } : {}),
          ...(account.usual_name !== undefined ? { usual_name: account.usual_name } : {}),
          ...(account.siret !== undefined ? { siret: account.siret } : {}),
        }),
      };
    },
    // The defaults, said here so that oidc-provider does not print a notice for each.
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Session: 14 * 24 * 3600, Grant: 14 * 24 * 3600, RefreshToken: 14 * 24 * 3600 },
    clientBasedCORS: () => false,
    renderError: async (ctx: KoaContext, out: Record<string, string>) => {
      ctx.type = 'html';
      ctx.body = page(
        'Erreur',
        `<h1>Erreur du fournisseur d’identité</h1>\n  ${Object.entries(out)
          .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong> : ${escapeHtml(String(v))}</p>`)
          .join('\n  ')}`,
      );
    },
  });

  provider.on('server_error', (_ctx: never, err: unknown) => {
    console.error('oidc-provider server_error:', err);
  });
  provider.on('end_session.success', (ctx: KoaContext) => {
    if (ctx.oidc?.session?.destroyed && ctx.oidc.session.accountId) endedSessions += 1;
  });

  /** Ends an interaction: signs `login` in (when the provider asks for a login) and grants the requested scopes. */
  async function finish(ctx: KoaContext, details: InteractionDetails, login: LoginResult | undefined): Promise<void> {
    const accountId = login?.accountId ?? details.session?.accountId;
    if (!accountId) throw new Error('interaction sans compte');
    const clientId = String(details.params.client_id);
    const sameAccount = !login || login.accountId === details.session?.accountId;
    const existing = sameAccount && details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const grant = existing ?? new provider.Grant({ accountId, clientId });
    if (typeof details.params.scope === 'string') grant.addOIDCScope(details.params.scope);
    const missingClaims = details.prompt.details?.missingOIDCClaims;
    if (Array.isArray(missingClaims)) grant.addOIDCClaims(missingClaims as string[]);
    const grantId = await grant.save();
    const result: InteractionResult = { consent: { grantId } };
    if (login) result.login = login;
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  // Interactions, at /interaction/:uid
  provider.use(async (ctx, next) => {
    if (!/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
    try {
      await interaction(ctx);
    } catch (err) {
      const e = err as { status?: number; statusCode?: number; error?: string; error_description?: string; message?: string };
      ctx.status = e.statusCode ?? e.status ?? 500;
      ctx.type = 'html';
      ctx.body = fr('Erreur', [e.error, e.error_description ?? e.message].filter(Boolean).join(' : '));
      if (ctx.status >= 500) console.error('oidc-provider interaction:', err);
    }
  });

  async function interaction(ctx: KoaContext): Promise<void> {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const needsLogin = details.prompt.name === 'login' || !details.session?.accountId;
    if (!options.interactive) {
      const login = needsLogin ? (pendingLogin ?? { accountId: accounts[0]!.sub, acr: 'eidas1' }) : undefined;
      if (needsLogin) pendingLogin = undefined;
      return finish(ctx, details, login);
    }
    if (!needsLogin) return finish(ctx, details, undefined);
    if (ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = loginPage(details, accounts);
      return;
    }
    if (ctx.method !== 'POST') {
      ctx.status = 405;
      return;
    }
    const form = await readForm(ctx.req);
    if (form.get('action') === 'abort') {
      const returnTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'L’agent a annulé l’identification.' }, { mergeWithLastSubmission: false });
      ctx.status = 303;
      ctx.redirect(returnTo);
      return;
    }
    const account = accountBySub.get(form.get('sub') ?? '');
    if (!account) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = fr('Identification', 'Choisissez un compte dans la liste.');
      return;
    }
    const mfa = form.get('mfa') === '1';
    return finish(ctx, details, { accountId: account.sub, acr: mfa ? 'eidas2' : 'eidas1', amr: mfa ? ['pwd', 'mfa'] : ['pwd'] });
  }

  // tamperNextIdToken: the token endpoint's answer, rewritten once it is made
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as { id_token?: unknown } | undefined;
    if (ctx.oidc?.route !== 'token' || !pendingTamper || typeof body?.id_token !== 'string') return;
    const edit = pendingTamper;
    pendingTamper = undefined;
    const header = decodeProtectedHeader(body.id_token) as JWTHeaderParameters;
    const claims = edit({ ...decodeJwt(body.id_token) });
    body.id_token = await new SignJWT(claims).setProtectedHeader({ ...header, alg: 'RS256', kid }).sign(privateKey);
  });

  server.on('request', provider.callback());

  const issuerOrigin = new URL(issuer).origin;

  async function request(url: URL, init: { method?: string; body?: URLSearchParams } = {}): Promise<Response> {
    if (url.origin !== issuerOrigin) throw new Error(`not the provider's address: ${url.href}`);
    const headers: Record<string, string> = {};
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    if (init.body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body, redirect: 'manual' });
    jar.store(response);
    return response;
  }

  /** Follows the provider's redirects from `url`; returns the first one that leaves the provider, or the page it stops on. */
  async function follow(url: URL, init: { method?: string; body?: URLSearchParams } = {}): Promise<{ left: string } | { stopped: Response; at: URL }> {
    let current = url;
    let next = init;
    for (let hops = 0; hops < 20; hops += 1) {
      const response = await request(current, next);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        const target = new URL(location, current);
        if (target.origin !== issuerOrigin) return { left: target.href };
        current = target;
        next = {};
        continue;
      }
      return { stopped: response, at: current };
    }
    throw new Error('too many redirects at the provider');
  }

  async function unexpected(step: string, stopped: Response): Promise<Error> {
    const text = (await stopped.text()).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
    return new Error(`${step}: the provider answered ${stopped.status} instead of redirecting: ${text.slice(0, 500)}`);
  }

  return {
    issuer,
    nextLogin(login) {
      if (!accountBySub.has(login.sub)) throw new Error(`nextLogin: no account ${login.sub}`);
      pendingLogin = { accountId: login.sub, acr: login.acr ?? 'eidas1', ...(login.amr ? { amr: login.amr } : {}) };
    },
    tamperNextIdToken(edit) {
      pendingTamper = edit;
    },
    async authorize(authorizationUrl) {
      const result = await follow(new URL(authorizationUrl));
      if ('left' in result) return result.left;
      throw await unexpected('authorize', result.stopped);
    },
    async endSession(endSessionUrl) {
      const first = await follow(new URL(endSessionUrl));
      if ('left' in first) return first.left;
      const html = await first.stopped.text();
      const action = /<form[^>]*\baction="([^"]+)"/.exec(html)?.[1];
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
      if (first.stopped.status !== 200 || !action || !xsrf) {
        throw new Error(`endSession: no logout form (${first.stopped.status}): ${html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 500)}`);
      }
      const unescape = (s: string) => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
      const confirmed = await follow(new URL(unescape(action), first.at), { method: 'POST', body: new URLSearchParams({ xsrf: unescape(xsrf), logout: 'yes' }) });
      if ('left' in confirmed) return confirmed.left;
      // without a post_logout_redirect_uri, the provider's own "signed out" page
      if (confirmed.stopped.status === 200 && confirmed.at.pathname === '/session/end/success') {
        await confirmed.stopped.body?.cancel();
        return confirmed.at.href;
      }
      throw await unexpected('endSession', confirmed.stopped);
    },
    newBrowser() {
      jar.clear();
    },
    get endedSessions() {
      return endedSessions;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
