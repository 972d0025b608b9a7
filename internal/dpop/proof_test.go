package dpop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

// joseKeys are jose.PrivateKeys for NewProof, one per FAPI algorithm.
var joseKeys = sync.OnceValue(func() map[string]*jose.PrivateKey {
	out := map[string]*jose.PrivateKey{}
	for _, alg := range jose.FAPIAlgorithms {
		k, err := jose.GenerateKey(alg)
		if err != nil {
			panic(err)
		}
		out[alg] = k
	}
	return out
})

// decodeProof splits a proof into its header and claims, unverified.
func decodeProof(t *testing.T, proof string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		t.Fatalf("proof has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

// TestNewProofVerifies builds proofs with NewProof for every FAPI
// algorithm and checks that Verify accepts them and reports the key's
// thumbprint.
func TestNewProofVerifies(t *testing.T) {
	for _, alg := range jose.FAPIAlgorithms {
		t.Run("ok/"+alg, func(t *testing.T) {
			key := joseKeys()[alg]
			proof, err := dpop.NewProof(key, dpop.ProofParams{
				Method: "GET", URL: resourceURL + "?page=2#top", AccessToken: accessToken, Nonce: "n-1", Now: now,
			})
			if err != nil {
				t.Fatal(err)
			}
			v := newVerifier(newMemReplay())
			v.Nonces = nil
			p, err := v.Verify(context.Background(), dpop.Request{
				Proofs: []string{proof}, Method: "GET", URL: resourceURL, AccessToken: accessToken,
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := key.Public().Thumbprint(); p.JKT != want {
				t.Errorf("JKT = %s, want %s", p.JKT, want)
			}
			if p.Nonce != "n-1" || !p.IssuedAt.Equal(now) {
				t.Errorf("proof = %+v, want nonce n-1 and iat %v", p, now)
			}
		})
	}
}

func TestNewProofContents(t *testing.T) {
	key := joseKeys()[jose.ES256]
	proof, err := dpop.NewProof(key, dpop.ProofParams{Method: "POST", URL: "https://As.Example/token?x=1#f", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	h, c := decodeProof(t, proof)
	if h["typ"] != "dpop+jwt" || h["alg"] != "ES256" {
		t.Errorf("header = %v", h)
	}
	jwk, _ := h["jwk"].(map[string]any)
	if jwk == nil || jwk["d"] != nil || h["kid"] != nil {
		t.Errorf("jwk = %v, kid = %v: want a public jwk and no kid", jwk, h["kid"])
	}
	// The query and fragment go; the rest is sent as given.
	if c["htu"] != "https://As.Example/token" || c["htm"] != "POST" || c["iat"] != float64(now.Unix()) {
		t.Errorf("claims = %v", c)
	}
	if _, ok := c["ath"]; ok {
		t.Errorf("ath without an access token")
	}
	if _, ok := c["nonce"]; ok {
		t.Errorf("nonce without a server nonce")
	}
	jti, _ := c["jti"].(string)
	if b, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(b) < 16 {
		t.Errorf("jti %q: want at least 128 random bits", jti)
	}
	again, err := dpop.NewProof(key, dpop.ProofParams{Method: "POST", URL: tokenURL, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, c2 := decodeProof(t, again); c2["jti"] == jti {
		t.Error("two proofs share a jti")
	}
}

func TestNewProofErrors(t *testing.T) {
	key := joseKeys()[jose.ES256]
	for _, tc := range []struct {
		name string
		key  *jose.PrivateKey
		p    dpop.ProofParams
	}{
		{"fail/no key", nil, dpop.ProofParams{Method: "POST", URL: tokenURL}},
		{"fail/no method", key, dpop.ProofParams{URL: tokenURL}},
		{"fail/relative URL", key, dpop.ProofParams{Method: "POST", URL: "/token"}},
		{"fail/not http", key, dpop.ProofParams{Method: "POST", URL: "ftp://as.example/token"}},
		{"fail/randomness fails", key, dpop.ProofParams{Method: "POST", URL: tokenURL, Rand: errReader{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if proof, err := dpop.NewProof(tc.key, tc.p); err == nil {
				t.Errorf("NewProof = %q, want an error", proof)
			}
		})
	}
}

func TestNewProofDefaultClock(t *testing.T) {
	proof, err := dpop.NewProof(joseKeys()[jose.EdDSA], dpop.ProofParams{Method: "POST", URL: tokenURL})
	if err != nil {
		t.Fatal(err)
	}
	_, c := decodeProof(t, proof)
	if iat, _ := c["iat"].(float64); time.Since(time.Unix(int64(iat), 0)).Abs() > time.Minute {
		t.Errorf("iat = %v, want about now", c["iat"])
	}
}

func TestThumbprint(t *testing.T) {
	// RFC 9449 §6.1 gives the jkt of the key in its Figure 4 proof.
	k, err := jose.ParsePublicJWK([]byte(`{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",` +
		`"y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := dpop.Thumbprint(k), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
}
