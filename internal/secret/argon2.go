package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. DefaultParams follows the OWASP
// password storage recommendation (19 MiB, 2 passes, 1 lane).
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams are the parameters new hashes are made with.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// ErrMismatch reports that a secret does not match its hash.
var ErrMismatch = errors.New("secret: mismatch")

// Hash returns the PHC string of an argon2id hash of secret with a fresh
// 16-byte salt.
func Hash(secret string, p Params) (string, error) {
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", fmt.Errorf("secret: salt: %w", err)
	}
	key := argon2.IDKey([]byte(secret), salt[:], p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt[:]), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify checks secret against a PHC string made by Hash, in constant time
// with respect to the secret. A malformed hash is an error, never a match.
func Verify(secret, phc string) error {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("secret: not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("secret: unsupported argon2 version")
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return errors.New("secret: malformed argon2 parameters")
	}
	// Bound the parameters so a tampered row cannot make one login cost
	// gigabytes of memory.
	if p.MemoryKiB == 0 || p.MemoryKiB > 1<<20 || p.Time == 0 || p.Time > 10 || p.Threads == 0 {
		return errors.New("secret: argon2 parameters out of range")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return errors.New("secret: malformed salt")
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) < 16 {
		return errors.New("secret: malformed hash")
	}
	got := argon2.IDKey([]byte(secret), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// Verifier verifies secrets against argon2id hashes, caching successes in
// memory for TTL. It is safe for concurrent use. The zero value is not
// usable; call NewVerifier.
type Verifier struct {
	ttl time.Duration
	now func() time.Time
	key [32]byte
	max int

	mu sync.Mutex
	// ok maps HMAC(key, hash ‖ 0 ‖ secret) to the entry's expiry; guarded by mu.
	ok map[[32]byte]time.Time
}

// NewVerifier returns a Verifier that caches successful verifications for
// ttl (0 disables caching) and holds at most max entries. now may be nil.
func NewVerifier(ttl time.Duration, max int, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{ttl: ttl, now: now, max: max, ok: map[[32]byte]time.Time{}}
	if _, err := rand.Read(v.key[:]); err != nil {
		panic("secret: no randomness: " + err.Error())
	}
	return v
}

// Verify checks secret against phc, consulting the cache first.
func (v *Verifier) Verify(secret, phc string) error {
	if v.ttl <= 0 {
		return Verify(secret, phc)
	}
	mac := hmac.New(sha256.New, v.key[:])
	mac.Write([]byte(phc))
	mac.Write([]byte{0})
	mac.Write([]byte(secret))
	var k [32]byte
	copy(k[:], mac.Sum(nil))
	now := v.now()
	v.mu.Lock()
	exp, hit := v.ok[k]
	v.mu.Unlock()
	if hit && now.Before(exp) {
		return nil
	}
	if err := Verify(secret, phc); err != nil {
		return err
	}
	v.mu.Lock()
	if len(v.ok) >= v.max {
		for kk, e := range v.ok {
			if !now.Before(e) || len(v.ok) >= v.max {
				delete(v.ok, kk)
			}
		}
	}
	v.ok[k] = now.Add(v.ttl)
	v.mu.Unlock()
	return nil
}

// MinPasswordLen is the shortest password accepted anywhere, NIST SP
// 800-63B §5.1.1.2's floor for memorized secrets.
const MinPasswordLen = 8
