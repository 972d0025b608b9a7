// A third-party OpenID provider for Bulwark's tests: panva's oidc-provider
// (pinned in interop/package.json) over HTTPS on a loopback port, set up
// from a JSON file the Go harness (internal/testenv/oidcprovider) writes.
//
//   node server.mjs CONFIG_FILE
//
// The process prints one JSON line {"issuer": "..."} on stdout once it
// listens, and logs provider errors on stderr. Logins use a minimal page of
// this file's own: /interaction/:uid asks for an account id (no password,
// these are test accounts) and grants every requested scope and claim
// without a consent page, so a browser or a scripted HTTP client can sign
// in the same way.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';

import Provider from 'oidc-provider';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const server = https.createServer({
  cert: readFileSync(cfg.tls.cert),
  key: readFileSync(cfg.tls.key),
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `https://127.0.0.1:${server.address().port}`;

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'op-es256' };

const accounts = cfg.accounts ?? {};
const ttl = (seconds, fallback) => (seconds > 0 ? seconds : fallback);

const features = {
  devInteractions: { enabled: false },
  clientCredentials: { enabled: true },
  introspection: { enabled: true },
  revocation: { enabled: true },
  pushedAuthorizationRequests: {
    enabled: true,
    requirePushedAuthorizationRequests: Boolean(cfg.require_par),
  },
  dPoP: cfg.require_dpop_nonce
    ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
    : { enabled: true },
  backchannelLogout: { enabled: Boolean(cfg.backchannel_logout) },
  rpInitiatedLogout: { enabled: true },
};
if (cfg.resource) {
  // JWT access tokens exist in oidc-provider only for a resource server
  // (RFC 8707) that asks for them. Client credentials default to this
  // one; the code flow's tokens stay opaque tokens for userinfo unless the
  // request names the resource.
  features.resourceIndicators = {
    enabled: true,
    defaultResource: (ctx) => (ctx.oidc.params?.grant_type === 'client_credentials' ? cfg.resource : undefined),
    useGrantedResource: () => true,
    getResourceServerInfo: (ctx, indicator) => {
      if (indicator !== cfg.resource) {
        throw new Provider.errors.InvalidTarget();
      }
      return {
        scope: cfg.resource_scopes ?? 'api',
        audience: cfg.resource,
        accessTokenTTL: ttl(cfg.access_token_ttl, 300),
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      };
    },
  };
}

const provider = new Provider(issuer, {
  clients: cfg.clients ?? [],
  jwks: { keys: [signingKey] },
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', ...(cfg.scopes ?? [])],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features,
  ttl: {
    AccessToken: ttl(cfg.access_token_ttl, 300),
    ClientCredentials: ttl(cfg.access_token_ttl, 300),
    RefreshToken: ttl(cfg.refresh_token_ttl, 3600),
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  // Refresh tokens whenever the client may use them, not only for
  // offline_access: the tests refresh ordinary browser sessions.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  findAccount: async (ctx, sub) => {
    const account = accounts[sub];
    if (!account) {
      return undefined;
    }
    return { accountId: sub, claims: async () => ({ sub, ...account }) };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // The relying parties of the tests (a BFF's back-channel logout
  // receiver) listen on loopback, which oidc-provider's SSRF guard
  // refuses: this test provider calls them without it.
  fetch: (url, options) => fetch(url, { ...options, dispatcher: undefined }),
  enabledJWA: {
    clientAuthSigningAlgValues: ['ES256', 'PS256', 'EdDSA'],
    dPoPSigningAlgValues: ['ES256', 'PS256', 'EdDSA'],
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description ?? ''));
provider.on('backchannel.error', (ctx, err) => console.error('backchannel.error', err.message, err.cause?.message ?? ''));

const escapeHTML = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// interaction answers /interaction/:uid (GET: the account form, or the
// automatic grant once the account is known) and /interaction/:uid/login.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (req.method === 'POST' && req.url.endsWith('/login')) {
    const body = await new Promise((resolve, reject) => {
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => {
        data += chunk;
        if (data.length > 4096) {
          reject(new Error('login form too large'));
        }
      });
      req.on('end', () => resolve(new URLSearchParams(data)));
      req.on('error', reject);
    });
    const login = body.get('login') ?? '';
    if (!accounts[login]) {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><p id="error">unknown account ${escapeHTML(login)}</p>`);
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'login') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Sign in</title>
<form method="post" action="/interaction/${escapeHTML(details.uid)}/login">
<label>Account <input id="login" name="login" autofocus></label>
<button id="submit" type="submit">Sign in</button></form>`);
    return;
  }
  // Consent: grant what is missing, without asking.
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      console.error('interaction', err);
      if (!res.headersSent) {
        res.writeHead(400, { 'content-type': 'text/plain' });
      }
      res.end(String(err.message));
    });
    return;
  }
  callback(req, res);
});

console.log(JSON.stringify({ issuer }));
