package dpop_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

const (
	tokenURL    = "https://as.example/token"
	resourceURL = "https://rs.example/api/items"
	accessToken = "at-0123456789"
)

// now is the fixed clock of every table test.
var now = time.Unix(1_800_000_000, 0)

var nonceSecret = []byte("0123456789abcdef0123456789abcdef")

func newNonces() *dpop.Nonces {
	n := dpop.NewNonces(nonceSecret, time.Minute)
	n.Now = func() time.Time { return now }
	return n
}

func newVerifier(r dpop.Replay) *dpop.Verifier {
	return &dpop.Verifier{Replay: r, Nonces: newNonces(), Now: func() time.Time { return now }}
}

// proofSpec describes a hand-built proof: the default is a valid ES256
// proof for POST tokenURL at now, and each case edits a copy.
type proofSpec struct {
	alg    string // signing algorithm (default: header alg)
	key    crypto.Signer
	header map[string]any
	claims map[string]any
}

func defaultSpec() proofSpec {
	k := testKeys().ec
	return proofSpec{
		key:    k,
		header: map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwkOf(k)},
		claims: map[string]any{"jti": "jti-" + b64([]byte(time.Now().String())), "htm": "POST", "htu": tokenURL, "iat": now.Unix()},
	}
}

func (s proofSpec) build() string {
	alg := s.alg
	if alg == "" {
		alg, _ = s.header["alg"].(string)
	}
	return sign(alg, s.key, s.header, s.claims)
}

type verifyCase struct {
	name string
	// edit changes the default proof; nil keeps it.
	edit func(s *proofSpec)
	// proofs, when set, replaces the DPoP header values built from edit.
	proofs func(good string) []string
	// req changes the default request (POST tokenURL, no token, NonceOff).
	req  func(r *dpop.Request)
	want error  // sentinel; nil for ok/ cases
	code string // expected oauth code; empty means invalid_dpop_proof
}

func withKey(alg string, key crypto.Signer) func(*proofSpec) {
	return func(s *proofSpec) {
		s.key = key
		s.header["alg"] = alg
		s.header["jwk"] = jwkOf(key)
	}
}

func atResource(r *dpop.Request) {
	r.Method, r.URL, r.AccessToken = "GET", resourceURL, accessToken
}

func resourceClaims(s *proofSpec) {
	s.claims["htm"], s.claims["htu"] = "GET", resourceURL
	s.claims["ath"] = dpop.AccessTokenHash(accessToken)
}

func verifyCases() []verifyCase {
	k := testKeys()
	nonce := newNonces().Current()
	return []verifyCase{
		{name: "ok/es256"},
		{name: "ok/eddsa", edit: withKey("EdDSA", k.ed)},
		{name: "ok/ps256", edit: withKey("PS256", k.rsa)},
		{name: "ok/extra header and claim members", edit: func(s *proofSpec) {
			s.header["kid"] = "k1"
			s.header["x-extra"] = map[string]any{"a": 1}
			s.claims["nbf"] = now.Unix()
			s.claims["exp"] = now.Add(5 * time.Minute).Unix()
			s.claims["x-extra"] = []int{1, 2}
		}},
		{name: "ok/htu with query and fragment", edit: func(s *proofSpec) { s.claims["htu"] = tokenURL + "?a=b#f" }},
		{name: "ok/request URL query not in htu", req: func(r *dpop.Request) { r.URL = tokenURL + "?x=1" }},
		{name: "ok/htu upper-case scheme and host", edit: func(s *proofSpec) { s.claims["htu"] = "HTTPS://AS.Example/token" }},
		{name: "ok/htu default port", edit: func(s *proofSpec) { s.claims["htu"] = "https://as.example:443/token" }},
		{name: "ok/htu dot segment and encoded unreserved", edit: func(s *proofSpec) { s.claims["htu"] = "https://as.example/x/../%74oken" }},
		{name: "ok/iat at max age", edit: func(s *proofSpec) { s.claims["iat"] = now.Add(-60 * time.Second).Unix() }},
		{name: "ok/iat at max future", edit: func(s *proofSpec) { s.claims["iat"] = now.Add(10 * time.Second).Unix() }},
		{name: "ok/fractional iat", edit: func(s *proofSpec) { s.claims["iat"] = float64(now.Unix()) + 0.5 }},
		{name: "ok/ath at resource", edit: resourceClaims, req: atResource},
		{name: "ok/nonce required and current", edit: func(s *proofSpec) { s.claims["nonce"] = nonce },
			req: func(r *dpop.Request) { r.Nonce = dpop.NonceRequired }},
		{name: "ok/nonce optional and absent", req: func(r *dpop.Request) { r.Nonce = dpop.NonceOptional }},
		{name: "ok/nonce off ignores nonce claim", edit: func(s *proofSpec) { s.claims["nonce"] = "whatever" }},

		// RFC 9449 §4.3 item 1.
		{name: "fail/no proof", proofs: func(string) []string { return nil }, want: dpop.ErrMissing},
		{name: "fail/two headers", proofs: func(g string) []string { return []string{g, g} }, want: dpop.ErrMultiple},
		{name: "fail/comma-joined proofs", proofs: func(g string) []string { return []string{g + ", " + g} }, want: dpop.ErrMultiple},
		// Item 2.
		{name: "fail/empty value", proofs: func(string) []string { return []string{""} }, want: dpop.ErrMalformed},
		{name: "fail/not a jwt", proofs: func(string) []string { return []string{"not.a.jwt"} }, want: dpop.ErrMalformed},
		{name: "fail/two parts", proofs: func(g string) []string { return []string{g[:strings.LastIndexByte(g, '.')]} }, want: dpop.ErrMalformed},
		{name: "fail/four parts", proofs: func(g string) []string { return []string{g + ".x"} }, want: dpop.ErrMalformed},
		{name: "fail/too large", proofs: func(g string) []string { return []string{g + strings.Repeat("A", dpop.MaxProofSize)} }, want: dpop.ErrMalformed},
		{name: "fail/header not json", proofs: func(g string) []string { return []string{b64([]byte("{")) + g[strings.IndexByte(g, '.'):]} }, want: dpop.ErrMalformed},
		{name: "fail/claims not json", proofs: func(g string) []string {
			p := strings.Split(g, ".")
			return []string{p[0] + "." + b64([]byte("[]")) + "." + p[2]}
		}, want: dpop.ErrMalformed},
		{name: "fail/iat not a number", edit: func(s *proofSpec) { s.claims["iat"] = "now" }, want: dpop.ErrMalformed},
		{name: "fail/bad signature encoding", proofs: func(g string) []string { return []string{g + "!"} }, want: dpop.ErrMalformed},
		{name: "fail/crit header", edit: func(s *proofSpec) { s.header["crit"] = []string{"b64"}; s.header["b64"] = false }, want: dpop.ErrMalformed},
		// Item 4.
		{name: "fail/typ missing", edit: func(s *proofSpec) { delete(s.header, "typ") }, want: dpop.ErrType},
		{name: "fail/typ JWT", edit: func(s *proofSpec) { s.header["typ"] = "JWT" }, want: dpop.ErrType},
		{name: "fail/typ upper case", edit: func(s *proofSpec) { s.header["typ"] = "DPOP+JWT" }, want: dpop.ErrType},
		{name: "fail/typ member name upper case", edit: func(s *proofSpec) { delete(s.header, "typ"); s.header["TYP"] = "dpop+jwt" }, want: dpop.ErrType},
		// Item 5.
		{name: "fail/alg missing", edit: func(s *proofSpec) { delete(s.header, "alg"); s.alg = "ES256" }, want: dpop.ErrAlgorithm},
		{name: "fail/alg none", edit: func(s *proofSpec) { s.header["alg"] = "none"; s.alg = "ES256" }, want: dpop.ErrAlgorithm},
		{name: "fail/alg none unsigned", edit: func(s *proofSpec) { s.header["alg"] = "none" }, want: dpop.ErrMalformed},
		{name: "fail/alg HS256", edit: func(s *proofSpec) { s.header["alg"] = "HS256" }, want: dpop.ErrAlgorithm},
		{name: "fail/alg RS256", edit: withKey("RS256", k.rsa), want: dpop.ErrAlgorithm},
		{name: "fail/alg ES384", edit: func(s *proofSpec) { s.header["alg"] = "ES384"; s.alg = "ES256" }, want: dpop.ErrAlgorithm},
		// Item 6.
		{name: "fail/signature corrupted", proofs: func(g string) []string {
			i := strings.LastIndexByte(g, '.') + 1
			c := "A"
			if g[i] == 'A' {
				c = "B"
			}
			return []string{g[:i] + c + g[i+1:]}
		}, want: dpop.ErrSignature},
		{name: "fail/signature wrong length", proofs: func(g string) []string {
			return []string{g[:strings.LastIndexByte(g, '.')+1] + b64(make([]byte, 63))}
		}, want: dpop.ErrSignature},
		{name: "fail/signature zero", proofs: func(g string) []string {
			return []string{g[:strings.LastIndexByte(g, '.')+1] + b64(make([]byte, 64))}
		}, want: dpop.ErrSignature},
		{name: "fail/signed by another key", edit: func(s *proofSpec) { s.key = k.ec2 }, want: dpop.ErrSignature},
		{name: "fail/claims swapped after signing", proofs: func(g string) []string {
			p := strings.Split(g, ".")
			return []string{p[0] + "." + b64([]byte(`{"jti":"x","htm":"POST","htu":"`+tokenURL+`","iat":1800000000}`)) + "." + p[2]}
		}, want: dpop.ErrSignature},
		// Items 3 (jwk) and 7.
		{name: "fail/jwk missing", edit: func(s *proofSpec) { delete(s.header, "jwk") }, want: dpop.ErrKey},
		{name: "fail/jwk private", edit: func(s *proofSpec) {
			j := maps.Clone(s.header["jwk"].(map[string]any))
			j["d"] = b64(k.ec.D.FillBytes(make([]byte, 32)))
			s.header["jwk"] = j
		}, want: dpop.ErrKey},
		{name: "fail/jwk symmetric", edit: func(s *proofSpec) {
			s.header["jwk"] = map[string]any{"kty": "oct", "k": b64([]byte("0123456789abcdef"))}
		}, want: dpop.ErrKey},
		{name: "fail/jwk weak rsa", edit: withKey("PS256", k.rsaWeak), want: dpop.ErrKey},
		{name: "fail/jwk type does not fit alg", edit: func(s *proofSpec) {
			withKey("EdDSA", k.ed)(s)
			s.header["alg"] = "ES256"
			s.alg = "EdDSA"
		}, want: dpop.ErrKey},
		{name: "fail/jwk private okp", edit: func(s *proofSpec) {
			withKey("EdDSA", k.ed)(s)
			s.header["jwk"].(map[string]any)["d"] = b64(k.ed.Seed())
		}, want: dpop.ErrKey},
		{name: "fail/jwk private rsa", edit: func(s *proofSpec) {
			withKey("PS256", k.rsa)(s)
			s.header["jwk"].(map[string]any)["p"] = b64(k.rsa.Primes[0].Bytes())
		}, want: dpop.ErrKey},
		{name: "fail/jwk ec with k", edit: func(s *proofSpec) { s.header["jwk"].(map[string]any)["k"] = "AAAA" }, want: dpop.ErrKey},
		{name: "fail/jwk P-384", edit: func(s *proofSpec) { s.header["jwk"].(map[string]any)["crv"] = "P-384" }, want: dpop.ErrKey},
		{name: "fail/jwk short coordinate", edit: func(s *proofSpec) {
			j := s.header["jwk"].(map[string]any)
			j["x"] = j["x"].(string)[1:]
		}, want: dpop.ErrKey},
		{name: "fail/jwk point not on curve", edit: func(s *proofSpec) {
			j := s.header["jwk"].(map[string]any)
			j["y"] = j["x"]
		}, want: dpop.ErrKey},
		{name: "fail/jwk unknown kty", edit: func(s *proofSpec) { s.header["jwk"] = map[string]any{"kty": "XYZ", "x": "AAAA"} }, want: dpop.ErrKey},
		{name: "fail/jwk alg differs from header", edit: func(s *proofSpec) { s.header["jwk"].(map[string]any)["alg"] = "EdDSA" }, want: dpop.ErrKey},
		{name: "fail/jwk use enc", edit: func(s *proofSpec) { s.header["jwk"].(map[string]any)["use"] = "enc" }, want: dpop.ErrKey},
		{name: "fail/jwk not an object", edit: func(s *proofSpec) { s.header["jwk"] = "key" }, want: dpop.ErrMalformed},
		// Item 3 (claims), and jti bounds (§11.1).
		{name: "fail/jti missing", edit: func(s *proofSpec) { delete(s.claims, "jti") }, want: dpop.ErrJTI},
		{name: "fail/jti too long", edit: func(s *proofSpec) { s.claims["jti"] = strings.Repeat("j", dpop.MaxJTILength+1) }, want: dpop.ErrJTI},
		{name: "fail/htm missing", edit: func(s *proofSpec) { delete(s.claims, "htm") }, want: dpop.ErrMethod},
		{name: "fail/htm member name upper case", edit: func(s *proofSpec) { delete(s.claims, "htm"); s.claims["HTM"] = "POST" }, want: dpop.ErrMethod},
		{name: "fail/htu missing", edit: func(s *proofSpec) { delete(s.claims, "htu") }, want: dpop.ErrURL},
		{name: "fail/iat missing", edit: func(s *proofSpec) { delete(s.claims, "iat") }, want: dpop.ErrIssuedAt},
		// Item 8.
		{name: "fail/htm PUT on POST", edit: func(s *proofSpec) { s.claims["htm"] = "PUT" }, want: dpop.ErrMethod},
		{name: "fail/htm lower case", edit: func(s *proofSpec) { s.claims["htm"] = "post" }, want: dpop.ErrMethod},
		// Item 9.
		{name: "fail/htu other path", edit: func(s *proofSpec) { s.claims["htu"] = "https://as.example/par" }, want: dpop.ErrURL},
		{name: "fail/htu path case", edit: func(s *proofSpec) { s.claims["htu"] = "https://as.example/Token" }, want: dpop.ErrURL},
		{name: "fail/htu other host", edit: func(s *proofSpec) { s.claims["htu"] = "https://evil.example/token" }, want: dpop.ErrURL},
		{name: "fail/htu other port", edit: func(s *proofSpec) { s.claims["htu"] = "https://as.example:8443/token" }, want: dpop.ErrURL},
		{name: "fail/htu http for https", edit: func(s *proofSpec) { s.claims["htu"] = "http://as.example/token" }, want: dpop.ErrURL},
		{name: "fail/htu relative", edit: func(s *proofSpec) { s.claims["htu"] = "/token" }, want: dpop.ErrURL},
		{name: "fail/htu trailing slash", edit: func(s *proofSpec) { s.claims["htu"] = tokenURL + "/" }, want: dpop.ErrURL},
		// Item 11.
		{name: "fail/iat one hour old", edit: func(s *proofSpec) { s.claims["iat"] = now.Add(-time.Hour).Unix() }, want: dpop.ErrIssuedAt},
		{name: "fail/iat one hour ahead", edit: func(s *proofSpec) { s.claims["iat"] = now.Add(time.Hour).Unix() }, want: dpop.ErrIssuedAt},
		{name: "fail/iat just too old", edit: func(s *proofSpec) { s.claims["iat"] = now.Add(-61 * time.Second).Unix() }, want: dpop.ErrIssuedAt},
		{name: "fail/iat just too far ahead", edit: func(s *proofSpec) { s.claims["iat"] = now.Add(11 * time.Second).Unix() }, want: dpop.ErrIssuedAt},
		{name: "fail/iat huge", edit: func(s *proofSpec) { s.claims["iat"] = 1e300 }, want: dpop.ErrIssuedAt},
		// Item 12, first bullet, and §7.
		{name: "fail/ath missing at resource", edit: func(s *proofSpec) { resourceClaims(s); delete(s.claims, "ath") }, req: atResource, want: dpop.ErrAccessTokenHash},
		{name: "fail/ath of another token", edit: func(s *proofSpec) { resourceClaims(s); s.claims["ath"] = dpop.AccessTokenHash("other") }, req: atResource, want: dpop.ErrAccessTokenHash},
		{name: "fail/ath without access token", edit: func(s *proofSpec) { s.claims["ath"] = dpop.AccessTokenHash(accessToken) }, want: dpop.ErrAccessTokenHash},
		// Item 10 and §11.3.
		{name: "fail/nonce required and missing", req: func(r *dpop.Request) { r.Nonce = dpop.NonceRequired },
			want: dpop.ErrNonce, code: oauth.ErrUseDPoPNonce},
		{name: "fail/nonce required and wrong", edit: func(s *proofSpec) { s.claims["nonce"] = "bm9uY2U" },
			req: func(r *dpop.Request) { r.Nonce = dpop.NonceRequired }, want: dpop.ErrNonce, code: oauth.ErrUseDPoPNonce},
		{name: "fail/nonce optional and wrong", edit: func(s *proofSpec) { s.claims["nonce"] = "bm9uY2U" },
			req: func(r *dpop.Request) { r.Nonce = dpop.NonceOptional }, want: dpop.ErrNonce, code: oauth.ErrUseDPoPNonce},
		{name: "fail/bad signature wins over missing nonce", edit: func(s *proofSpec) { s.key = k.ec2 },
			req: func(r *dpop.Request) { r.Nonce = dpop.NonceRequired }, want: dpop.ErrSignature},
	}
}

// build returns the request a case sends.
func (tc verifyCase) build() dpop.Request {
	s := defaultSpec()
	if tc.edit != nil {
		tc.edit(&s)
	}
	good := s.build()
	r := dpop.Request{Proofs: []string{good}, Method: "POST", URL: tokenURL}
	if tc.proofs != nil {
		r.Proofs = tc.proofs(good)
	}
	if tc.req != nil {
		tc.req(&r)
	}
	return r
}

func TestVerify(t *testing.T) {
	for _, tc := range verifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			replay := newMemReplay()
			v := newVerifier(replay)
			r := tc.build()
			p, err := v.Verify(context.Background(), r)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				checkProof(t, p)
				if replay.lastKey != dpop.ReplayKey(p.JKT, p.JTI) || !replay.lastExp.Equal(p.IssuedAt.Add(70*time.Second)) {
					t.Errorf("Replay.Use(%q, %v), want key of (jkt, jti) and iat+70s", replay.lastKey, replay.lastExp)
				}
				return
			}
			checkRejection(t, err, tc.want, tc.code)
			if len(replay.seen) != 0 {
				t.Errorf("a rejected proof used its jti")
			}
			if tc.code == oauth.ErrUseDPoPNonce {
				oe, _ := oauth.As(err)
				if got, want := oe.Header["DPoP-Nonce"], v.Nonces.Current(); got != want || len(oe.Header) != 1 {
					t.Errorf("Header = %v, want only DPoP-Nonce: %s", oe.Header, want)
				}
			}
		})
	}
}

// checkProof checks what Verify returned for an accepted request.
func checkProof(t *testing.T, p *dpop.Proof) {
	t.Helper()
	if p == nil || p.Key == nil {
		t.Fatal("Verify returned no proof and no error")
	}
	if p.JKT == "" || p.JKT != p.Key.Thumbprint() || p.JKT != dpop.Thumbprint(p.Key) {
		t.Errorf("JKT = %q, key thumbprint %q", p.JKT, p.Key.Thumbprint())
	}
	if p.JTI == "" || p.IssuedAt.IsZero() {
		t.Errorf("proof = %+v, want jti and iat", p)
	}
}

// checkRejection checks the shape of a refusal: an *oauth.Error with code
// (invalid_dpop_proof when empty), no status override, wrapping want.
func checkRejection(t *testing.T, err, want error, code string) {
	t.Helper()
	if code == "" {
		code = oauth.ErrInvalidDPoPProof
	}
	oe, ok := oauth.As(err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *oauth.Error", err, err)
	}
	if oe.Code != code || oe.Status != 0 {
		t.Errorf("Code, Status = %q, %d; want %q, 0", oe.Code, oe.Status, code)
	}
	if !errors.Is(err, want) {
		t.Errorf("error %v does not wrap %v", err, want)
	}
	if oe.Description == "" {
		t.Errorf("no description")
	}
}

func TestVerifyAlgorithmsAllowList(t *testing.T) {
	s := defaultSpec()
	withKey("EdDSA", testKeys().ed)(&s)
	r := dpop.Request{Proofs: []string{s.build()}, Method: "POST", URL: tokenURL}
	for _, tc := range []struct {
		name string
		algs []string
		want error
	}{
		{"ok/nil is the FAPI list", nil, nil},
		{"ok/listed", []string{"EdDSA"}, nil},
		{"fail/not listed", []string{"ES256"}, dpop.ErrAlgorithm},
		{"fail/empty list allows nothing", []string{}, dpop.ErrAlgorithm},
		{"fail/non-FAPI entries are ignored", []string{"HS256", "none"}, dpop.ErrAlgorithm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(newMemReplay())
			v.Algorithms = tc.algs
			_, err := v.Verify(context.Background(), r)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkRejection(t, err, tc.want, "")
		})
	}
}

func TestVerifyWindow(t *testing.T) {
	s := defaultSpec()
	s.claims["iat"] = now.Add(-90 * time.Second).Unix()
	r := dpop.Request{Proofs: []string{s.build()}, Method: "POST", URL: tokenURL}
	v := newVerifier(newMemReplay())
	if _, err := v.Verify(context.Background(), r); !errors.Is(err, dpop.ErrIssuedAt) {
		t.Fatalf("default window accepted a 90 s old proof: %v", err)
	}
	replay := newMemReplay()
	v = newVerifier(replay)
	v.MaxAge, v.MaxFuture = 2*time.Minute, 30*time.Second
	p, err := v.Verify(context.Background(), r)
	if err != nil {
		t.Fatalf("MaxAge 2m rejected a 90 s old proof: %v", err)
	}
	if want := p.IssuedAt.Add(150 * time.Second); !replay.lastExp.Equal(want) {
		t.Errorf("replay exp = %v, want iat+MaxAge+MaxFuture = %v", replay.lastExp, want)
	}
}

func TestVerifyReplay(t *testing.T) {
	good := dpop.Request{Proofs: []string{defaultSpec().build()}, Method: "POST", URL: tokenURL}
	ctx := context.Background()

	t.Run("fail/second use", func(t *testing.T) {
		v := newVerifier(newMemReplay())
		if _, err := v.Verify(ctx, good); err != nil {
			t.Fatal(err)
		}
		_, err := v.Verify(ctx, good)
		checkRejection(t, err, dpop.ErrReplayed, "")
	})
	t.Run("ok/rejected proof keeps its jti", func(t *testing.T) {
		v := newVerifier(newMemReplay())
		wrong := good
		wrong.Method = "GET"
		if _, err := v.Verify(ctx, wrong); !errors.Is(err, dpop.ErrMethod) {
			t.Fatalf("wrong method: %v", err)
		}
		if _, err := v.Verify(ctx, good); err != nil {
			t.Fatalf("after a rejection: %v", err)
		}
	})
	t.Run("fail/store sentinel classified by IsReplayed", func(t *testing.T) {
		errStore := errors.New("store: replayed")
		replay := newMemReplay()
		replay.replayedErr = errStore
		v := newVerifier(replay)
		v.IsReplayed = func(err error) bool { return errors.Is(err, errStore) }
		if _, err := v.Verify(ctx, good); err != nil {
			t.Fatal(err)
		}
		_, err := v.Verify(ctx, good)
		checkRejection(t, err, dpop.ErrReplayed, "")
		if !errors.Is(err, errStore) {
			t.Errorf("error %v does not wrap the store's error", err)
		}
	})
	t.Run("fail/unclassified store sentinel is unavailable", func(t *testing.T) {
		replay := newMemReplay()
		replay.replayedErr = errors.New("store: replayed")
		v := newVerifier(replay)
		if _, err := v.Verify(ctx, good); err != nil {
			t.Fatal(err)
		}
		_, err := v.Verify(ctx, good)
		checkUnavailable(t, err, replay.replayedErr)
	})
	t.Run("fail/store down", func(t *testing.T) {
		replay := newMemReplay()
		replay.err = errors.New("store: connection refused")
		v := newVerifier(replay)
		v.IsReplayed = func(error) bool { return false }
		_, err := v.Verify(ctx, good)
		checkUnavailable(t, err, replay.err)
	})
	t.Run("fail/no replay guard", func(t *testing.T) {
		_, err := newVerifier(nil).Verify(ctx, good)
		checkUnavailable(t, err, dpop.ErrConfig)
		var nilVerifier *dpop.Verifier
		_, err = nilVerifier.Verify(ctx, good)
		checkUnavailable(t, err, dpop.ErrConfig)
	})
	t.Run("fail/nonce policy without Nonces", func(t *testing.T) {
		v := newVerifier(newMemReplay())
		v.Nonces = nil
		r := good
		r.Nonce = dpop.NonceOptional
		_, err := v.Verify(ctx, r)
		checkUnavailable(t, err, dpop.ErrConfig)
	})
	t.Run("fail/unknown nonce policy", func(t *testing.T) {
		r := good
		r.Nonce = dpop.NoncePolicy(7)
		_, err := newVerifier(newMemReplay()).Verify(ctx, r)
		checkUnavailable(t, err, dpop.ErrConfig)
	})
	t.Run("fail/endpoint URL invalid", func(t *testing.T) {
		r := good
		r.URL = "as.example/token"
		_, err := newVerifier(newMemReplay()).Verify(ctx, r)
		if oe, ok := oauth.As(err); !ok || oe.Code != oauth.ErrServerError {
			t.Fatalf("error %v, want server_error", err)
		}
	})
}

func checkUnavailable(t *testing.T, err, cause error) {
	t.Helper()
	oe, ok := oauth.As(err)
	if !ok || oe.Code != oauth.ErrTemporarilyUnavailable {
		t.Fatalf("error %v, want temporarily_unavailable", err)
	}
	if !errors.Is(err, cause) {
		t.Errorf("error %v does not wrap %v", err, cause)
	}
}

// TestVerifyConcurrentReplay sends one proof from 20 goroutines at once:
// exactly one may win.
func TestVerifyConcurrentReplay(t *testing.T) {
	v := newVerifier(newMemReplay())
	r := dpop.Request{Proofs: []string{defaultSpec().build()}, Method: "POST", URL: tokenURL}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = v.Verify(context.Background(), r)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, dpop.ErrReplayed):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent uses succeeded, want 1", ok, n)
	}
}

// TestVerifyRFCExamples verifies the proofs printed in RFC 9449 (Figures 2
// and 13) at the time they were made: an interoperability check against
// bytes this package did not produce.
func TestVerifyRFCExamples(t *testing.T) {
	const (
		fig2 = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6Ik" +
			"VDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCR" +
			"nMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JE" +
			"QSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIj" +
			"oiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwia" +
			"WF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg" +
			"4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
		fig13 = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6Ik" +
			"VDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCR" +
			"nMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JE" +
			"QSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIj" +
			"oiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0Z" +
			"WRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNF" +
			"c05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.2oW9RP35yRqzhrtNP86L-Ey71E" +
			"OptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
		// RFC 9449 §6.1: "The jkt value in these examples is the hash of
		// the public key from the DPoP proofs in the examples".
		jkt   = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
		token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	)
	for _, tc := range []struct {
		name string
		iat  int64
		r    dpop.Request
	}{
		{"ok/figure 2 token request", 1562262616, dpop.Request{Proofs: []string{fig2}, Method: "POST", URL: "https://server.example.com/token"}},
		{"ok/figure 13 resource request", 1562262618, dpop.Request{Proofs: []string{fig13}, Method: "GET", URL: "https://resource.example.org/protectedresource", AccessToken: token}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &dpop.Verifier{Replay: newMemReplay(), Now: func() time.Time { return time.Unix(tc.iat, 0) }}
			p, err := v.Verify(context.Background(), tc.r)
			if err != nil {
				t.Fatal(err)
			}
			if p.JKT != jkt {
				t.Errorf("JKT = %s, want %s", p.JKT, jkt)
			}
		})
	}
	if got, want := dpop.AccessTokenHash(token), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"; got != want {
		t.Errorf("AccessTokenHash = %s, want %s (RFC 9449 Figure 14)", got, want)
	}
}

// FuzzVerify feeds arbitrary proofs and requests to Verify, seeded with
// every table case. Verify must never panic, and must return either a
// proof or an *oauth.Error.
func FuzzVerify(f *testing.F) {
	for _, tc := range verifyCases() {
		r := tc.build()
		proof := strings.Join(r.Proofs, "\n")
		f.Add(proof, r.Method, r.URL, r.AccessToken, uint8(r.Nonce))
	}
	f.Fuzz(func(t *testing.T, proofs, method, url, token string, policy uint8) {
		v := newVerifier(newMemReplay())
		var list []string
		if proofs != "" {
			list = strings.Split(proofs, "\n")
		}
		r := dpop.Request{Proofs: list, Method: method, URL: url, AccessToken: token, Nonce: dpop.NoncePolicy(policy % 4)}
		p, err := v.Verify(context.Background(), r)
		if err != nil {
			if _, ok := oauth.As(err); !ok {
				t.Fatalf("error %v is not an *oauth.Error", err)
			}
			return
		}
		if p == nil || p.Key == nil || p.JKT == "" {
			t.Fatalf("accepted with proof %+v", p)
		}
	})
}

// TestVerifyES256SignatureEncodings signs until it has seen an R or S with
// a leading zero byte and one with the high bit set, the two cases where
// re-encoding R ‖ S as DER must trim or pad, and checks every one verifies.
func TestVerifyES256SignatureEncodings(t *testing.T) {
	v := newVerifier(newMemReplay())
	var zero, high bool
	for i := 0; i < 5000 && !(zero && high); i++ {
		s := defaultSpec()
		s.claims["jti"] = "enc-" + strconv.Itoa(i)
		proof := s.build()
		sig, err := base64.RawURLEncoding.DecodeString(proof[strings.LastIndexByte(proof, '.')+1:])
		if err != nil {
			t.Fatal(err)
		}
		zero = zero || sig[0] == 0 || sig[32] == 0
		high = high || sig[0]&0x80 != 0 || sig[32]&0x80 != 0
		if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proof}, Method: "POST", URL: tokenURL}); err != nil {
			t.Fatalf("signature %x: %v", sig, err)
		}
	}
	if !zero || !high {
		t.Errorf("saw leading zero %v, high bit %v", zero, high)
	}
}
