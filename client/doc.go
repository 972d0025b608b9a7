// Package client is Bulwark's OAuth 2.0 / FAPI 2.0 client library: it
// gets sender-constrained tokens from an authorization server and sends
// them to resource servers. It is shaped like golang.org/x/oauth2, so it
// drops into code that already uses that package: every token source is an
// oauth2.TokenSource, tokens are *oauth2.Token (token_type in TokenType,
// the id_token, scope and other response members in Extra), and
// Config.Client returns an *http.Client like oauth2.Config.Client.
//
// # What it does
//
//   - Discovery (Config.Discover): OpenID Connect Discovery, falling back
//     to RFC 8414, with an exact issuer match (RFC 8414 §3.3). Only
//     discovered endpoints are used; mtls_endpoint_aliases (RFC 8705 §5)
//     are used whenever the client authenticates or binds with mTLS.
//   - Client authentication: private_key_jwt with any crypto.Signer
//     (ES256, PS256, EdDSA; a fresh assertion with a new jti for every
//     request, aud = the issuer as a string), client_secret_basic,
//     tls_client_auth with a tls.Certificate, and none for public clients.
//   - Grants: client credentials (Config.ClientCredentials); authorization
//     code for native apps (Config.Login: PAR, PKCE S256, a loopback
//     redirect listener on a random port per RFC 8252, state and RFC 9207
//     iss checks, with a pluggable OpenBrowser); the device authorization
//     grant (RFC 8628: Config.DeviceAuth, Config.DeviceAccessToken,
//     Config.DeviceLogin); refresh with rotation (Config.TokenSource);
//     token exchange (RFC 8693: Config.ExchangeToken, only when the server
//     advertises it). Web applications run the code grant with
//     Config.StartAuth and Config.FinishAuth (PAR whenever offered), which
//     Login itself uses.
//   - ID tokens (Config.VerifyIDToken, OIDC Core §3.1.3.7) and
//     back-channel logout tokens (Config.VerifyLogoutToken) are verified
//     against the issuer's JWKS with the FAPI algorithm allow-list.
//   - Token caches (Cache, with MemoryCache and FileCache) and
//     Config.CachedTokenSource, which resumes from the cache without a new
//     login and serializes refreshes across processes (Locker); caches
//     that can expire entries (ExpiringCache) drop them with the refresh
//     token. Package client/cachetest is the conformance suite for any
//     Cache; Bulwark's Redis cache (used by `bulwark --cache redis://…`)
//     runs it too.
//   - Transport, an http.RoundTripper for resource requests.
//
// # Sender-constraint modes
//
// Config.Mode picks how tokens are bound:
//
//   - ModeDPoP (the default): RFC 9449. Every token and PAR request
//     carries a fresh proof (htu = the endpoint URL actually used) signed
//     with Config.DPoPKey (ES256 made in memory when nil; LoadOrCreateDPoPKey
//     keeps one in a 0600 private JWK file). A 400 use_dpop_nonce from the
//     authorization server or a 401 DPoP error="use_dpop_nonce" from a
//     resource server is retried once with the server's nonce; one nonce
//     is remembered per server origin. A token response whose token_type
//     is not DPoP is an error (ErrTokenType): FAPI 2.0 never silently
//     accepts a Bearer token, unless InsecureAllowBearer says otherwise.
//   - ModeMTLS: RFC 8705 certificate-bound tokens. Config.Certificate is
//     presented on every connection, the mTLS endpoint aliases are used,
//     and resource requests carry the token as Bearer over that TLS
//     connection.
//   - ModeBearer: plain RFC 6750 Bearer tokens, for servers without
//     sender constraints.
//
// # Mapping to x/oauth2
//
//	x/oauth2                           client
//	oauth2.Config{Endpoint: ...}       Config{Issuer: ...} (endpoints discovered)
//	clientcredentials.Config.TokenSource  Config.ClientCredentials
//	Config.AuthCodeURL + Exchange      Config.Login (PAR + PKCE + loopback)
//	Config.DeviceAuth/DeviceAccessToken  the same names
//	Config.TokenSource(ctx, tok)       Config.TokenSource(ctx, tok)
//	oauth2.Transport, NewClient        Transport, Config.Client (DPoP proofs)
//	oauth2.RetrieveError               RetrieveError
//
// Two differences are deliberate. The HTTP client, clock and keys are
// Config fields, never values carried in a context (ctx only cancels).
// And the defaults are the safe ones: https only (InsecureAllowHTTP opts
// out), DPoP binding, PAR and PKCE for every login.
//
// # What it does not do
//
// It does not read the
// environment or configuration files, and it does not start a browser:
// OpenBrowser is the caller's.
package client
