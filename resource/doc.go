// Package resource checks OAuth 2.0 access tokens at a resource server or
// gateway, as Go middleware: FAPI 2.0 Security Profile §5.3.4 with DPoP
// (RFC 9449 §7) and mTLS certificate-bound tokens (RFC 8705 §3).
//
// # API contract
//
//	v := &resource.Verifier{
//		Issuer:    "https://as.example.com",           // exact issuer; metadata and JWKS are discovered from it
//		Audiences: []string{"https://api.example.com"}, // the token's aud must contain one (RFC 8707, RFC 9068 §4)
//		BaseURL:   "https://api.example.com",           // external URL prefix; htu = BaseURL + r.URL.EscapedPath()
//		Replay:    cache,                               // ReplayCache, e.g. store.Replay; nil refuses DPoP (503)
//		IsReplayed: func(err error) bool { return errors.Is(err, store.ErrReplayed) },
//		ClientCertificate: func(r *http.Request) (*x509.Certificate, error) {
//			c, _, err := certSource.Certificate(r)
//			return c, err
//		},
//	}
//	mux.Handle("/api/", v.Handler(api))                // writes failures itself
//
//	// or, to decide yourself:
//	tok, err := v.Check(r)                              // (*Token, error); err is an *Error
//	if err == nil {
//		err = resource.RequireScopes(tok, "accounts")  // 403 insufficient_scope
//	}
//	if err != nil {
//		resource.WriteError(w, err)                    // identical rendering to Handler
//		return
//	}
//
// Inside Handler, next finds the token with TokenFromContext(r.Context()).
//
// The exported names are: Verifier (Check, Handler, CurrentNonce), Token
// (HasScope), Introspection, NoncePolicy (NonceOff, NonceOptional,
// NonceRequired), ReplayCache, MemoryReplayCache (NewMemoryReplayCache),
// ErrReplayed, Error (Error, Unwrap, ServeHTTP), WriteError, RequireScopes,
// RequireAudience, TokenFromContext, NewContext, the Binding…, Code… and
// Reason… constants, and the Default… limits. No internal or third-party
// type appears in them, so the package can be used outside this module.
//
// # What a request must carry
//
// The access token is read only from one Authorization header whose scheme
// (case-insensitive, RFC 9110 §11.1) is DPoP or Bearer (RFC 6750 §2.1,
// RFC 9449 §7.1). An access_token query parameter or form-body field is
// refused with 400 invalid_request (FAPI 2.0 SP §5.3.4-2, RFC 6750 §2.3),
// and so are two Authorization headers (RFC 9449 §7.2).
//
// The token is a JWT access token (RFC 9068: typ at+jwt, iss equal to
// Verifier.Issuer, aud holding one of Verifier.Audiences, exp and nbf with
// Verifier.Leeway, signed with PS256, ES256 or EdDSA by a key of the
// issuer's JWKS — never none or HMAC), or, when Verifier.Introspection is
// set, any token the issuer's introspection endpoint (RFC 7662, optionally
// RFC 9701 signed responses) calls active.
//
// Then one pipeline enforces the sender constraint the token's cnf claim
// names:
//
//   - cnf.jkt (DPoP-bound): the scheme must be DPoP and the request must
//     carry exactly one DPoP proof passing every RFC 9449 §4.3 check
//     against Verifier.BaseURL + the request path (never Host or
//     X-Forwarded-*), with ath, signed by the key cnf.jkt names, with a
//     fresh jti (Verifier.Replay) and, under NonceRequired, a current
//     nonce of this resource server. A DPoP-bound token sent as Bearer is
//     refused (RFC 9449 §7.2).
//   - cnf["x5t#S256"] (certificate-bound): the scheme must be Bearer and
//     the client certificate of the request (Verifier.ClientCertificate,
//     or the TLS connection) must have that SHA-256 thumbprint
//     (RFC 8705 §3); otherwise 401 invalid_token. Refused outright when
//     Verifier.RequireDPoP is set.
//   - no cnf: accepted, as Bearer only, when Verifier.AllowBearer is set.
//
// # Failures
//
// Every failure is an *Error: Status, Code (RFC 6750 §3.1 and RFC 9449
// codes; empty when no credentials were sent), Description, Reason (a
// short stable label for metrics and logs) and the response Header it
// needs: WWW-Authenticate challenges with error, error_description, scope,
// DPoP algs and resource_metadata (RFC 9728 §5.1) when configured, and
// DPoP-Nonce for use_dpop_nonce. Error.ServeHTTP and WriteError write it
// (JSON body, Cache-Control: no-store), so a gateway renders failures the
// same way Handler does. The statuses are:
//
//	400 invalid_request           token in query/body, two Authorization headers
//	401 (no error code)           no credentials: a DPoP challenge, and Bearer when Bearer tokens can be accepted
//	401 invalid_token             bad, expired, revoked, foreign or unbound token; wrong or missing certificate
//	401 invalid_dpop_proof        any failed proof check, DPoP challenge
//	401 use_dpop_nonce            nonce required or stale, with DPoP-Nonce
//	403 insufficient_scope        RequireScopes / RequireAudience, with scope=
//	503 temporarily_unavailable   replay cache, JWKS or introspection cannot answer: fail closed
//	500 server_error              the Verifier is misconfigured (no Issuer, no Audiences, bad BaseURL, short NonceSecret)
//
// # Concurrency and configuration
//
// A Verifier is safe for concurrent use. Configure it fully before its
// first Check; its fields are read once, on first use, and must not change
// afterwards. Every field's zero value is documented and is the safe
// choice: no Bearer tokens, no introspection, nonces off, a 10 s refresh
// bound on the JWKS, fail-closed replay checking.
//
// # What it does not do
//
// It does not authorize requests beyond scope and audience (RequireScopes,
// RequireAudience): routing rules are the caller's. It does not verify
// HTTP message signatures, decrypt JWE tokens or introspection responses,
// accept tokens through Proxy-Authorization (RFC 9449 §7.1), or read more
// than the first 64 KiB of a form body when looking for access_token.
// It keeps no state across processes except through ReplayCache: DPoP
// nonces are derived from NonceSecret, so every node with the same secret
// accepts the others' nonces.
package resource
