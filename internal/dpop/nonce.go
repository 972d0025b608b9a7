package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

// NoncePolicy says whether a request must carry a server nonce
// (RFC 9449 §8 at the authorization server, §9 at a resource server).
type NoncePolicy int

const (
	// NonceOff ignores the nonce claim: the server never hands out nonces,
	// so §4.3 item 10 ("If the server provided a nonce value…") never
	// applies. It is the zero value.
	NonceOff NoncePolicy = iota
	// NonceOptional checks a nonce claim when the proof carries one and
	// accepts proofs without one. Use it while clients learn nonces from
	// DPoP-Nonce headers on successful responses.
	NonceOptional
	// NonceRequired rejects proofs without a current nonce with
	// use_dpop_nonce and a fresh DPoP-Nonce header.
	NonceRequired
)

// DefaultNonceStep is the nonce rotation period when NewNonces is given 0.
const DefaultNonceStep = 5 * time.Minute

// MinNonceSecret is the shortest secret NewNonces accepts.
const MinNonceSecret = 32

// nonceLabel separates these MACs from any other use of the same secret.
const nonceLabel = "bulwark dpop nonce v1\x00"

// Nonces issues and checks server-provided DPoP nonces without per-request
// state: a nonce is HMAC-SHA256(secret, label ‖ time step), base64url. Every
// node configured with the same secret and step hands out the same nonce
// and accepts the others', so a load balancer may send a client's retry
// anywhere. A nonce stays valid for the step it was issued in and the next
// one, so a nonce handed out just before a rotation still works.
//
// Nonces are unpredictable (RFC 9449 §8: "Nonce values MUST be
// unpredictable") only while the secret is secret. Give the authorization
// server and each resource server their own secret: RFC 9449 §9 says nonces
// "will be only accepted by the server that issued them".
//
// A Nonces is safe for concurrent use once Now is set.
type Nonces struct {
	// Now is the clock. Nil means time.Now. Set it before first use.
	Now func() time.Time

	secret []byte
	step   time.Duration
}

// NewNonces returns Nonces keyed by secret that rotate every step
// (DefaultNonceStep when step is 0 or negative). The secret is copied.
// NewNonces panics if secret is shorter than MinNonceSecret bytes: a short
// or empty key would make the nonces predictable, and configuration
// validation is where that mistake must be caught.
func NewNonces(secret []byte, step time.Duration) *Nonces {
	if len(secret) < MinNonceSecret {
		panic(fmt.Sprintf("dpop: nonce secret of %d bytes; at least %d required", len(secret), MinNonceSecret))
	}
	if step <= 0 {
		step = DefaultNonceStep
	}
	return &Nonces{secret: append([]byte(nil), secret...), step: step}
}

// Current returns the nonce to hand out now, in the DPoP-Nonce header of
// use_dpop_nonce errors and, to save clients a round trip, of successful
// responses (RFC 9449 §8.2).
func (n *Nonces) Current() string { return n.at(n.counter()) }

// Valid reports whether nonce is the nonce of the current or the previous
// step. The comparison is constant-time.
func (n *Nonces) Valid(nonce string) bool {
	c := n.counter()
	// Both are computed and compared, so timing says nothing about which
	// step matched.
	cur := subtle.ConstantTimeCompare([]byte(nonce), []byte(n.at(c)))
	prev := subtle.ConstantTimeCompare([]byte(nonce), []byte(n.at(c-1)))
	return cur|prev == 1
}

func (n *Nonces) counter() uint64 {
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	return uint64(now().UnixNano() / int64(n.step))
}

func (n *Nonces) at(counter uint64) string {
	m := hmac.New(sha256.New, n.secret)
	m.Write([]byte(nonceLabel))
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], counter)
	m.Write(c[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
