package jose_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

type parseCase struct {
	name  string
	token string
	algs  []string
	want  error
	// verifyWith, for ok cases, is the key whose signature the token
	// carries: Verify must succeed with it, which shows the token the
	// failing cases were derived from is otherwise genuine.
	verifyWith *jose.PublicKey
}

// parseCases is the Parse table; FuzzParse is seeded from it.
func parseCases(t testing.TB) []parseCase {
	f := fixtures()
	claims := assertionClaims()
	hdr := func(alg string, kv ...any) map[string]any {
		h := map[string]any{"alg": alg}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i].(string)] = kv[i+1]
		}
		return h
	}
	rsaPub := publicKey(t, f.rsa, "", "")
	ecPub := publicKey(t, f.ec, "", "")
	edPub := publicKey(t, f.ed, "", "")

	// The classic key-confusion attack: an HS256 token whose HMAC secret
	// is a public key the attacker can fetch, in every form a server
	// might hold it.
	pubJWK := jwkJSON(t, f.rsa.Public(), "rsa-1", jose.PS256)
	der, err := x509.MarshalPKIXPublicKey(f.ec.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	ok := compact(t, hdr(jose.ES256, "kid", "ec-1"), claims, jose.ES256, f.ec)
	parts := strings.Split(ok, ".")
	large := maps(claims, "pad", strings.Repeat("x", jose.MaxTokenSize))

	privJWK := json.RawMessage(jwkJSON(t, f.ec, "", ""))
	weakJWK := json.RawMessage(jwkJSON(t, f.rsaWeak.Public(), "", ""))
	octJWK := json.RawMessage(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`)

	return []parseCase{
		{name: "ok/PS256", token: compact(t, hdr(jose.PS256), claims, jose.PS256, f.rsa), verifyWith: rsaPub},
		{name: "ok/ES256", token: ok, verifyWith: ecPub},
		{name: "ok/EdDSA", token: compact(t, hdr(jose.EdDSA), claims, jose.EdDSA, f.ed), verifyWith: edPub},
		{name: "ok/ES256_in_caller_list", token: ok, algs: []string{jose.ES256}, verifyWith: ecPub},
		{name: "ok/typ", token: compact(t, hdr(jose.ES256, "typ", "dpop+jwt"), claims, jose.ES256, f.ec), verifyWith: ecPub},
		{name: "ok/embedded_public_jwk", token: compact(t, hdr(jose.ES256, "jwk", json.RawMessage(jwkJSON(t, f.ec.Public(), "", ""))), claims, jose.ES256, f.ec), verifyWith: ecPub},

		{name: "fail/alg_none", token: compact(t, hdr("none"), claims, "", nil), want: jose.ErrAlgorithm},
		{name: "fail/alg_none_caller_list", token: compact(t, hdr("none"), claims, "", nil), algs: []string{"none"}, want: errAny},
		{name: "fail/alg_NONE", token: compact(t, hdr("NONE"), claims, "", nil), want: jose.ErrAlgorithm},
		{name: "fail/alg_none_with_signature", token: compact(t, hdr("none"), claims, jose.ES256, f.ec), want: jose.ErrAlgorithm},
		{name: "fail/HS256_public_jwk_as_secret", token: compact(t, hdr("HS256", "kid", "rsa-1"), claims, "HS256", pubJWK), want: jose.ErrAlgorithm},
		{name: "fail/HS256_public_pem_as_secret", token: compact(t, hdr("HS256"), claims, "HS256", pubPEM), want: jose.ErrAlgorithm},
		{name: "fail/HS256_public_der_as_secret", token: compact(t, hdr("HS256"), claims, "HS256", der), want: jose.ErrAlgorithm},
		{name: "fail/HS256_caller_list", token: compact(t, hdr("HS256"), claims, "HS256", pubJWK), algs: []string{"HS256"}, want: errAny},
		{name: "fail/HS256_caller_list_mixed", token: compact(t, hdr("HS256"), claims, "HS256", pubJWK), algs: []string{jose.ES256, "HS256"}, want: jose.ErrAlgorithm},
		{name: "fail/HS384", token: compact(t, hdr("HS384"), claims, "HS256", pubJWK), want: jose.ErrAlgorithm},
		{name: "fail/RS256", token: compact(t, hdr("RS256"), claims, "RS256", f.rsa), want: jose.ErrAlgorithm},
		{name: "fail/RS256_caller_list", token: compact(t, hdr("RS256"), claims, "RS256", f.rsa), algs: []string{"RS256", jose.PS256}, want: jose.ErrAlgorithm},
		{name: "fail/ES384", token: compact(t, hdr("ES384"), claims, jose.ES256, f.ec), want: jose.ErrAlgorithm},
		{name: "fail/Ed25519_name", token: compact(t, hdr("Ed25519"), claims, jose.EdDSA, f.ed), want: jose.ErrAlgorithm},
		{name: "fail/alg_unknown", token: compact(t, hdr("XS256"), claims, jose.ES256, f.ec), want: jose.ErrAlgorithm},
		{name: "fail/alg_lowercase", token: compact(t, hdr("es256"), claims, jose.ES256, f.ec), want: jose.ErrAlgorithm},
		{name: "fail/alg_empty", token: compact(t, hdr(""), claims, jose.ES256, f.ec), want: jose.ErrAlgorithm},
		{name: "fail/alg_missing", token: compact(t, map[string]any{"kid": "ec-1"}, claims, jose.ES256, f.ec), want: jose.ErrAlgorithm},
		{name: "fail/alg_not_string", token: compact(t, map[string]any{"alg": 256}, claims, jose.ES256, f.ec), want: errAny},
		{name: "fail/alg_array", token: compact(t, map[string]any{"alg": []string{jose.ES256}}, claims, jose.ES256, f.ec), want: errAny},
		{name: "fail/ES256_not_in_caller_list", token: ok, algs: []string{jose.PS256}, want: jose.ErrAlgorithm},
		{name: "fail/empty_caller_list", token: ok, algs: []string{}, want: errAny},

		{name: "fail/empty", token: "", want: jose.ErrMalformed},
		{name: "fail/two_parts", token: parts[0] + "." + parts[1], want: jose.ErrMalformed},
		{name: "fail/four_parts", token: ok + ".", want: jose.ErrMalformed},
		{name: "fail/too_large", token: compact(t, hdr(jose.ES256), large, jose.ES256, f.ec), want: jose.ErrMalformed},
		{name: "fail/header_not_base64", token: "!!!." + parts[1] + "." + parts[2], want: jose.ErrMalformed},
		{name: "fail/header_padded_base64", token: parts[0] + "==." + parts[1] + "." + parts[2], want: errAny},
		{name: "fail/header_not_json", token: b64([]byte("not json")) + "." + parts[1] + "." + parts[2], want: jose.ErrMalformed},
		{name: "fail/signature_not_base64", token: parts[0] + "." + parts[1] + ".***", want: jose.ErrMalformed},
		{name: "fail/json_serialization", token: `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, want: jose.ErrMalformed},
		{name: "fail/typ_not_string", token: compact(t, hdr(jose.ES256, "typ", 1), claims, jose.ES256, f.ec), want: jose.ErrMalformed},
		// RFC 9449 §4.3 check 7: the jwk header must not contain a private key.
		{name: "fail/embedded_private_jwk", token: compact(t, hdr(jose.ES256, "jwk", privJWK), claims, jose.ES256, f.ec), want: errAny},
		{name: "fail/embedded_symmetric_jwk", token: compact(t, hdr(jose.ES256, "jwk", octJWK), claims, jose.ES256, f.ec), want: errAny},
		{name: "fail/embedded_weak_rsa_jwk", token: compact(t, hdr(jose.PS256, "jwk", weakJWK), claims, jose.PS256, f.rsaWeak), want: jose.ErrMalformed},
	}
}

// maps returns a copy of m with the extra key/value pairs.
func maps(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// TestParse checks the algorithm allow-list and shape checks: only PS256,
// ES256 and EdDSA pass, whatever the caller or the token asks for.
func TestParse(t *testing.T) {
	for _, tc := range parseCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := jose.Parse(tc.token, tc.algs)
			checkErr(t, "Parse", err, tc.want)
			if err != nil {
				if tok != nil {
					t.Errorf("Parse returned a token with its error")
				}
				return
			}
			if !slices.Contains(jose.FAPIAlgorithms, tok.Header.Algorithm) {
				t.Fatalf("accepted alg %q", tok.Header.Algorithm)
			}
			if tok.Header.HasPrivateJWK {
				t.Fatal("accepted a private embedded jwk")
			}
			if tc.verifyWith != nil {
				var c jose.Claims
				if err := tok.Verify(tc.verifyWith, &c); err != nil {
					t.Fatalf("Verify with the signing key: %v", err)
				}
				if c.Subject != "client-1" {
					t.Errorf("sub = %q", c.Subject)
				}
			}
		})
	}
}

// FuzzParse: arbitrary strings never panic Parse, Verify or VerifySet, and
// whatever Parse accepts carries an allowed algorithm. A caller's list can
// only narrow the allow-list, never widen it.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases(f) {
		f.Add(tc.token)
	}
	fx := fixtures()
	ecPub := publicKey(f, fx.ec, "ec-1", "")
	set := jose.NewKeySet(ecPub, publicKey(f, fx.rsa, "rsa-1", ""), publicKey(f, fx.ed, "", ""))
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := jose.Parse(token, nil)
		if err == nil {
			if !slices.Contains(jose.FAPIAlgorithms, tok.Header.Algorithm) {
				t.Fatalf("Parse accepted alg %q", tok.Header.Algorithm)
			}
			var c jose.Claims
			_ = tok.UnverifiedClaims(&c)
			_ = tok.Verify(ecPub, &c)
			_, _ = tok.VerifySet(set, &c)
			if tok.Header.JWK != nil {
				_ = tok.Verify(tok.Header.JWK, &c)
				_ = tok.Header.JWK.Thumbprint()
			}
		} else if !errors.Is(err, jose.ErrMalformed) && !errors.Is(err, jose.ErrAlgorithm) {
			t.Fatalf("Parse error %v wraps neither ErrMalformed nor ErrAlgorithm", err)
		}
		if tok, err := jose.Parse(token, []string{"none", "HS256", "RS256", "ES384"}); err == nil {
			t.Fatalf("Parse with a list of disallowed algs accepted alg %q", tok.Header.Algorithm)
		}
	})
}

// TestVerify checks signatures: tampering with any part, the wrong key, and
// a key of the wrong type or declared alg or use all fail.
func TestVerify(t *testing.T) {
	f := fixtures()
	claims := assertionClaims()
	es := compact(t, map[string]any{"alg": jose.ES256}, claims, jose.ES256, f.ec)
	ps := compact(t, map[string]any{"alg": jose.PS256}, claims, jose.PS256, f.rsa)
	ed := compact(t, map[string]any{"alg": jose.EdDSA}, claims, jose.EdDSA, f.ed)
	p := strings.Split(es, ".")
	otherPayload := b64(mustJSON(t, maps(claims, "sub", "admin")))
	otherHeader := b64(mustJSON(t, map[string]any{"alg": jose.ES256, "kid": "x"}))
	sig := []byte(p[2])
	// Swap one character for another base64url character: the signature
	// still decodes but no longer verifies. (Flipping a bit of the
	// character could leave the alphabet, 'A' → '@', and test the wrong
	// thing.)
	if sig[5] == 'A' {
		sig[5] = 'B'
	} else {
		sig[5] = 'A'
	}
	edParts := strings.Split(ed, ".")
	weak := compact(t, map[string]any{"alg": jose.PS256}, claims, jose.PS256, f.rsaWeak)
	// RFC 7515 §4.1.11: a crit extension the recipient does not understand
	// makes the JWS invalid, however good its signature.
	crit := compact(t, map[string]any{"alg": jose.ES256, "crit": []string{"exp"}, "exp": 1}, claims, jose.ES256, f.ec)

	ecPub := publicKey(t, f.ec, "", "")
	rsaPub := publicKey(t, f.rsa, "", "")
	edPub := publicKey(t, f.ed, "", "")
	encUse, err := jose.ParsePublicJWK([]byte(strings.Replace(string(jwkJSON(t, f.ec.Public(), "", "")), `"use":"sig"`, `"use":"enc"`, 1)))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
		key   *jose.PublicKey
		want  error
	}{
		{"ok/ES256", es, ecPub, nil},
		{"ok/PS256", ps, rsaPub, nil},
		{"ok/EdDSA", ed, edPub, nil},
		{"fail/wrong_key_same_type", es, publicKey(t, f.ec2, "", ""), jose.ErrSignature},
		{"fail/wrong_key_PS256", ps, publicKey(t, f.rsa2, "", ""), jose.ErrSignature},
		{"fail/wrong_key_EdDSA", ed, publicKey(t, f.ed2, "", ""), jose.ErrSignature},
		{"fail/tampered_payload", p[0] + "." + otherPayload + "." + p[2], ecPub, jose.ErrSignature},
		{"fail/tampered_header", otherHeader + "." + p[1] + "." + p[2], ecPub, jose.ErrSignature},
		{"fail/tampered_signature", p[0] + "." + p[1] + "." + string(sig), ecPub, jose.ErrSignature},
		{"fail/truncated_signature", p[0] + "." + p[1] + "." + p[2][:40], ecPub, jose.ErrSignature},
		{"fail/empty_signature", p[0] + "." + p[1] + ".", ecPub, jose.ErrSignature},
		{"fail/signature_from_other_token", p[0] + "." + p[1] + "." + edParts[2], ecPub, jose.ErrSignature},
		{"fail/nil_key", es, nil, jose.ErrNoKey},
		{"fail/RSA_key_for_ES256", es, rsaPub, jose.ErrNoKey},
		{"fail/EC_key_for_PS256", ps, ecPub, jose.ErrNoKey},
		{"fail/RSA_key_for_EdDSA", ed, rsaPub, jose.ErrNoKey},
		{"fail/EC_key_for_EdDSA", ed, ecPub, jose.ErrNoKey},
		{"fail/key_alg_mismatch", es, publicKey(t, f.ec, "", jose.PS256), jose.ErrNoKey},
		{"fail/key_use_enc", es, encUse, jose.ErrNoKey},
		{"fail/P384_key_for_ES256", es, publicKey(t, f.ec384, "", ""), jose.ErrNoKey},
		{"fail/crit_unknown", crit, ecPub, jose.ErrSignature},
		// Parse accepts the token; the key cannot be built: the weak key is
		// refused at parse time, so nothing can verify this signature.
		{"fail/weak_key_token", weak, rsaPub, jose.ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := jose.Parse(tc.token, nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var c jose.Claims
			checkErr(t, "Verify", tok.Verify(tc.key, &c), tc.want)
			if tc.want == nil && c.Issuer != "client-1" {
				t.Errorf("iss = %q after Verify", c.Issuer)
			}
		})
	}
}

// TestVerifyClaims checks that claims decode case-sensitively and that a
// verified payload that is not a claims object is malformed.
func TestVerifyClaims(t *testing.T) {
	f := fixtures()
	key := publicKey(t, f.ec, "", "")
	tests := []struct {
		name    string
		payload any
		want    jose.Claims
		wantErr error
	}{
		{"ok/registered", map[string]any{"iss": "a", "sub": "b", "jti": "c", "exp": 1.5}, jose.Claims{Issuer: "a", Subject: "b", ID: "c", Expiry: date(1.5)}, nil},
		{"ok/names_case_sensitive", map[string]any{"ISS": "a", "Sub": "b", "EXP": 1}, jose.Claims{}, nil},
		{"ok/aud_string", map[string]any{"aud": "x"}, jose.Claims{Audience: &jose.Audience{Values: []string{"x"}, Single: true}}, nil},
		{"fail/not_json", []byte("not json"), jose.Claims{}, jose.ErrMalformed},
		{"fail/array", []any{1}, jose.Claims{}, jose.ErrMalformed},
		{"fail/exp_string", map[string]any{"exp": "1700000000"}, jose.Claims{}, jose.ErrMalformed},
		{"fail/exp_overflow", []byte(`{"exp":1e400}`), jose.Claims{}, jose.ErrMalformed},
		{"fail/aud_number", map[string]any{"aud": 1}, jose.Claims{}, jose.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := jose.Parse(compact(t, map[string]any{"alg": jose.ES256}, tc.payload, jose.ES256, f.ec), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got jose.Claims
			checkErr(t, "Verify", tok.Verify(key, &got), tc.wantErr)
			if tc.wantErr != nil {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			var unverified jose.Claims
			if err := tok.UnverifiedClaims(&unverified); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, unverified); diff != "" {
				t.Errorf("UnverifiedClaims differs from verified (-verified +unverified):\n%s", diff)
			}
		})
	}
}

func date(sec float64) *jose.NumericDate {
	d := jose.NumericDate(sec)
	return &d
}

// TestVerifySet checks key selection: a kid selects only keys with that kid
// (several keys sharing a kid are told apart by type and alg), no kid tries
// every compatible key, and an unknown kid never falls back to other keys.
func TestVerifySet(t *testing.T) {
	f := fixtures()
	claims := assertionClaims()
	a := publicKey(t, f.ec, "a", "")
	b := publicKey(t, f.ec2, "b", jose.ES256)
	rsaA := publicKey(t, f.rsa, "a", jose.PS256)
	edNoKID := publicKey(t, f.ed, "", "")
	set := jose.NewKeySet(a, b, rsaA, edNoKID)

	tok := func(alg, kid string, key any) string {
		h := map[string]any{"alg": alg}
		if kid != "" {
			h["kid"] = kid
		}
		return compact(t, h, claims, alg, key)
	}
	tests := []struct {
		name  string
		token string
		set   *jose.KeySet
		want  *jose.PublicKey
		err   error
	}{
		{"ok/kid_a", tok(jose.ES256, "a", f.ec), set, a, nil},
		{"ok/kid_b", tok(jose.ES256, "b", f.ec2), set, b, nil},
		{"ok/shared_kid_type_decides", tok(jose.PS256, "a", f.rsa), set, rsaA, nil},
		{"ok/no_kid_tries_compatible", tok(jose.ES256, "", f.ec2), set, b, nil},
		{"ok/no_kid_EdDSA", tok(jose.EdDSA, "", f.ed), set, edNoKID, nil},
		{"fail/kid_b_signed_by_a", tok(jose.ES256, "b", f.ec), set, nil, jose.ErrSignature},
		{"fail/unknown_kid_no_fallback", tok(jose.ES256, "c", f.ec), set, nil, jose.ErrNoKey},
		{"fail/kid_of_keyless_alg", tok(jose.EdDSA, "a", f.ed), set, nil, jose.ErrNoKey},
		{"fail/no_kid_unknown_signer", tok(jose.ES256, "", f.ec3), set, nil, jose.ErrSignature},
		{"fail/empty_set", tok(jose.ES256, "a", f.ec), jose.NewKeySet(), nil, jose.ErrNoKey},
		{"fail/nil_set", tok(jose.ES256, "a", f.ec), nil, nil, jose.ErrNoKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jwt, err := jose.Parse(tc.token, nil)
			if err != nil {
				t.Fatal(err)
			}
			var c jose.Claims
			got, err := jwt.VerifySet(tc.set, &c)
			checkErr(t, "VerifySet", err, tc.err)
			if got != tc.want {
				t.Errorf("VerifySet chose key %v, want %v", keyID(got), keyID(tc.want))
			}
		})
	}
}

func keyID(k *jose.PublicKey) string {
	if k == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q (%s)", k.KeyID(), k.Thumbprint())
}

// TestValidateTimes checks TimeRules as the client assertion and access
// token paths use them: exp required, iat and nbf up to FutureSkew ahead,
// exp up to ExpLeeway behind, MaxAge and MaxLifetime bounds, each at and
// just past its boundary.
func TestValidateTimes(t *testing.T) {
	at := func(d time.Duration) *jose.NumericDate {
		v := jose.NumericDate(float64(testNow.Unix()) + d.Seconds())
		return &v
	}
	// The client assertion rules (clients.checkAssertion).
	assertion := jose.TimeRules{RequireExp: true, FutureSkew: 10 * time.Second, ExpLeeway: 5 * time.Second, MaxAge: 5 * time.Minute, MaxLifetime: 5 * time.Minute}
	// The access token rules (token.verifyAccess).
	access := jose.TimeRules{RequireExp: true}
	minute := time.Minute
	tests := []struct {
		name   string
		claims jose.Claims
		rules  jose.TimeRules
		want   error
	}{
		{"ok/assertion", jose.Claims{IssuedAt: at(0), Expiry: at(minute)}, assertion, nil},
		{"ok/no_rules_no_times", jose.Claims{}, jose.TimeRules{}, nil},
		{"fail/exp_missing", jose.Claims{IssuedAt: at(0)}, assertion, jose.ErrMissingClaim},
		{"fail/exp_missing_access", jose.Claims{}, access, jose.ErrMissingClaim},
		{"ok/exp_missing_not_required", jose.Claims{IssuedAt: at(0)}, jose.TimeRules{FutureSkew: 10 * time.Second}, nil},
		{"fail/iat_missing_required", jose.Claims{Expiry: at(minute)}, jose.TimeRules{RequireIat: true}, jose.ErrMissingClaim},
		{"ok/iat_missing_not_required", jose.Claims{Expiry: at(minute)}, assertion, nil},

		{"ok/iat_10s_future", jose.Claims{IssuedAt: at(10 * time.Second), Expiry: at(minute)}, assertion, nil},
		{"fail/iat_10.5s_future", jose.Claims{IssuedAt: at(10500 * time.Millisecond), Expiry: at(minute)}, assertion, jose.ErrNotYetValid},
		{"fail/iat_11s_future", jose.Claims{IssuedAt: at(11 * time.Second), Expiry: at(minute)}, assertion, jose.ErrNotYetValid},
		{"fail/iat_61s_future", jose.Claims{IssuedAt: at(61 * time.Second), Expiry: at(2 * minute)}, assertion, jose.ErrNotYetValid},
		{"fail/iat_1s_future_no_skew", jose.Claims{IssuedAt: at(time.Second), Expiry: at(minute)}, access, jose.ErrNotYetValid},
		{"ok/nbf_10s_future", jose.Claims{NotBefore: at(10 * time.Second), IssuedAt: at(0), Expiry: at(minute)}, assertion, nil},
		{"fail/nbf_11s_future", jose.Claims{NotBefore: at(11 * time.Second), IssuedAt: at(0), Expiry: at(minute)}, assertion, jose.ErrNotYetValid},
		{"fail/nbf_1s_future_no_skew", jose.Claims{NotBefore: at(time.Second), Expiry: at(minute)}, access, jose.ErrNotYetValid},
		{"ok/nbf_past", jose.Claims{NotBefore: at(-time.Hour), Expiry: at(minute)}, access, nil},

		{"fail/exp_now", jose.Claims{Expiry: at(0)}, access, jose.ErrExpired},
		{"ok/exp_1s", jose.Claims{Expiry: at(time.Second)}, access, nil},
		{"fail/exp_past", jose.Claims{Expiry: at(-time.Second)}, access, jose.ErrExpired},
		{"ok/exp_within_leeway", jose.Claims{IssuedAt: at(-minute), Expiry: at(-4 * time.Second)}, assertion, nil},
		{"fail/exp_at_leeway", jose.Claims{IssuedAt: at(-minute), Expiry: at(-5 * time.Second)}, assertion, jose.ErrExpired},

		{"ok/iat_at_max_age", jose.Claims{IssuedAt: at(-5 * minute), Expiry: at(minute)}, assertion, nil},
		{"fail/iat_too_old", jose.Claims{IssuedAt: at(-5*minute - time.Second), Expiry: at(minute)}, assertion, jose.ErrExpired},
		{"ok/iat_old_no_max_age", jose.Claims{IssuedAt: at(-24 * time.Hour), Expiry: at(minute)}, access, nil},
		{"ok/exp_at_max_lifetime", jose.Claims{IssuedAt: at(0), Expiry: at(5*minute + 10*time.Second)}, assertion, nil},
		{"fail/exp_beyond_max_lifetime", jose.Claims{IssuedAt: at(0), Expiry: at(5*minute + 11*time.Second)}, assertion, jose.ErrNotYetValid},
		{"ok/exp_far_no_max_lifetime", jose.Claims{Expiry: at(24 * 365 * time.Hour)}, access, nil},

		// Times beyond what time.Time holds must not wrap into the past.
		{"fail/nbf_absurd_future", jose.Claims{NotBefore: date(1e19), Expiry: at(minute)}, access, jose.ErrNotYetValid},
		{"fail/nbf_max_float", jose.Claims{NotBefore: date(math.MaxFloat64), Expiry: at(minute)}, access, jose.ErrNotYetValid},
		{"fail/iat_absurd_future", jose.Claims{IssuedAt: date(1e300), Expiry: at(minute)}, access, jose.ErrNotYetValid},
		{"fail/iat_near_int64_max", jose.Claims{IssuedAt: date(9.2e18), Expiry: at(minute)}, access, jose.ErrNotYetValid},
		{"fail/exp_absurd_past", jose.Claims{Expiry: date(-1e300)}, access, jose.ErrExpired},
		{"fail/exp_absurd_future_max_lifetime", jose.Claims{IssuedAt: at(0), Expiry: date(1e19)}, assertion, jose.ErrNotYetValid},
		{"ok/exp_absurd_future", jose.Claims{Expiry: date(1e300)}, access, nil},
		{"fail/iat_absurd_past_max_age", jose.Claims{IssuedAt: date(-1e19), Expiry: at(minute)}, assertion, jose.ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, "ValidateTimes", tc.claims.ValidateTimes(testNow, tc.rules), tc.want)
		})
	}
}

func TestNumericDate(t *testing.T) {
	tests := []struct {
		name string
		in   jose.NumericDate
		want time.Time
	}{
		{"whole", 1_700_000_000, time.Unix(1_700_000_000, 0)},
		{"fraction", 1_700_000_000.25, time.Unix(1_700_000_000, 250_000_000)},
		{"epoch", 0, time.Unix(0, 0)},
		{"negative", -1, time.Unix(-1, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.Time(); !got.Equal(tc.want) {
				t.Errorf("Time() = %v, want %v", got, tc.want)
			}
		})
	}
	if got := *jose.NewNumericDate(time.Unix(5, 999_999_999)); got != 5 {
		t.Errorf("NewNumericDate truncation = %v, want 5", got)
	}
	// Saturation keeps the order of absurd values.
	if !date(1e300).Time().After(date(1e12).Time()) || !date(-1e300).Time().Before(date(-1e12).Time()) {
		t.Error("absurd NumericDates do not saturate in order")
	}
}

type audienceCase struct {
	name string
	in   string
	want jose.Audience
	err  bool
}

var audienceCases = []audienceCase{
	{"ok/string", `"https://as.example"`, jose.Audience{Values: []string{"https://as.example"}, Single: true}, false},
	{"ok/array_one", `["https://as.example"]`, jose.Audience{Values: []string{"https://as.example"}}, false},
	{"ok/array_two", `["a","b"]`, jose.Audience{Values: []string{"a", "b"}}, false},
	{"ok/array_empty", `[]`, jose.Audience{Values: []string{}}, false},
	{"fail/number", `1`, jose.Audience{}, true},
	{"fail/object", `{"aud":"a"}`, jose.Audience{}, true},
	{"fail/array_of_numbers", `[1]`, jose.Audience{}, true},
	{"fail/nested_array", `[["a"]]`, jose.Audience{}, true},
	{"fail/bool", `true`, jose.Audience{}, true},
	{"fail/not_json", `"a`, jose.Audience{}, true},
}

// TestAudience checks aud decoding: a string and an array are both accepted
// but only the string form is Single (FAPI 2.0 SP §5.3.2.1-8).
func TestAudience(t *testing.T) {
	for _, tc := range audienceCases {
		t.Run(tc.name, func(t *testing.T) {
			var got jose.Audience
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.err {
				if err == nil {
					t.Fatalf("accepted %s as %+v", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, v := range tc.want.Values {
				if !got.Contains(v) {
					t.Errorf("Contains(%q) = false", v)
				}
			}
			if got.Contains("https://evil.example") || got.Contains("") {
				t.Error("Contains accepted a value not in the audience")
			}
		})
	}
}

func TestAudienceMarshal(t *testing.T) {
	tests := []struct {
		in   jose.Audience
		want string
	}{
		{jose.Audience{Values: []string{"a"}, Single: true}, `"a"`},
		{jose.Audience{Values: []string{"a"}}, `"a"`},
		{jose.Audience{Values: []string{"a", "b"}}, `["a","b"]`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("Marshal(%v) = %s, want %s", tc.in.Values, b, tc.want)
		}
	}
}

// FuzzAudience: arbitrary JSON never panics the aud decoder; whatever it
// accepts re-encodes to JSON that decodes to the same values.
func FuzzAudience(f *testing.F) {
	for _, tc := range audienceCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a jose.Audience
		if err := json.Unmarshal(data, &a); err != nil {
			return
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var back jose.Audience
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		if len(a.Values) > 0 && !slices.Equal(a.Values, back.Values) {
			t.Fatalf("round trip %q -> %s -> %q", a.Values, b, back.Values)
		}
	})
}

// TestSigner checks that the signer picks the first key per algorithm,
// writes kid and typ, refuses algorithms it has no key for, and produces
// tokens that Parse and VerifySet accept.
func TestSigner(t *testing.T) {
	es, ps, ed := generate(t, jose.ES256), generate(t, jose.PS256), generate(t, jose.EdDSA)
	esLater := generate(t, jose.ES256)
	s := jose.NewSigner(es, ps, ed, esLater)
	if got, want := s.Algorithms(), []string{jose.ES256, jose.EdDSA, jose.PS256}; !slices.Equal(got, want) {
		t.Fatalf("Algorithms() = %v, want %v", got, want)
	}
	set := jose.NewKeySet(es.Public(), ps.Public(), ed.Public(), esLater.Public())
	claims := jose.Claims{Issuer: "https://as.example", Subject: "alice", ID: "id-1", Expiry: jose.NewNumericDate(testNow.Add(time.Minute))}
	tests := []struct {
		name string
		alg  string
		typ  string
		key  *jose.PrivateKey
	}{
		{"ok/ES256_at+jwt", jose.ES256, "at+jwt", es},
		{"ok/ES256_no_typ", jose.ES256, "", es},
		{"ok/PS256_JWT", jose.PS256, "JWT", ps},
		{"ok/EdDSA", jose.EdDSA, "at+jwt", ed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := s.Sign(tc.alg, tc.typ, claims)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jose.Parse(raw, []string{tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			if tok.Header.Algorithm != tc.alg || tok.Header.KeyID != tc.key.KeyID() || tok.Header.Type != tc.typ {
				t.Errorf("header = alg %q kid %q typ %q, want %q %q %q", tok.Header.Algorithm, tok.Header.KeyID, tok.Header.Type, tc.alg, tc.key.KeyID(), tc.typ)
			}
			if _, ok := tok.Header.Extra["typ"]; ok != (tc.typ != "") {
				t.Errorf("typ header present = %v, want %v", ok, tc.typ != "")
			}
			var got jose.Claims
			k, err := tok.VerifySet(set, &got)
			if err != nil {
				t.Fatal(err)
			}
			if k.KeyID() != tc.key.KeyID() {
				t.Errorf("verified with %q, want %q", k.KeyID(), tc.key.KeyID())
			}
			if diff := cmp.Diff(claims, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			// Verification with another key of the same alg fails.
			if tc.alg == jose.ES256 {
				if err := tok.Verify(esLater.Public(), &got); !errors.Is(err, jose.ErrSignature) {
					t.Errorf("Verify with the inactive ES256 key = %v, want ErrSignature", err)
				}
			}
		})
	}
	for _, alg := range []string{"HS256", "RS256", "none", ""} {
		if tok, err := s.Sign(alg, "", claims); err == nil {
			t.Errorf("Sign(%q) = %s, want an error", alg, tok)
		}
	}
	if _, err := jose.NewSigner().Sign(jose.ES256, "", claims); err == nil {
		t.Error("empty signer signed a token")
	}
	if _, err := s.Sign(jose.ES256, "", func() {}); err == nil {
		t.Error("Sign encoded unencodable claims")
	}
}

// TestSignerSharedKID: the signer caches go-jose signers; two active keys
// that share a kid (an operator may name keys) must still each sign with
// their own algorithm.
func TestSignerSharedKID(t *testing.T) {
	es := withKID(t, generate(t, jose.ES256), "main")
	ed := withKID(t, generate(t, jose.EdDSA), "main")
	s := jose.NewSigner(es, ed)
	for range 2 {
		for _, alg := range []string{jose.ES256, jose.EdDSA} {
			raw, err := s.Sign(alg, "at+jwt", jose.Claims{Subject: "x"})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jose.Parse(raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Header.Algorithm != alg {
				t.Fatalf("Sign(%s) produced a %s token", alg, tok.Header.Algorithm)
			}
		}
	}
}

func TestSignerConcurrent(t *testing.T) {
	es := generate(t, jose.ES256)
	s := jose.NewSigner(es)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			raw, err := s.Sign(jose.ES256, []string{"at+jwt", "JWT", ""}[i%3], jose.Claims{ID: fmt.Sprint(i)})
			if err == nil {
				var tok *jose.JWT
				if tok, err = jose.Parse(raw, nil); err == nil {
					var c jose.Claims
					if err = tok.Verify(es.Public(), &c); err == nil && c.ID != fmt.Sprint(i) {
						err = fmt.Errorf("jti %q, want %d", c.ID, i)
					}
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestSignWithKey checks client-side signing: with embedJWK the header
// carries the public key only (RFC 9449 §4.2) and no kid; without it, the
// kid.
func TestSignWithKey(t *testing.T) {
	for _, alg := range jose.FAPIAlgorithms {
		k := generate(t, alg)
		for _, embed := range []bool{false, true} {
			t.Run(fmt.Sprintf("ok/%s/embed=%v", alg, embed), func(t *testing.T) {
				raw, err := jose.SignWithKey(k, "dpop+jwt", embed, assertionClaims())
				if err != nil {
					t.Fatal(err)
				}
				var hdr map[string]json.RawMessage
				if err := json.Unmarshal(decodeSegment(t, raw, 0), &hdr); err != nil {
					t.Fatal(err)
				}
				tok, err := jose.Parse(raw, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tok.Header.Algorithm != alg || tok.Header.Type != "dpop+jwt" {
					t.Errorf("alg %q typ %q", tok.Header.Algorithm, tok.Header.Type)
				}
				var c jose.Claims
				if !embed {
					if tok.Header.JWK != nil || hdr["jwk"] != nil {
						t.Error("jwk embedded without embedJWK")
					}
					if tok.Header.KeyID != k.KeyID() {
						t.Errorf("kid = %q, want %q", tok.Header.KeyID, k.KeyID())
					}
					if err := tok.Verify(k.Public(), &c); err != nil {
						t.Fatal(err)
					}
					return
				}
				if tok.Header.JWK == nil || tok.Header.HasPrivateJWK {
					t.Fatalf("JWK = %v, HasPrivateJWK = %v", tok.Header.JWK, tok.Header.HasPrivateJWK)
				}
				if _, ok := hdr["kid"]; ok {
					t.Error("kid header alongside embedded jwk")
				}
				var jwk map[string]any
				if err := json.Unmarshal(hdr["jwk"], &jwk); err != nil {
					t.Fatal(err)
				}
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
					if _, ok := jwk[private]; ok {
						t.Errorf("embedded jwk has private member %q", private)
					}
				}
				if _, ok := jwk["kid"]; ok {
					t.Error("embedded jwk carries kid")
				}
				if got, want := tok.Header.JWK.Thumbprint(), k.Public().Thumbprint(); got != want {
					t.Errorf("embedded thumbprint %s, want %s", got, want)
				}
				if err := tok.Verify(tok.Header.JWK, &c); err != nil {
					t.Fatal(err)
				}
				if c.ID != "jti-1" {
					t.Errorf("jti = %q", c.ID)
				}
			})
		}
	}
}

func decodeSegment(t *testing.T, token string, i int) []byte {
	t.Helper()
	b, err := b64Decode(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func BenchmarkParseVerifyES256(b *testing.B) {
	k, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		b.Fatal(err)
	}
	set := jose.NewKeySet(k.Public())
	raw, err := jose.NewSigner(k).Sign(jose.ES256, "at+jwt", jose.Claims{Subject: "alice"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		tok, err := jose.Parse(raw, nil)
		if err != nil {
			b.Fatal(err)
		}
		var c jose.Claims
		if _, err := tok.VerifySet(set, &c); err != nil {
			b.Fatal(err)
		}
	}
}
