package authserver

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// newDPoPVerifier builds the proof verifier every endpoint shares, with the
// store's replay guard (fail closed) and cluster-wide nonces.
func newDPoPVerifier(ctx context.Context, cfg Config, st *store.Store) (*dpop.Verifier, error) {
	secret := cfg.DPoPNonceSecret
	if len(secret) == 0 {
		var err error
		if secret, err = derivedNonceSecret(ctx, st.Keys); err != nil {
			return nil, err
		}
	}
	if len(secret) < dpop.MinNonceSecret {
		return nil, fmt.Errorf("authserver: the DPoP nonce secret must be at least %d bytes", dpop.MinNonceSecret)
	}
	nonces := dpop.NewNonces(secret, cfg.DPoPNonceLifetime)
	nonces.Now = cfg.Now
	return &dpop.Verifier{
		Algorithms: jose.FAPIAlgorithms,
		Replay:     st.Replay,
		IsReplayed: func(err error) bool { return errors.Is(err, store.ErrReplayed) },
		Nonces:     nonces,
		MaxAge:     cfg.DPoPMaxAge,
		MaxFuture:  cfg.DPoPMaxFuture,
		Now:        cfg.Now,
	}, nil
}

// derivedNonceSecret derives the nonce key from the oldest published ES256
// signing key. Nodes share the signing keys through the store, so they
// derive the same secret without configuration; when that key retires,
// outstanding nonces stop working and clients get use_dpop_nonce with a
// fresh one, which RFC 9449 §8 clients handle.
func derivedNonceSecret(ctx context.Context, ks store.Keys) ([]byte, error) {
	recs, err := ks.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("authserver: list signing keys: %w", err)
	}
	slices.SortStableFunc(recs, func(a, b *store.SigningKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	now := time.Now()
	for _, r := range recs {
		if r.Algorithm != jose.ES256 || (r.RetiredAt != nil && !now.Before(*r.RetiredAt)) {
			continue
		}
		k, err := jose.ParsePrivateJWK(r.Private)
		if err != nil {
			return nil, fmt.Errorf("authserver: signing key %s: %w", r.ID, err)
		}
		return k.DeriveSecret("dpop nonce")
	}
	return nil, errors.New("authserver: no ES256 signing key to derive the DPoP nonce secret from")
}

// loadClientCAs reads the PEM bundle tls_client_auth certificates must
// chain to. No file means no trusted CA: tls_client_auth then always
// fails, which is the safe reading of an empty setting.
func loadClientCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("authserver: tls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("authserver: tls.client_ca_file %s holds no PEM certificate", file)
	}
	return pool, nil
}
