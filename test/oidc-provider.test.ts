import { expect } from 'chai';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { startOidcProvider, type RunningProvider } from './support/oidc-provider';

// The ProConnect look-alike of test/support/oidc-provider.ts, driven by openid-client as the app drives it.

const APP = 'http://localhost:3999';
const REDIRECT = `${APP}/connexion/oidc/retour`;
const AFTER_LOGOUT = `${APP}/connexion`;
const SIGNED = { client_id: 'rp-signe', client_secret: 'secret-signe-0123456789', redirect_uris: [REDIRECT], post_logout_redirect_uris: [AFTER_LOGOUT], userinfo_signed_response_alg: 'RS256' as const };
const PLAIN = { client_id: 'rp-simple', client_secret: 'secret-simple-0123456789', redirect_uris: [REDIRECT] };
const AGENT = { sub: 'agent-1', email: 'agent@villeurbanne.example.org', given_name: 'Dominique', usual_name: 'Martin', siret: '21690266800013' };
const UNVERIFIED = { sub: 'agent-2', email: 'non.verifie@example.org', email_verified: false, given_name: 'Sacha', usual_name: 'Leroy' };
const SCOPE = 'openid email given_name usual_name siret';

interface Started { callback: string; verifier: string; state: string; nonce: string }

/** openid-client's error wraps oauth4webapi's, whose message names the claim that failed the check. */
function checkMessage(error: unknown): string {
  expect(error, 'openid-client must reject the ID token').to.be.instanceOf(client.ClientError);
  return ((error as Error).cause as Error | undefined)?.message ?? '';
}

describe('OIDC provider for the tests (oidc-provider, ProConnect look-alike)', () => {
  let op: RunningProvider;
  let signed: client.Configuration;
  let plain: client.Configuration;

  before(async () => {
    op = await startOidcProvider({ clients: [SIGNED, PLAIN], accounts: [AGENT, UNVERIFIED] });
    const insecure = { execute: [client.allowInsecureRequests] };
    signed = await client.discovery(new URL(op.issuer), SIGNED.client_id, { client_secret: SIGNED.client_secret, userinfo_signed_response_alg: 'RS256' }, undefined, insecure);
    plain = await client.discovery(new URL(op.issuer), PLAIN.client_id, PLAIN.client_secret, undefined, insecure);
  });

  after(async () => {
    await op?.close();
  });

  beforeEach(() => op.newBrowser());

  /** What the app does when the agent clicks "S'identifier avec ProConnect", then the provider's answer. */
  async function startSignIn(config: client.Configuration, extra: Record<string, string> = {}): Promise<Started> {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: SCOPE,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    });
    return { callback: await op.authorize(url.href), verifier, state, nonce };
  }

  function exchange(config: client.Configuration, started: Started) {
    return client.authorizationCodeGrant(config, new URL(started.callback), {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
      idTokenExpected: true,
    });
  }

  it('publishes a ProConnect-like discovery document on 127.0.0.1', async () => {
    expect(op.issuer).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const meta = signed.serverMetadata();
    expect(meta.issuer).to.equal(op.issuer);
    expect(meta.scopes_supported).to.include.members(SCOPE.split(' '));
    expect(meta.claims_supported).to.include.members(['sub', 'email', 'email_verified', 'given_name', 'usual_name', 'siret', 'acr', 'amr']);
    expect(meta.acr_values_supported).to.deep.equal(['eidas1', 'eidas2', 'eidas3']);
    expect(meta.code_challenge_methods_supported).to.deep.equal(['S256']);
    expect(meta.userinfo_signing_alg_values_supported).to.include('RS256');
    expect(meta.id_token_signing_alg_values_supported).to.include('RS256');
    expect(meta.end_session_endpoint).to.equal(`${op.issuer}/session/end`);
    const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: { kty: string; alg?: string; kid?: string; d?: string }[] };
    expect(jwks.keys).to.have.length(1);
    expect(jwks.keys[0]).to.include({ kty: 'RSA', alg: 'RS256' });
    expect(jwks.keys[0]!.kid).to.be.a('string');
    expect(jwks.keys[0]!.d, 'the private part is not published').to.equal(undefined);
  });

  it('signs in the account and acr / amr given to nextLogin, with PKCE, state and nonce checked, and a signed userinfo', async () => {
    op.nextLogin({ sub: AGENT.sub, acr: 'eidas2', amr: ['pwd', 'mfa'] });
    const started = await startSignIn(signed);
    const back = new URL(started.callback);
    expect(`${back.origin}${back.pathname}`).to.equal(REDIRECT);
    expect(back.searchParams.get('state')).to.equal(started.state);
    expect(back.searchParams.get('code')).to.be.a('string').and.not.equal('');
    expect(back.searchParams.get('iss')).to.equal(op.issuer);

    const tokens = await exchange(signed, started);
    const claims = tokens.claims()!;
    expect(claims).to.include({ iss: op.issuer, aud: SIGNED.client_id, sub: AGENT.sub, acr: 'eidas2', nonce: started.nonce });
    expect(claims.amr).to.deep.equal(['pwd', 'mfa']);
    expect(claims.exp! - claims.iat!).to.equal(3600);

    const info = await client.fetchUserInfo(signed, tokens.access_token, AGENT.sub);
    expect(info).to.include({ sub: AGENT.sub, email: AGENT.email, email_verified: true, given_name: 'Dominique', usual_name: 'Martin', siret: AGENT.siret });
    expect(info.acr, 'acr / amr are in the ID token only').to.equal(undefined);

    // the userinfo answer really is an RS256 JWT for this client
    const raw = await fetch(signed.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(raw.headers.get('content-type')).to.match(/^application\/jwt/);
    const jwt = await raw.text();
    expect(JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString())).to.include({ alg: 'RS256' });
    expect(decodeJwt(jwt)).to.include({ iss: op.issuer, aud: SIGNED.client_id, siret: AGENT.siret });
  });

  it('signs in the first account by default (acr eidas1, no amr); email_verified is false when the account says so; plain JSON userinfo for a client that asks no signature', async () => {
    const first = await exchange(plain, await startSignIn(plain));
    expect(first.claims()).to.include({ sub: AGENT.sub, acr: 'eidas1' });
    expect(first.claims()!.amr).to.equal(undefined);

    op.newBrowser();
    op.nextLogin({ sub: UNVERIFIED.sub });
    const second = await exchange(plain, await startSignIn(plain));
    const info = await client.fetchUserInfo(plain, second.access_token, UNVERIFIED.sub);
    expect(info).to.include({ sub: UNVERIFIED.sub, email: UNVERIFIED.email, email_verified: false });
    expect(info.siret).to.equal(undefined);

    const raw = await fetch(plain.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${second.access_token}` } });
    expect(raw.headers.get('content-type')).to.match(/^application\/json/);
  });

  it('requires PKCE: an authorization request without code_challenge comes back with an error', async () => {
    const url = client.buildAuthorizationUrl(signed, { redirect_uri: REDIRECT, scope: SCOPE, state: 'etat', nonce: 'nonce' });
    const back = new URL(await op.authorize(url.href));
    expect(`${back.origin}${back.pathname}`).to.equal(REDIRECT);
    expect(back.searchParams.get('error')).to.equal('invalid_request');
    expect(back.searchParams.get('error_description')).to.match(/PKCE/);
  });

  it('accepts acr_values and the claims parameter as ProConnect does', async () => {
    op.nextLogin({ sub: AGENT.sub, acr: 'eidas1', amr: ['pwd'] });
    const claims = JSON.stringify({ id_token: { amr: { essential: true } }, userinfo: { siret: { essential: true } } });
    const tokens = await exchange(signed, await startSignIn(signed, { acr_values: 'eidas1', claims }));
    expect(tokens.claims()).to.include({ sub: AGENT.sub, acr: 'eidas1' });
    expect(tokens.claims()!.amr).to.deep.equal(['pwd']);
    expect(await client.fetchUserInfo(signed, tokens.access_token, AGENT.sub)).to.include({ siret: AGENT.siret });
  });

  it('keeps the provider session of a browser (SSO) until newBrowser() or endSession', async () => {
    op.nextLogin({ sub: AGENT.sub });
    expect((await exchange(signed, await startSignIn(signed))).claims()!.sub).to.equal(AGENT.sub);
    op.nextLogin({ sub: UNVERIFIED.sub });
    expect((await exchange(signed, await startSignIn(signed))).claims()!.sub, 'same browser: no new login').to.equal(AGENT.sub);
    op.newBrowser();
    expect((await exchange(signed, await startSignIn(signed))).claims()!.sub).to.equal(UNVERIFIED.sub);
  });

  it('tamperNextIdToken: an ID token for another audience is rejected by openid-client', async () => {
    const started = await startSignIn(signed);
    op.tamperNextIdToken((claims) => ({ ...claims, aud: 'un-autre-client' }));
    let error: unknown;
    await exchange(signed, started).catch((e: unknown) => (error = e));
    expect(checkMessage(error)).to.match(/"aud" \(audience\)/);
  });

  it('tamperNextIdToken: an expired ID token is rejected, and only the next one is tampered with', async () => {
    const started = await startSignIn(signed);
    const now = Math.floor(Date.now() / 1000);
    op.tamperNextIdToken((claims) => ({ ...claims, iat: now - 7200, exp: now - 3600 }));
    let error: unknown;
    await exchange(signed, started).catch((e: unknown) => (error = e));
    expect(checkMessage(error)).to.match(/"exp" \(expiration time\)/);

    const next = await exchange(signed, await startSignIn(signed));
    expect(next.claims()!.aud).to.equal(SIGNED.client_id);
  });

  it('tamperNextIdToken: a wrong nonce is rejected; the re-signed token keeps the provider key id', async () => {
    const started = await startSignIn(signed);
    op.tamperNextIdToken((claims) => ({ ...claims, nonce: 'pas-le-bon' }));
    let error: unknown;
    await exchange(signed, started).catch((e: unknown) => (error = e));
    expect(checkMessage(error)).to.match(/"nonce"/);
    // the same edit that changes nothing passes: the signature and kid are the provider's own
    const again = await startSignIn(signed);
    op.tamperNextIdToken((claims) => claims);
    const tokens = await exchange(signed, again);
    const kid: unknown = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).kid;
    const jwks = (await (await fetch(signed.serverMetadata().jwks_uri!)).json()) as { keys: { kid: string }[] };
    expect(kid).to.equal(jwks.keys[0]!.kid);
  });

  it('rejects an authorization code used twice (invalid_grant)', async () => {
    const started = await startSignIn(signed);
    await exchange(signed, started);
    let error: unknown;
    await exchange(signed, started).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(client.ResponseBodyError);
    expect((error as client.ResponseBodyError).error).to.equal('invalid_grant');
  });

  it('endSession: RP-initiated logout comes back to post_logout_redirect_uri with state, ends the provider session', async () => {
    op.nextLogin({ sub: AGENT.sub });
    const tokens = await exchange(signed, await startSignIn(signed));
    const before = op.endedSessions;
    const url = client.buildEndSessionUrl(signed, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: AFTER_LOGOUT, state: 'au-revoir' });
    const back = await op.endSession(url.href);
    expect(back).to.equal(`${AFTER_LOGOUT}?state=au-revoir`);
    expect(op.endedSessions).to.equal(before + 1);

    // the same browser now signs in afresh, as whoever nextLogin names
    op.nextLogin({ sub: UNVERIFIED.sub });
    expect((await exchange(signed, await startSignIn(signed))).claims()!.sub).to.equal(UNVERIFIED.sub);
  });
});
