// Comparison server for bench/compare.sh: panva's oidc-provider set up to
// answer the request bench/loadgen sends Bulwark in token mode —
// client_credentials, private_key_jwt (ES256) and a DPoP proof (ES256) —
// with an ES256 JWT access token bound to the proof key (cnf.jkt).
//
//   node server.mjs PORT JWKS_FILE
//
// PORT is the loopback port (the issuer is http://127.0.0.1:PORT) and
// JWKS_FILE the client's public JWKS written by `loadgen -init`. The
// adapter is oidc-provider's in-memory one (its default): client assertion
// and DPoP jti replay records live in an LRU in this process. JWT access
// tokens are not stored by oidc-provider. The process prints "ready" on
// stdout once it listens.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const [port, jwksFile] = process.argv.slice(2);
if (!port || !jwksFile) {
  console.error('usage: node server.mjs PORT JWKS_FILE');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
// The resource server the access tokens are for: oidc-provider issues JWT
// access tokens only for a resource indicator (RFC 8707) whose server info
// says so; every token request defaults to this one.
const resource = 'urn:bench:api';

// The server's ES256 signing key, fresh per run as Bulwark's is.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'bench-es256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench',
    client_name: 'Bench',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: JSON.parse(readFileSync(jwksFile, 'utf8')),
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'accounts',
    // RFC 9449 §5.2: refuse token requests without a DPoP proof, as
    // Bulwark's fapi2 profile does.
    dpop_bound_access_tokens: true,
  }],
  jwks: { keys: [signingKey] },
  // The only key is ES256, so everything the provider signs is (its
  // default, RS256, would need an RSA key).
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  scopes: ['accounts'],
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) {
          throw new Provider.errors.InvalidTarget();
        }
        return {
          scope: 'accounts',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  ttl: { ClientCredentials: 300 },
  enabledJWA: {
    clientAuthSigningAlgValues: ['ES256'],
    dPoPSigningAlgValues: ['ES256'],
  },
});

// Failed requests are counted by loadgen; log them here for the first
// look at a broken setup.
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description ?? ''));
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
// loadgen pauses between rounds to sign the next one; keep its
// connections open over the pause, as Bulwark does.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
