package dpop

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// MaxProofSize bounds the DPoP header value Verify parses. A proof with a
// 4096-bit RSA jwk is about 1.5 KiB; anything near this bound is an attack
// on the parser, rejected before any decoding.
const MaxProofSize = 8 << 10

// MaxJTILength bounds the jti. RFC 9449 §11.1: "a server that is tracking
// jti values should reject DPoP proof JWTs with unnecessarily large jti
// values or store only a hash thereof"
// (https://www.rfc-editor.org/rfc/rfc9449.html#section-11.1). Verify does
// both.
const MaxJTILength = 256

// The default acceptance window for iat (RFC 9449 §11.1: "preferably only
// for a relatively brief period on the order of seconds or minutes").
const (
	// DefaultMaxAge is how old a proof may be when Verifier.MaxAge is 0.
	DefaultMaxAge = 60 * time.Second
	// DefaultMaxFuture is how far ahead of the server's clock a proof's
	// iat may be when Verifier.MaxFuture is 0; FAPI 2.0 SP §5.3.2.1-13
	// requires accepting 10 s.
	DefaultMaxFuture = 10 * time.Second
)

// Replay records single-use keys. Use must atomically record key until exp
// and fail if key is already recorded; it must not be check-then-set.
// store.Replay satisfies it.
type Replay interface {
	Use(ctx context.Context, key string, exp time.Time) error
}

// Verifier checks DPoP proofs (RFC 9449 §4.3). Its zero value is not
// usable: without Replay every proof is refused. A Verifier is safe for
// concurrent use if its Replay and Nonces are; do not change its fields
// while it is in use.
type Verifier struct {
	// Algorithms is the alg allow-list. Nil means jose.FAPIAlgorithms.
	// Entries outside jose.FAPIAlgorithms are ignored, so none and HMAC
	// algorithms can never be allowed; an empty non-nil list allows
	// nothing.
	Algorithms []string

	// Replay makes each jti single-use. Nil makes every Verify fail with
	// temporarily_unavailable: skipping the check would let a captured
	// proof be replayed.
	Replay Replay

	// IsReplayed reports whether an error from Replay.Use means "already
	// used" (for example errors.Is(err, store.ErrReplayed)). An error
	// wrapping ErrReplayed always means that. Every other error, including
	// all errors when IsReplayed is nil and the store does not return
	// ErrReplayed, means the guard could not answer: Verify fails closed
	// with temporarily_unavailable, never accepts the proof.
	IsReplayed func(error) bool

	// Nonces checks nonce claims. Nil with a Request.Nonce policy other
	// than NonceOff makes Verify fail with temporarily_unavailable.
	Nonces *Nonces

	// MaxAge is how far in the past iat may be. Zero or negative means
	// DefaultMaxAge.
	MaxAge time.Duration
	// MaxFuture is how far in the future iat may be, for client clock
	// skew. Zero or negative means DefaultMaxFuture. FAPI 2.0 SP
	// §5.3.2.1-13 asks for at least 10 s and at most 60 s.
	MaxFuture time.Duration

	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Request is what Verify needs to know about the HTTP request a proof came
// with.
type Request struct {
	// Proofs holds every DPoP header value as received (for example
	// r.Header.Values("DPoP")). None means no proof; more than one is
	// rejected.
	Proofs []string
	// Method is the request method, compared case-sensitively with htm.
	Method string
	// URL is the configured external URL of the endpoint. Never build it
	// from Host or X-Forwarded-* headers: a client that controls them
	// could get a proof made for another server accepted here.
	URL string
	// AccessToken is the access token presented with the request, at a
	// resource server. When set, the proof must carry the matching ath;
	// when empty, the proof must carry no ath.
	AccessToken string
	// Nonce is the nonce policy for this endpoint.
	Nonce NoncePolicy
}

// Proof is a verified DPoP proof.
type Proof struct {
	// JKT is the RFC 7638 thumbprint of Key: bind tokens to it (cnf.jkt)
	// and compare it with a token's cnf.jkt or a request's dpop_jkt.
	JKT string
	// Key is the proof's public key.
	Key *jose.PublicKey
	// JTI is the proof's jti.
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
	// Nonce is the proof's nonce claim, empty when it has none.
	Nonce string
}

// header is the JOSE header of a proof. Members other than these are
// allowed (RFC 9449 §4.2) and ignored.
type header struct {
	Typ  string
	Alg  string
	JWK  *jose.HeaderJWK // nil when absent
	Crit bool            // a crit member is present
}

// claims is the payload of a proof. Empty strings count as absent. Other
// claims (nbf, exp, …) are allowed and ignored.
type claims struct {
	JTI, HTM, HTU, ATH, Nonce string
	IAT                       *jose.NumericDate // nil when absent
}

// b64 decodes JWS parts. Strict rejects non-zero padding bits, so one
// proof has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// Verify checks the DPoP proof of r against every rule of RFC 9449 §4.3
// (https://www.rfc-editor.org/rfc/rfc9449.html#section-4.3), which "the
// receiving server MUST ensure", and then records its jti as used. It
// returns the verified proof, or an *oauth.Error:
//
//   - invalid_dpop_proof wrapping one of ErrMissing … ErrNonce for a proof
//     that fails a check (Status 0: the caller sets 401 and the DPoP
//     scheme at a resource server);
//   - use_dpop_nonce wrapping ErrNonce, with a DPoP-Nonce header, when the
//     policy wants a nonce and the proof has none or a stale one;
//   - temporarily_unavailable when the replay guard cannot answer or the
//     Verifier lacks what the request's policy needs;
//   - server_error when r.URL is not a valid http(s) URL.
//
// The jti is consumed only after every other check passed, so a proof
// refused for any other reason does not fill the replay store. Verify does
// not compare the key with any token binding: that is the caller's job
// with Proof.JKT (RFC 9449 §4.3 item 12, second bullet).
// Verify never panics, whatever r holds.
func (v *Verifier) Verify(ctx context.Context, r Request) (*Proof, error) {
	if v == nil || v.Replay == nil {
		return nil, oauth.Unavailable(fmt.Errorf("%w: no replay guard", ErrConfig))
	}
	if r.Nonce != NonceOff && (v.Nonces == nil || r.Nonce != NonceOptional && r.Nonce != NonceRequired) {
		return nil, oauth.Unavailable(fmt.Errorf("%w: nonce policy %d without usable Nonces", ErrConfig, r.Nonce))
	}

	// RFC 9449 §4.3 item 1: "There is not more than one DPoP HTTP request
	// header field."
	switch len(r.Proofs) {
	case 0:
		return nil, reject(ErrMissing, "DPoP proof required", nil)
	case 1:
	default:
		return nil, reject(ErrMultiple, "more than one DPoP header", nil)
	}
	raw := r.Proofs[0]
	// A proxy may fold repeated header fields into one value joined by
	// commas (RFC 9110 §5.3). A compact JWS has no comma, so one means
	// several proofs.
	if strings.IndexByte(raw, ',') >= 0 {
		return nil, reject(ErrMultiple, "more than one DPoP proof", nil)
	}

	// RFC 9449 §4.3 item 2: "The DPoP HTTP request header field value is
	// a single and well-formed JWT."
	if len(raw) > MaxProofSize {
		return nil, reject(ErrMalformed, "DPoP proof is not a well-formed JWT", fmt.Errorf("%d bytes", len(raw)))
	}
	h64, rest, ok1 := strings.Cut(raw, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || h64 == "" || p64 == "" || s64 == "" || strings.IndexByte(s64, '.') >= 0 {
		return nil, reject(ErrMalformed, "DPoP proof is not a well-formed JWT", errors.New("not a compact JWS"))
	}
	h, err := decodePart(h64, parseHeader)
	if err != nil {
		return nil, reject(ErrMalformed, "DPoP proof is not a well-formed JWT", fmt.Errorf("header: %w", err))
	}
	// RFC 7515 §4.1.11: a recipient MUST reject a JWS whose crit names
	// extensions it does not understand, and Bulwark understands none.
	if h.Crit {
		return nil, reject(ErrMalformed, "DPoP proof uses unsupported crit header", nil)
	}

	// RFC 9449 §4.3 item 4: "The typ JOSE Header Parameter has the value
	// dpop+jwt." §11.5: this keeps JWTs made for other purposes out.
	if h.Typ != Type {
		return nil, reject(ErrType, "DPoP proof typ must be dpop+jwt", nil)
	}
	// RFC 9449 §4.3 item 5: alg "indicates a registered asymmetric digital
	// signature algorithm [IANA.JOSE.ALGS], is not none, is supported by
	// the application, and is acceptable per local policy."
	if !v.allowed(h.Alg) {
		return nil, reject(ErrAlgorithm, "DPoP proof alg not allowed", fmt.Errorf("alg %q", h.Alg))
	}
	// RFC 9449 §4.3 item 3 (jwk is a required header, §4.2) and item 7:
	// "The jwk JOSE Header Parameter does not contain a private key."
	// HeaderJWK.Parse rejects private and symmetric keys and weak
	// ones.
	if h.JWK == nil {
		return nil, reject(ErrKey, "DPoP proof has no jwk header", nil)
	}
	key, jkt, err := h.JWK.Parse()
	if err != nil {
		return nil, reject(ErrKey, "DPoP proof jwk is not an acceptable public key", err)
	}

	c, err := decodePart(p64, parseClaims)
	if err != nil {
		return nil, reject(ErrMalformed, "DPoP proof is not a well-formed JWT", fmt.Errorf("claims: %w", err))
	}
	// RFC 9449 §4.3 item 3: "All required claims per Section 4.2 are
	// contained in the JWT." Each missing claim is reported by the check
	// that needs it.
	if c.JTI == "" {
		return nil, reject(ErrJTI, "DPoP proof has no jti", nil)
	}
	if len(c.JTI) > MaxJTILength {
		return nil, reject(ErrJTI, "DPoP proof jti too long", nil)
	}
	// RFC 9449 §4.3 item 8: "The htm claim matches the HTTP method of the
	// current request." Methods are case-sensitive (RFC 9110 §9.1).
	if c.HTM == "" {
		return nil, reject(ErrMethod, "DPoP proof has no htm", nil)
	}
	if c.HTM != r.Method {
		return nil, reject(ErrMethod, "DPoP proof htm does not match the request method", nil)
	}
	// RFC 9449 §4.3 item 9: "The htu claim matches the HTTP URI value for
	// the HTTP request in which the JWT was received, ignoring any query
	// and fragment parts." Both sides are normalised (see NormalizeURL).
	if c.HTU == "" {
		return nil, reject(ErrURL, "DPoP proof has no htu", nil)
	}
	want, err := NormalizeURL(r.URL)
	if err != nil {
		return nil, oauth.ServerError(fmt.Errorf("dpop: endpoint URL: %w", err))
	}
	if got, err := NormalizeURL(c.HTU); err != nil || got != want {
		return nil, reject(ErrURL, "DPoP proof htu does not match the request URL", err)
	}
	// RFC 9449 §4.3 item 11: "The creation time of the JWT, as determined
	// by either the iat claim or a server managed timestamp via the nonce
	// claim, is within an acceptable window (see Section 11.1)." iat is
	// always checked; a nonce only narrows the window further.
	if c.IAT == nil {
		return nil, reject(ErrIssuedAt, "DPoP proof has no iat", nil)
	}
	iat, now := c.IAT.Time(), v.now()
	maxAge, maxFuture := v.window()
	if iat.Before(now.Add(-maxAge)) {
		return nil, reject(ErrIssuedAt, "DPoP proof is too old", nil)
	}
	if iat.After(now.Add(maxFuture)) {
		return nil, reject(ErrIssuedAt, "DPoP proof iat is in the future", nil)
	}
	if err := checkAccessTokenHash(c.ATH, r.AccessToken); err != nil {
		return nil, err
	}

	// RFC 9449 §4.3 item 6: "The JWT signature verifies with the public
	// key contained in the jwk JOSE Header Parameter." Checked after the
	// cheap checks, so unsigned junk costs no signature verification, and
	// before the nonce, so a forged proof is told it is invalid rather
	// than handed a retry.
	sig, err := b64.DecodeString(s64)
	if err != nil {
		return nil, reject(ErrMalformed, "DPoP proof is not a well-formed JWT", fmt.Errorf("signature: %w", err))
	}
	if err := key.VerifySignature(h.Alg, []byte(raw[:len(h64)+1+len(p64)]), sig); err != nil {
		if errors.Is(err, jose.ErrSignature) {
			return nil, reject(ErrSignature, "DPoP proof signature is invalid", err)
		}
		return nil, reject(ErrKey, "DPoP proof jwk cannot verify its alg", err)
	}

	if err := v.checkNonce(r.Nonce, c.Nonce); err != nil {
		return nil, err
	}

	// RFC 9449 §11.1: "servers can store the jti value of each DPoP proof
	// for the time window in which the respective DPoP proof JWT would be
	// accepted to prevent multiple uses of the same DPoP proof." The key
	// is per proof key rather than per URI: stricter, and a client never
	// needs to reuse a jti. exp outlasts the window on every node.
	if err := v.Replay.Use(ctx, ReplayKey(jkt, c.JTI), iat.Add(maxAge+maxFuture)); err != nil {
		if errors.Is(err, ErrReplayed) || v.IsReplayed != nil && v.IsReplayed(err) {
			return nil, reject(ErrReplayed, "DPoP proof has already been used", err)
		}
		return nil, oauth.Unavailable(fmt.Errorf("dpop: replay guard: %w", err))
	}
	return &Proof{JKT: jkt, Key: key, JTI: c.JTI, IssuedAt: iat, Nonce: c.Nonce}, nil
}

// checkAccessTokenHash applies RFC 9449 §4.3 item 12: "If presented to a
// protected resource in conjunction with an access token, ensure that the
// value of the ath claim equals the hash of that access token." A proof
// with ath but no access token is rejected too: §7 says the binding
// "ensures that a proof intended for use with the access token is not
// usable without an access token, or vice-versa"
// (https://www.rfc-editor.org/rfc/rfc9449.html#section-7).
func checkAccessTokenHash(ath, token string) *oauth.Error {
	switch {
	case token == "" && ath == "":
		return nil
	case token == "":
		return reject(ErrAccessTokenHash, "DPoP proof has ath but no access token was presented", nil)
	case ath == "":
		return reject(ErrAccessTokenHash, "DPoP proof has no ath", nil)
	}
	if subtle.ConstantTimeCompare([]byte(ath), []byte(AccessTokenHash(token))) != 1 {
		return reject(ErrAccessTokenHash, "DPoP proof ath does not match the access token", nil)
	}
	return nil
}

// checkNonce applies RFC 9449 §4.3 item 10: "If the server provided a
// nonce value to the client, the nonce claim matches the server-provided
// nonce value." and §11.3: "A server MUST NOT accept any DPoP proofs
// without the nonce claim when a DPoP nonce has been provided to the
// client." (https://www.rfc-editor.org/rfc/rfc9449.html#section-11.3).
// The answer carries a fresh nonce, as §8 describes.
func (v *Verifier) checkNonce(policy NoncePolicy, nonce string) *oauth.Error {
	switch {
	case policy == NonceOff:
		return nil
	case nonce == "" && policy == NonceOptional:
		return nil
	case nonce != "" && v.Nonces.Valid(nonce):
		return nil
	}
	desc := "DPoP proof nonce is missing"
	if nonce != "" {
		desc = "DPoP proof nonce is invalid or expired"
	}
	return &oauth.Error{
		Code:        oauth.ErrUseDPoPNonce,
		Description: desc,
		Header:      map[string]string{"DPoP-Nonce": v.Nonces.Current()},
		Cause:       ErrNonce,
	}
}

// ReplayKey is the key Verify records with Replay.Use for a proof:
// "dpop:" and the base64url SHA-256 of jkt, a zero byte and jti. Hashing
// bounds the stored size and keeps attacker-chosen bytes out of the store;
// the zero byte keeps (jkt, jti) pairs from colliding.
func ReplayKey(jkt, jti string) string {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var sum [sha256.Size]byte
	return "dpop:" + base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// decodePart base64url-decodes one JWS part and parses its JSON.
func decodePart[T any](part string, parse func([]byte) (T, error)) (T, error) {
	b, err := b64.DecodeString(part)
	if err != nil {
		var zero T
		return zero, err
	}
	return parse(b)
}

// allowed reports whether alg is on both the verifier's list and the FAPI
// list, which holds only asymmetric algorithms.
func (v *Verifier) allowed(alg string) bool {
	algs := v.Algorithms
	if algs == nil {
		algs = jose.FAPIAlgorithms
	}
	return slices.Contains(algs, alg) && slices.Contains(jose.FAPIAlgorithms, alg)
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// window returns the iat acceptance window with defaults applied.
func (v *Verifier) window() (maxAge, maxFuture time.Duration) {
	maxAge, maxFuture = v.MaxAge, v.MaxFuture
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if maxFuture <= 0 {
		maxFuture = DefaultMaxFuture
	}
	return maxAge, maxFuture
}
