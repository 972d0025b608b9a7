package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

// DPoPKey is a DPoP proof key (RFC 9449 §4). Tokens issued in ModeDPoP are
// bound to its thumbprint, so whoever holds the key can use them: keep it
// as secret as the refresh token. A DPoPKey is immutable and safe for
// concurrent use. Obtain one from NewDPoPKey, ParseDPoPKey or
// LoadOrCreateDPoPKey; the zero value is not valid.
type DPoPKey struct {
	k   *jose.PrivateKey
	jkt string
}

// NewDPoPKey generates an in-memory DPoP key for alg: "ES256" (the default
// when alg is empty), "PS256" or "EdDSA".
func NewDPoPKey(alg string) (*DPoPKey, error) {
	if alg == "" {
		alg = jose.ES256
	}
	k, err := jose.GenerateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return newDPoPKey(k), nil
}

func newDPoPKey(k *jose.PrivateKey) *DPoPKey {
	return &DPoPKey{k: k, jkt: k.Public().Thumbprint()}
}

// ParseDPoPKey parses a private JWK as produced by PrivateJWK. Only the
// FAPI 2.0 algorithms (PS256, ES256, EdDSA) and keys of allowed strength
// are accepted.
func ParseDPoPKey(jwk []byte) (*DPoPKey, error) {
	k, err := jose.ParsePrivateJWK(jwk)
	if err != nil {
		return nil, fmt.Errorf("client: DPoP key: %w", err)
	}
	return newDPoPKey(k), nil
}

// LoadOrCreateDPoPKey returns the DPoP key stored as a private JWK at path,
// creating an ES256 key there (mode 0600, directory 0700) when the file does
// not exist. Creation is atomic and never replaces a key: when several
// processes race, all of them end up with the key the first one wrote.
// A key file readable by group or others is refused, because anyone who
// can read it can use the tokens bound to it.
func LoadOrCreateDPoPKey(path string) (*DPoPKey, error) {
	for range 3 {
		k, err := loadDPoPKey(path)
		if !errors.Is(err, fs.ErrNotExist) {
			return k, err
		}
		nk, err := NewDPoPKey("")
		if err != nil {
			return nil, err
		}
		b, err := nk.PrivateJWK()
		if err != nil {
			return nil, err
		}
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("client: DPoP key: %w", err)
		}
		tmp, err := writeTemp(dir, filepath.Base(path), b)
		if err != nil {
			return nil, fmt.Errorf("client: DPoP key: %w", err)
		}
		// os.Link fails when path exists, so a key another process just
		// created is kept and read on the next iteration.
		err = os.Link(tmp, path)
		os.Remove(tmp)
		if err == nil {
			return nk, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("client: DPoP key: %w", err)
		}
	}
	return nil, fmt.Errorf("client: DPoP key %s: could not be created", path)
}

func loadDPoPKey(path string) (*DPoPKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("client: DPoP key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("client: DPoP key %s: mode %v allows others to read it; chmod 600", path, st.Mode().Perm())
	}
	b, err := readAllLimited(f)
	if err != nil {
		return nil, fmt.Errorf("client: DPoP key: %w", err)
	}
	return ParseDPoPKey(b)
}

// Thumbprint returns the key's RFC 7638 SHA-256 JWK thumbprint, base64url
// without padding: the cnf.jkt of the tokens bound to it (RFC 9449 §6.1).
func (k *DPoPKey) Thumbprint() string { return k.jkt }

// Algorithm returns the algorithm the key signs proofs with.
func (k *DPoPKey) Algorithm() string { return k.k.Algorithm() }

// PrivateJWK returns the key as a private JWK. The result is secret.
func (k *DPoPKey) PrivateJWK() ([]byte, error) { return k.k.MarshalJSON() }

// Proof returns a fresh DPoP proof for a request with method to rawURL
// (query and fragment are dropped to form htu), with ath when accessToken
// is set and nonce when set (RFC 9449 §4.2). Use a new proof for every
// request. Transport and Config do this themselves; Proof is for requests
// made some other way.
func (k *DPoPKey) Proof(method, rawURL, accessToken, nonce string) (string, error) {
	return k.proof(method, rawURL, accessToken, nonce, time.Now())
}

func (k *DPoPKey) proof(method, rawURL, accessToken, nonce string, now time.Time) (string, error) {
	p, err := dpop.NewProof(k.k, dpop.ProofParams{Method: method, URL: rawURL, AccessToken: accessToken, Nonce: nonce, Now: now})
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	return p, nil
}
