package jose

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
)

// MaxTokenSize bounds every JWT the server parses. Larger inputs are
// rejected before any base64 or JSON work is done.
const MaxTokenSize = 16 << 10

// Errors returned by Parse and Verify. Callers map them to the OAuth error
// of their endpoint (invalid_client, invalid_dpop_proof, invalid_token…).
var (
	ErrMalformed    = errors.New("jose: malformed JWT")
	ErrAlgorithm    = errors.New("jose: algorithm not allowed")
	ErrType         = errors.New("jose: wrong typ header")
	ErrSignature    = errors.New("jose: signature verification failed")
	ErrNoKey        = errors.New("jose: no matching key")
	ErrExpired      = errors.New("jose: token expired")
	ErrNotYetValid  = errors.New("jose: token not yet valid")
	ErrMissingClaim = errors.New("jose: required claim missing")
)

// Header is the protected header of a parsed JWT.
type Header struct {
	Algorithm string
	KeyID     string
	Type      string
	// JWK is the embedded public key (RFC 9449 §4.2), nil when absent.
	JWK *PublicKey
	// HasPrivateJWK reports that the embedded jwk carried private key
	// material, which RFC 9449 §4.3 requires the receiver to reject.
	HasPrivateJWK bool
	// Extra holds any other header parameters.
	Extra map[string]any
}

// JWT is a parsed but not yet verified compact JWS.
type JWT struct {
	Header Header
	jws    *gojose.JSONWebSignature
}

// Parse parses a compact JWS whose alg is in algs (FAPIAlgorithms when algs
// is nil). It checks shape and algorithm only; the signature is checked by
// Verify. It never panics on hostile input.
func Parse(token string, algs []string) (*JWT, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(token))
	}
	if strings.Count(token, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	if algs == nil {
		algs = FAPIAlgorithms
	}
	sigAlgs := make([]gojose.SignatureAlgorithm, 0, len(algs))
	for _, a := range algs {
		if slices.Contains(FAPIAlgorithms, a) {
			sigAlgs = append(sigAlgs, gojose.SignatureAlgorithm(a))
		}
	}
	jws, err := gojose.ParseSignedCompact(token, sigAlgs)
	if err != nil {
		if strings.Contains(err.Error(), "unexpected signature algorithm") {
			return nil, fmt.Errorf("%w: %v", ErrAlgorithm, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: expected one signature", ErrMalformed)
	}
	h := jws.Signatures[0].Header
	out := &JWT{jws: jws, Header: Header{
		Algorithm: h.Algorithm,
		KeyID:     h.KeyID,
		Extra:     make(map[string]any, len(h.ExtraHeaders)),
	}}
	for k, v := range h.ExtraHeaders {
		out.Header.Extra[string(k)] = v
	}
	if typ, ok := h.ExtraHeaders[gojose.HeaderType]; ok {
		s, isString := typ.(string)
		if !isString {
			return nil, fmt.Errorf("%w: typ is not a string", ErrMalformed)
		}
		out.Header.Type = s
	}
	if h.JSONWebKey != nil {
		if !h.JSONWebKey.IsPublic() {
			out.Header.HasPrivateJWK = true
		} else if pk, err := newPublicKey(*h.JSONWebKey); err == nil {
			out.Header.JWK = pk
		} else {
			return nil, fmt.Errorf("%w: embedded jwk: %v", ErrMalformed, err)
		}
	}
	return out, nil
}

// Verify checks the signature with key and decodes the payload into claims.
// The key must be compatible with the header's alg (an RSA key never
// verifies an EdDSA signature, and no key is ever used as an HMAC secret).
func (t *JWT) Verify(key *PublicKey, claims any) error {
	if key == nil || !key.compatible(t.Header.Algorithm) {
		return ErrNoKey
	}
	if err := checkPublicKey(key.jwk.Key); err != nil {
		return err
	}
	payload, err := t.jws.Verify(key.jwk.Key)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return decodeClaims(payload, claims)
}

// decodeClaims decodes a JWT payload with go-jose's JSON decoder, which,
// unlike encoding/json, matches member names case-sensitively: "ISS" is
// not "iss" (RFC 7519 §4 names are case-sensitive).
func decodeClaims(payload []byte, claims any) error {
	if err := josejson.Unmarshal(payload, claims); err != nil {
		return fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	return nil
}

// VerifySet verifies against the candidate keys of set (by kid and alg) and
// returns the key that verified.
func (t *JWT) VerifySet(set *KeySet, claims any) (*PublicKey, error) {
	cands := set.Candidates(t.Header.KeyID, t.Header.Algorithm)
	if len(cands) == 0 {
		return nil, ErrNoKey
	}
	var last error
	for _, k := range cands {
		if last = t.Verify(k, claims); last == nil {
			return k, nil
		}
	}
	return nil, last
}

// UnverifiedClaims decodes the payload without checking the signature. Use
// it only to find which key should verify the token (for example the
// client named by a client assertion's iss), never to make a decision.
func (t *JWT) UnverifiedClaims(claims any) error {
	return decodeClaims(t.jws.UnsafePayloadWithoutVerification(), claims)
}

// NumericDate is a JWT NumericDate (RFC 7519 §2): seconds since the epoch,
// possibly fractional.
type NumericDate float64

// Time converts d to a time.Time. JSON numbers reach ±1.8e308, far beyond
// int64 seconds; such values saturate instead of wrapping, so an absurd nbf
// or iat stays in the future and an absurd exp in the past stays expired.
func (d NumericDate) Time() time.Time {
	// 2^62 s is far beyond any real date and leaves time.Time room for
	// the leeways ValidateTimes adds.
	const limit = 1 << 62
	switch f := float64(d); {
	case f >= limit:
		return time.Unix(limit, 0)
	case f <= -limit:
		return time.Unix(-limit, 0)
	}
	sec, frac := math.Modf(float64(d))
	return time.Unix(int64(sec), int64(frac*1e9))
}

// NewNumericDate returns t as a NumericDate truncated to whole seconds.
func NewNumericDate(t time.Time) *NumericDate {
	d := NumericDate(t.Unix())
	return &d
}

// Audience is the aud claim. It remembers whether it arrived as a single
// string, because FAPI 2.0 SP §5.3.2.1-8 accepts only that form in client
// assertions.
type Audience struct {
	Values []string
	Single bool
}

// UnmarshalJSON accepts a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = Audience{Values: []string{s}, Single: true}
		return nil
	}
	var v []string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("jose: aud must be a string or array of strings")
	}
	*a = Audience{Values: v}
	return nil
}

// MarshalJSON writes a single value as a string and several as an array.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a.Values) == 1 {
		return json.Marshal(a.Values[0])
	}
	return json.Marshal(a.Values)
}

// Contains reports whether v is one of the audience values.
func (a Audience) Contains(v string) bool { return slices.Contains(a.Values, v) }

// Claims are the registered claims of RFC 7519 §4.1. Embed it in a struct to
// add private claims.
type Claims struct {
	Issuer    string       `json:"iss,omitempty"`
	Subject   string       `json:"sub,omitempty"`
	Audience  *Audience    `json:"aud,omitempty"`
	Expiry    *NumericDate `json:"exp,omitempty"`
	NotBefore *NumericDate `json:"nbf,omitempty"`
	IssuedAt  *NumericDate `json:"iat,omitempty"`
	ID        string       `json:"jti,omitempty"`
}

// TimeRules say how a received JWT's times are judged.
type TimeRules struct {
	// RequireExp rejects tokens without exp.
	RequireExp bool
	// RequireIat rejects tokens without iat.
	RequireIat bool
	// FutureSkew is how far iat and nbf may lie in the future. FAPI 2.0 SP
	// §5.3.2.1-13 requires accepting up to 10 s and rejecting more than 60 s.
	FutureSkew time.Duration
	// ExpLeeway tolerates an exp this far in the past.
	ExpLeeway time.Duration
	// MaxAge rejects tokens whose iat is older than this (0: no limit).
	MaxAge time.Duration
	// MaxLifetime rejects tokens whose exp lies further than this beyond now
	// (0: no limit). Short-lived assertions keep the replay window small.
	MaxLifetime time.Duration
}

// ValidateTimes applies rules to c at now.
func (c *Claims) ValidateTimes(now time.Time, r TimeRules) error {
	if c.Expiry == nil {
		if r.RequireExp {
			return fmt.Errorf("%w: exp", ErrMissingClaim)
		}
	} else {
		exp := c.Expiry.Time()
		if !now.Before(exp.Add(r.ExpLeeway)) {
			return ErrExpired
		}
		if r.MaxLifetime > 0 && exp.After(now.Add(r.MaxLifetime+r.FutureSkew)) {
			return fmt.Errorf("%w: exp too far in the future", ErrNotYetValid)
		}
	}
	if c.NotBefore != nil && c.NotBefore.Time().After(now.Add(r.FutureSkew)) {
		return fmt.Errorf("%w: nbf in the future", ErrNotYetValid)
	}
	if c.IssuedAt == nil {
		if r.RequireIat {
			return fmt.Errorf("%w: iat", ErrMissingClaim)
		}
	} else {
		iat := c.IssuedAt.Time()
		if iat.After(now.Add(r.FutureSkew)) {
			return fmt.Errorf("%w: iat in the future", ErrNotYetValid)
		}
		if r.MaxAge > 0 && iat.Before(now.Add(-r.MaxAge)) {
			return fmt.Errorf("%w: iat too old", ErrExpired)
		}
	}
	return nil
}

// Signer signs JWTs with the server's active keys, one per algorithm. It is
// safe for concurrent use. Create it with NewSigner.
type Signer struct {
	byAlg map[string]*PrivateKey
	cache sync.Map // signerKey → gojose.Signer
}

// signerKey names a cached go-jose signer. alg is part of it because kids
// are not unique across algorithms: keys loaded from configuration may
// share one.
type signerKey struct{ alg, kid, typ string }

// NewSigner returns a Signer whose active key for each algorithm is the
// first key of that algorithm in keys.
func NewSigner(keys ...*PrivateKey) *Signer {
	s := &Signer{byAlg: map[string]*PrivateKey{}}
	for _, k := range keys {
		if _, ok := s.byAlg[k.Algorithm()]; !ok {
			s.byAlg[k.Algorithm()] = k
		}
	}
	return s
}

// Algorithms lists the algorithms the signer has an active key for.
func (s *Signer) Algorithms() []string {
	out := make([]string, 0, len(s.byAlg))
	for a := range s.byAlg {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Sign serialises claims as a compact JWS with the active key for alg and
// the given typ header (omitted when empty).
func (s *Signer) Sign(alg, typ string, claims any) (string, error) {
	k, ok := s.byAlg[alg]
	if !ok {
		return "", fmt.Errorf("jose: no signing key for %s", alg)
	}
	sk := signerKey{alg, k.KeyID(), typ}
	var sig gojose.Signer
	if v, ok := s.cache.Load(sk); ok {
		sig = v.(gojose.Signer)
	} else {
		opts := (&gojose.SignerOptions{}).WithHeader(gojose.HeaderKey("kid"), k.KeyID())
		if typ != "" {
			opts = opts.WithType(gojose.ContentType(typ))
		}
		var err error
		sig, err = gojose.NewSigner(gojose.SigningKey{Algorithm: gojose.SignatureAlgorithm(alg), Key: k.jwk.Key}, opts)
		if err != nil {
			return "", fmt.Errorf("jose: new signer: %w", err)
		}
		s.cache.Store(sk, sig)
	}
	return signCompact(sig, claims)
}

// signCompact serialises claims once and signs the bytes. (go-jose's jwt
// builder round-trips claims through JSON three times to normalise them,
// which costs as much as half an ES256 signature on the token endpoint.)
func signCompact(sig gojose.Signer, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jose: encode claims: %w", err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("jose: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// SignWithKey signs claims with an arbitrary private key and extra headers.
// Clients use it for assertions and DPoP proofs; jwk, when true, embeds the
// public key in the header (RFC 9449 §4.2).
func SignWithKey(k *PrivateKey, typ string, embedJWK bool, claims any) (string, error) {
	opts := &gojose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(gojose.ContentType(typ))
	}
	if embedJWK {
		opts.EmbedJWK = true
	} else if k.KeyID() != "" {
		opts = opts.WithHeader(gojose.HeaderKey("kid"), k.KeyID())
	}
	key := gojose.SigningKey{Algorithm: gojose.SignatureAlgorithm(k.Algorithm()), Key: k.jwk.Key}
	if embedJWK {
		// go-jose embeds the JWK of the key it is given; pass a JWK
		// without kid so the header carries only the public parameters.
		key.Key = gojose.JSONWebKey{Key: k.jwk.Key, Algorithm: k.Algorithm()}
	}
	sig, err := gojose.NewSigner(key, opts)
	if err != nil {
		return "", fmt.Errorf("jose: new signer: %w", err)
	}
	return signCompact(sig, claims)
}
