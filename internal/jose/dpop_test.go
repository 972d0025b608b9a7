package jose

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestVerifySignature signs with every allowed algorithm and checks the
// fast verification path accepts exactly the untouched signature with the
// matching algorithm.
func TestVerifySignature(t *testing.T) {
	for _, alg := range FAPIAlgorithms {
		t.Run(alg, func(t *testing.T) {
			k, err := GenerateKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := SignWithKey(k, "dpop+jwt", true, map[string]any{"jti": "x"})
			if err != nil {
				t.Fatal(err)
			}
			i := strings.LastIndexByte(tok, '.')
			input := []byte(tok[:i])
			sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
			pub := k.Public()
			if err := pub.VerifySignature(alg, input, sig); err != nil {
				t.Fatalf("ok/valid: %v", err)
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 1
			if err := pub.VerifySignature(alg, input, bad); !errors.Is(err, ErrSignature) {
				t.Errorf("fail/flipped bit: %v", err)
			}
			if err := pub.VerifySignature(alg, append(input, 'x'), sig); !errors.Is(err, ErrSignature) {
				t.Errorf("fail/other input: %v", err)
			}
			for _, other := range append(FAPIAlgorithms, "none", "HS256", "RS256") {
				if other != alg && pub.VerifySignature(other, input, sig) == nil {
					t.Errorf("fail/alg %s accepted a %s key's signature", other, alg)
				}
			}
		})
	}
}

// TestHeaderJWKParse: the fast header-key parser agrees with go-jose on
// the thumbprint and refuses private material and other curves.
func TestHeaderJWKParse(t *testing.T) {
	for _, alg := range FAPIAlgorithms {
		k, err := GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := k.Public().MarshalJSON()
		var m map[string]string
		json.Unmarshal(b, &m)
		h := &HeaderJWK{Kty: m["kty"], Crv: m["crv"], X: m["x"], Y: m["y"], N: m["n"], E: m["e"]}
		pub, jkt, err := h.Parse()
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if jkt != k.Public().Thumbprint() || pub.Thumbprint() != jkt {
			t.Errorf("%s: thumbprint %q, want %q", alg, jkt, k.Public().Thumbprint())
		}
		h.Private = true
		if _, _, err := h.Parse(); !errors.Is(err, ErrPrivateJWK) {
			t.Errorf("%s: private member accepted: %v", alg, err)
		}
	}
	if _, _, err := (&HeaderJWK{Kty: "EC", Crv: "P-384", X: "AA", Y: "AA"}).Parse(); err == nil {
		t.Error("P-384 key accepted")
	}
	if _, _, err := (&HeaderJWK{Kty: "oct"}).Parse(); err == nil {
		t.Error("symmetric key accepted")
	}
}

// TestDeriveSecret: deterministic per key and label, distinct otherwise.
func TestDeriveSecret(t *testing.T) {
	for _, alg := range FAPIAlgorithms {
		k, _ := GenerateKey(alg)
		k2, _ := GenerateKey(alg)
		a, err := k.DeriveSecret("dpop nonce")
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		b, _ := k.DeriveSecret("dpop nonce")
		c, _ := k.DeriveSecret("other")
		d, _ := k2.DeriveSecret("dpop nonce")
		if string(a) != string(b) || string(a) == string(c) || string(a) == string(d) || len(a) != 32 {
			t.Errorf("%s: derived secrets not deterministic and separated", alg)
		}
	}
}
