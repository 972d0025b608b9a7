package resource

import (
	"crypto/sha256"
	"maps"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// A client sends the same access token with every request for its
// lifetime, and only the DPoP proof changes. Verifying the token's
// signature again each time is half the signature work of a request, so
// the Verifier remembers tokens whose typ and signature it has verified.
// The entry is keyed by the SHA-256 of the token's exact bytes (so only
// the identical token matches), tied to the key set that verified it (a
// JWKS fetch, which also happens when keys rotate, starts afresh), and
// kept at most verifiedTokenTTL and never past the token's exp. Every
// other check (iss, aud, exp, nbf, binding, proof, scopes, introspection
// when configured) still runs on every request.
const (
	verifiedTokenTTL  = time.Minute
	maxVerifiedTokens = 10_000
)

// verifiedTokens is the cache of verified access tokens. It is safe for
// concurrent use.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]verifiedToken // guarded by mu
}

type verifiedToken struct {
	keys   *jose.KeySet
	claims map[string]any
	until  time.Time
}

// get returns a copy of the claims of a token verified with keys, if it
// is remembered and still fresh at now.
func (c *verifiedTokens) get(sum [sha256.Size]byte, keys *jose.KeySet, now time.Time) (map[string]any, bool) {
	if keys == nil {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.m[sum]
	c.mu.Unlock()
	if !ok || e.keys != keys || !now.Before(e.until) {
		return nil, false
	}
	// A copy: Token.Claims belongs to the request that gets it.
	return maps.Clone(e.claims), true
}

// put remembers a token verified with keys. Tokens without a usable exp
// are not remembered. When the cache is full it starts over: a bounded
// map, not an LRU, since a refill costs one verification per token.
func (c *verifiedTokens) put(sum [sha256.Size]byte, keys *jose.KeySet, claims map[string]any, now time.Time) {
	exp, present, valid := numericDate(claims["exp"])
	if !present || !valid || keys == nil {
		return
	}
	until := now.Add(verifiedTokenTTL)
	if exp.Before(until) {
		until = exp
	}
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxVerifiedTokens {
		c.m = make(map[[sha256.Size]byte]verifiedToken)
	}
	c.m[sum] = verifiedToken{keys: keys, claims: maps.Clone(claims), until: until}
}
