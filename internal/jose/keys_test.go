package jose_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

type keySetCase struct {
	name    string
	data    []byte
	want    error
	wantLen int
}

// keySetCases is the ParseKeySet table; FuzzParseKeySet is seeded from it.
func keySetCases(t testing.TB) []keySetCase {
	f := fixtures()
	ec := jwkJSON(t, f.ec.Public(), "ec", jose.ES256)
	rsa2048 := jwkJSON(t, f.rsa.Public(), "rsa", jose.PS256)
	ed := jwkJSON(t, f.ed.Public(), "ed", jose.EdDSA)
	// A 2047-bit modulus: one bit short of the floor. The key need not be
	// a real RSA key; its size is what ParseKeySet must judge.
	short := &rsa.PublicKey{N: new(big.Int).Rsh(f.rsa.N, 1), E: 65537}
	if short.N.BitLen() != 2047 {
		t.Fatalf("short modulus has %d bits", short.N.BitLen())
	}
	return []keySetCase{
		{"ok/ec", jwks(ec), nil, 1},
		{"ok/rsa_2048", jwks(rsa2048), nil, 1},
		{"ok/ed25519", jwks(ed), nil, 1},
		{"ok/mixed", jwks(ec, rsa2048, ed), nil, 3},
		{"ok/P384_accepted_but_unusable", jwks(jwkJSON(t, f.ec384.Public(), "", "")), nil, 1},
		{"ok/rfc7517_A1_rsa", jwks([]byte(rfc7638Key)), nil, 1},
		{"ok/empty", []byte(`{"keys":[]}`), nil, 0},
		{"ok/no_keys_member", []byte(`{}`), nil, 0},

		{"fail/rsa_2047", jwks(jwkJSON(t, short, "", "")), jose.ErrWeakKey, 0},
		{"fail/rsa_1024", jwks(jwkJSON(t, f.rsaWeak.Public(), "", "")), jose.ErrWeakKey, 0},
		{"fail/rsa_1024_among_good", jwks(ec, jwkJSON(t, f.rsaWeak.Public(), "", ""), ed), jose.ErrWeakKey, 0},
		{"fail/private_ec", jwks(jwkJSON(t, f.ec, "", "")), errAny, 0},
		{"fail/private_rsa", jwks(jwkJSON(t, f.rsa, "", "")), errAny, 0},
		{"fail/private_ed25519", jwks(jwkJSON(t, f.ed, "", "")), errAny, 0},
		{"fail/private_among_public", jwks(ec, jwkJSON(t, f.ec2, "", "")), errAny, 0},
		{"fail/private_d_on_public", jwks([]byte(strings.Replace(string(ec), `"kty"`, `"d":"`+b64(f.ec.D.Bytes())+`","kty"`, 1))), errAny, 0},
		{"fail/symmetric_oct", jwks([]byte(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","alg":"HS256"}`)), errAny, 0},
		{"fail/unknown_kty", jwks([]byte(`{"kty":"XYZ","x":"AA"}`)), errAny, 0},
		{"fail/x25519", jwks([]byte(`{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`)), errAny, 0},
		{"fail/ec_point_off_curve", jwks([]byte(`{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag"}`)), errAny, 0},
		{"fail/ec_unknown_curve", jwks([]byte(`{"kty":"EC","crv":"P-192","x":"AQ","y":"Ag"}`)), errAny, 0},
		{"fail/rsa_no_modulus", jwks([]byte(`{"kty":"RSA","e":"AQAB"}`)), errAny, 0},
		{"fail/keys_not_array", []byte(`{"keys":{}}`), errAny, 0},
		{"fail/key_not_object", []byte(`{"keys":[1]}`), errAny, 0},
		{"fail/not_json", []byte(`{"keys":`), errAny, 0},
		{"fail/array", []byte(`[]`), errAny, 0},
	}
}

// rfc7638Key is the RSA key of RFC 7517 Appendix A.1, used by RFC 7638 §3.1.
const rfc7638Key = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`

// TestParseKeySet checks the strength floor (RSA ≥ 2048 bits) and that a
// public key set never holds private or symmetric key material. One bad
// key fails the whole set.
func TestParseKeySet(t *testing.T) {
	for _, tc := range keySetCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := jose.ParseKeySet(tc.data)
			checkErr(t, "ParseKeySet", err, tc.want)
			if err != nil {
				return
			}
			if ks.Len() != tc.wantLen || len(ks.Keys()) != tc.wantLen {
				t.Fatalf("Len() = %d, want %d", ks.Len(), tc.wantLen)
			}
			checkPublicSet(t, ks)
		})
	}
}

// checkPublicSet asserts that every key in ks is public, of an allowed
// type and size, and that the set re-encodes to itself.
func checkPublicSet(t *testing.T, ks *jose.KeySet) {
	t.Helper()
	for i, k := range ks.Keys() {
		b, err := k.MarshalJSON()
		if err != nil {
			t.Fatalf("key %d: MarshalJSON: %v", i, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
			if _, ok := m[private]; ok {
				t.Fatalf("key %d has private member %q: %s", i, private, b)
			}
		}
		switch m["kty"] {
		case "RSA":
			n, err := b64Decode(m["n"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if bits := new(big.Int).SetBytes(n).BitLen(); bits < jose.MinRSABits {
				t.Fatalf("key %d: RSA key of %d bits accepted", i, bits)
			}
		case "EC":
			if !slices.Contains([]any{"P-256", "P-384", "P-521"}, m["crv"]) {
				t.Fatalf("key %d: curve %v accepted", i, m["crv"])
			}
		case "OKP":
			if m["crv"] != "Ed25519" {
				t.Fatalf("key %d: OKP curve %v accepted", i, m["crv"])
			}
		default:
			t.Fatalf("key %d: kty %v accepted", i, m["kty"])
		}
		if _, err := jose.ParsePublicJWK(b); err != nil {
			t.Fatalf("key %d does not re-parse: %v", i, err)
		}
		if k.Thumbprint() == "" {
			t.Fatalf("key %d has no thumbprint", i)
		}
	}
	b, err := ks.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	again, err := jose.ParseKeySet(b)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", b, err)
	}
	if again.Len() != ks.Len() {
		t.Fatalf("re-parse has %d keys, want %d", again.Len(), ks.Len())
	}
}

// FuzzParseKeySet: arbitrary JSON never panics ParseKeySet, and any set it
// accepts holds only public keys of allowed types and sizes.
func FuzzParseKeySet(f *testing.F) {
	for _, tc := range keySetCases(f) {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := jose.ParseKeySet(data)
		if err != nil {
			if ks != nil {
				t.Fatal("ParseKeySet returned a set with its error")
			}
			return
		}
		checkPublicSet(t, ks)
		for _, alg := range append([]string{"HS256", "RS256", "none"}, jose.FAPIAlgorithms...) {
			for _, k := range ks.Candidates("", alg) {
				if !slices.Contains(jose.FAPIAlgorithms, alg) {
					t.Fatalf("key %s is a candidate for %s", k.KeyID(), alg)
				}
			}
		}
	})
}

func TestParsePublicJWK(t *testing.T) {
	f := fixtures()
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"ok/ec", jwkJSON(t, f.ec.Public(), "", ""), nil},
		{"fail/private", jwkJSON(t, f.ec, "", ""), errAny},
		{"fail/weak", jwkJSON(t, f.rsaWeak.Public(), "", ""), jose.ErrWeakKey},
		{"fail/oct", []byte(`{"kty":"oct","k":"AAAA"}`), errAny},
		{"fail/empty", nil, errAny},
		{"fail/null", []byte(`null`), errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jose.ParsePublicJWK(tc.data)
			checkErr(t, "ParsePublicJWK", err, tc.want)
		})
	}
}

// TestThumbprint checks the RFC 7638 §3.1 example.
func TestThumbprint(t *testing.T) {
	k, err := jose.ParsePublicJWK([]byte(rfc7638Key))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.Thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint() = %s, want %s", got, want)
	}
	if k.KeyID() != "2011-04-29" || k.Algorithm() != "RS256" {
		t.Errorf("kid %q alg %q", k.KeyID(), k.Algorithm())
	}
	// The key declares RS256, which Bulwark never verifies: it is a
	// candidate for nothing.
	for _, alg := range append([]string{"RS256"}, jose.FAPIAlgorithms...) {
		if c := jose.NewKeySet(k).Candidates("", alg); len(c) != 0 {
			t.Errorf("RS256 key is a candidate for %s", alg)
		}
	}
}

// TestParsePrivateJWK checks the server's key loading: round trips for
// every allowed algorithm; public, weak, symmetric and wrongly labelled
// keys refused.
func TestParsePrivateJWK(t *testing.T) {
	f := fixtures()
	for _, alg := range jose.FAPIAlgorithms {
		t.Run("ok/"+alg, func(t *testing.T) {
			k := generate(t, alg)
			b, err := k.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			got, err := jose.ParsePrivateJWK(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.KeyID() != k.KeyID() || got.Algorithm() != alg || got.Public().Thumbprint() != k.Public().Thumbprint() {
				t.Errorf("round trip changed the key")
			}
			pub, err := k.Public().MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(pub), `"d"`) {
				t.Errorf("Public() JSON carries d: %s", pub)
			}
		})
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"fail/public", jwkJSON(t, f.ec.Public(), "k", jose.ES256), errAny},
		{"fail/RS256", jwkJSON(t, f.rsa, "k", "RS256"), errAny},
		{"fail/no_alg", jwkJSON(t, f.ec, "k", ""), errAny},
		{"fail/weak_rsa", jwkJSON(t, f.rsaWeak, "k", jose.PS256), jose.ErrWeakKey},
		{"fail/oct", []byte(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","alg":"HS256"}`), errAny},
		{"fail/not_json", []byte(`{`), errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jose.ParsePrivateJWK(tc.data)
			checkErr(t, "ParsePrivateJWK", err, tc.want)
		})
	}
	if _, err := jose.GenerateKey("HS256"); err == nil {
		t.Error("GenerateKey(HS256) succeeded")
	}
}

// TestCandidates checks that Candidates matches kid exactly and keeps only
// keys whose type, declared alg and use fit.
func TestCandidates(t *testing.T) {
	f := fixtures()
	a := publicKey(t, f.ec, "a", "")
	b := publicKey(t, f.ec2, "b", jose.ES256)
	r := publicKey(t, f.rsa, "a", "")
	set := jose.NewKeySet(a, b, r)
	tests := []struct {
		kid, alg string
		want     []*jose.PublicKey
	}{
		{"a", jose.ES256, []*jose.PublicKey{a}},
		{"a", jose.PS256, []*jose.PublicKey{r}},
		{"", jose.ES256, []*jose.PublicKey{a, b}},
		{"", jose.PS256, []*jose.PublicKey{r}},
		{"A", jose.ES256, nil},
		{"a", jose.EdDSA, nil},
		{"", "RS256", nil},
		{"", "HS256", nil},
		{"", "", nil},
	}
	for _, tc := range tests {
		if got := set.Candidates(tc.kid, tc.alg); !slices.Equal(got, tc.want) {
			t.Errorf("Candidates(%q, %q) = %d keys, want %d", tc.kid, tc.alg, len(got), len(tc.want))
		}
	}
	var nilSet *jose.KeySet
	if nilSet.Len() != 0 || nilSet.Candidates("", jose.ES256) != nil {
		t.Error("nil KeySet is not empty")
	}
	// Keys returns a copy: callers cannot add keys to a shared set.
	keys := set.Keys()
	keys[0] = publicKey(t, f.ec3, "a", "")
	if got := set.Candidates("a", jose.ES256); len(got) != 1 || got[0] != a {
		t.Error("modifying Keys() changed the set")
	}
}

// TestEmbeddedWeakCurveKey: an EC key on a curve below P-256 cannot be
// represented, so it never reaches verification.
func TestEmbeddedWeakCurveKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.Public().(*ecdsa.PublicKey)
	size := (pub.Curve.Params().BitSize + 7) / 8
	x, y := make([]byte, size), make([]byte, size)
	pub.X.FillBytes(x)
	pub.Y.FillBytes(y)
	data := []byte(`{"kty":"EC","crv":"P-224","x":"` + b64(x) + `","y":"` + b64(y) + `"}`)
	if _, err := jose.ParsePublicJWK(data); err == nil {
		t.Fatal("P-224 key accepted")
	}
}
