package dpop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// Type is the typ header of every DPoP proof (RFC 9449 §4.2).
const Type = "dpop+jwt"

// jtiBytes is the randomness in a proof's jti: RFC 9449 §4.2 asks for at
// least 96 bits; 128 matches every other identifier Bulwark issues.
const jtiBytes = 16

// ProofParams describe the request a proof is made for.
type ProofParams struct {
	// Method is the request method, the htm claim, for example "POST".
	Method string
	// URL is the request URL. Its query and fragment are stripped to form
	// htu (RFC 9449 §4.2); the rest is sent as given.
	URL string
	// AccessToken, when set, adds ath = base64url(SHA-256(AccessToken)),
	// which every proof sent with an access token must carry (RFC 9449
	// §7). Leave it empty at the token and PAR endpoints.
	AccessToken string
	// Nonce is the server's most recent DPoP-Nonce for this server, if
	// any (RFC 9449 §8, §9).
	Nonce string
	// Now is the proof's creation time, the iat claim. Zero means
	// time.Now().
	Now time.Time
	// Rand is the source of the jti. Nil means crypto/rand.Reader.
	Rand io.Reader
}

// proofClaims is the payload NewProof signs.
type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// NewProof builds a DPoP proof signed with key: typ dpop+jwt, the public
// key embedded as jwk, a fresh random jti, htm, htu, iat, and ath and nonce
// when p sets them. Build a new proof for every request, retries included
// (RFC 9449 §7.3): servers reject a jti they have seen.
func NewProof(key *jose.PrivateKey, p ProofParams) (string, error) {
	if key == nil {
		return "", errors.New("dpop: no signing key")
	}
	if p.Method == "" {
		return "", errors.New("dpop: no request method")
	}
	htu, _, _ := strings.Cut(p.URL, "#")
	htu, _, _ = strings.Cut(htu, "?")
	if _, err := NormalizeURL(htu); err != nil {
		return "", err
	}
	r := p.Rand
	if r == nil {
		r = rand.Reader
	}
	var jti [jtiBytes]byte
	if _, err := io.ReadFull(r, jti[:]); err != nil {
		return "", fmt.Errorf("dpop: jti: %w", err)
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	c := proofClaims{
		JTI:   base64.RawURLEncoding.EncodeToString(jti[:]),
		HTM:   p.Method,
		HTU:   htu,
		IAT:   now.Unix(),
		Nonce: p.Nonce,
	}
	if p.AccessToken != "" {
		c.ATH = AccessTokenHash(p.AccessToken)
	}
	return jose.SignWithKey(key, Type, true, c)
}

// Thumbprint returns the JWK SHA-256 thumbprint of k (RFC 7638), base64url
// without padding: the value of cnf.jkt (RFC 9449 §6.1) and of dpop_jkt
// (§10). It equals k.Thumbprint().
func Thumbprint(k *jose.PublicKey) string { return k.Thumbprint() }

// AccessTokenHash returns the ath claim for token: "the base64url encoding
// ... [of] the SHA-256 hash of the ASCII encoding of the associated access
// token's value" (RFC 9449 §4.2).
func AccessTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
