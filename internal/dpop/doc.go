// Package dpop implements OAuth 2.0 Demonstrating Proof of Possession
// (RFC 9449) for both ends of a request: clients build proofs with
// NewProof, and the authorization server's token and PAR endpoints and
// resource servers check them with Verifier.Verify.
//
// What it owns:
//   - Proof construction (RFC 9449 §4.2): typ "dpop+jwt", the public key
//     embedded as jwk, a random jti, htm, htu without query or fragment,
//     iat, and ath and nonce when they apply.
//   - Every receiver check of RFC 9449 §4.3, in the order cheap-first, with
//     the signature checked before the nonce decision and the single-use
//     jti recorded last, so a proof that fails any other check never
//     consumes its jti.
//   - htu comparison after RFC 3986 §6.2.2 syntax-based and §6.2.3
//     scheme-based normalisation (NormalizeURL).
//   - The jkt thumbprint (RFC 7638, RFC 9449 §6.1) and the ath hash
//     (RFC 9449 §4.2).
//   - Server nonces (RFC 9449 §8, §9, §11.3): Nonces derives them from a
//     secret and the clock, so every node behind one endpoint accepts the
//     others' nonces without shared state.
//   - A strict, reflection-free reader for the proof's two JSON objects
//     (json.go): proofs arrive on every request, and generic JWS parsing
//     cost a fifth of an ES256 verification. Key handling and signature
//     checks stay in internal/jose (HeaderJWK, PublicKey.VerifySignature).
//
// Every rejection is an *oauth.Error with code invalid_dpop_proof (or
// use_dpop_nonce with a DPoP-Nonce header) wrapping one of the exported
// sentinels; a replay guard that cannot answer is temporarily_unavailable.
// The status is left to the caller: 400 at the authorization server, 401
// with a DPoP challenge at a resource server.
//
// What it does not do: it never reads an *http.Request (callers pass the
// header values, the method and the endpoint's configured external URL),
// it does not compare the proof key with an access token's cnf.jkt or an
// authorization request's dpop_jkt (callers compare Proof.JKT, because only
// they know which binding applies), and it stores nothing itself: jti
// single use goes through the Replay interface.
package dpop
