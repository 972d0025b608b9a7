package resource_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/resource"
)

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// TestDPoPNegative runs the conformance suite's dpop-negative-tests
// against the resource server (FAPI checklist 5.4, 3.2 and 3.4): each case
// changes one thing about a correct request.
func TestDPoPNegative(t *testing.T) {
	env := startEnv(t, false)
	a := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), nil), false)
	tok, key := dpopToken(t, env, testenv.FAPIClient, "")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	htu := apiBase + apiPath

	// mut builds a proof from the correct parts after f changes them.
	mut := func(f func(h, c map[string]any)) string {
		h, c := proofParts(key, http.MethodGet, htu, tok)
		f(h, c)
		return sign(t, "ES256", key, h, c)
	}
	del := func(header bool, name string) string {
		return mut(func(h, c map[string]any) {
			if header {
				delete(h, name)
			} else {
				delete(c, name)
			}
		})
	}
	set := func(header bool, name string, v any) string {
		return mut(func(h, c map[string]any) {
			if header {
				h[name] = v
			} else {
				c[name] = v
			}
		})
	}
	dpopAuth := func(proofs ...string) http.Header {
		return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": proofs}
	}
	good := func() string { return proof(t, key, http.MethodGet, apiPath, tok, "") }

	tests := []struct {
		name   string
		target string
		header func() http.Header
		status int
		code   string // expected error code, "" for success
	}{
		{"ok/correct proof", apiPath, func() http.Header { return dpopAuth(good()) }, 200, ""},
		{"ok/all caps header name", apiPath, func() http.Header {
			return http.Header{"Authorization": {"DPoP " + tok}, "DPOP": {good()}}
		}, 200, ""},
		{"ok/scheme lower case", apiPath, func() http.Header {
			return http.Header{"Authorization": {"dpop " + tok}, "Dpop": {good()}}
		}, 200, ""},
		{"ok/scheme upper case", apiPath, func() http.Header {
			return http.Header{"Authorization": {"DPOP " + tok}, "Dpop": {good()}}
		}, 200, ""},
		{"ok/htu with extra query and fragment", apiPath, func() http.Header { return dpopAuth(set(false, "htu", htu+"?a=b#f")) }, 200, ""},
		{"ok/htu without the request's query", apiPath + "?page=2", func() http.Header { return dpopAuth(good()) }, 200, ""},
		{"ok/extra header and claim members", apiPath, func() http.Header {
			return dpopAuth(mut(func(h, c map[string]any) { h["x-extra"] = "1"; c["extra"] = map[string]any{"a": 1} }))
		}, 200, ""},
		{"ok/upper-case scheme and host in htu", apiPath, func() http.Header { return dpopAuth(set(false, "htu", "HTTPS://API.EXAMPLE.COM"+apiPath)) }, 200, ""},
		{"ok/default port in htu", apiPath, func() http.Header { return dpopAuth(set(false, "htu", "https://api.example.com:443"+apiPath)) }, 200, ""},
		{"ok/nbf and exp in proof", apiPath, func() http.Header {
			now := time.Now().Unix()
			return dpopAuth(mut(func(_, c map[string]any) { c["nbf"] = now; c["exp"] = now + 300 }))
		}, 200, ""},
		{"ok/iat 5s ahead", apiPath, func() http.Header { return dpopAuth(set(false, "iat", time.Now().Add(5*time.Second).Unix())) }, 200, ""},

		{"fail/two proofs", apiPath, func() http.Header { return dpopAuth(good(), good()) }, 401, "invalid_dpop_proof"},
		{"fail/two proofs in one value", apiPath, func() http.Header { return dpopAuth(good() + "," + good()) }, 401, "invalid_dpop_proof"},
		{"fail/not a JWT", apiPath, func() http.Header { return dpopAuth("not.a.jwt") }, 401, "invalid_dpop_proof"},
		{"fail/missing typ", apiPath, func() http.Header { return dpopAuth(del(true, "typ")) }, 401, "invalid_dpop_proof"},
		{"fail/missing alg", apiPath, func() http.Header { return dpopAuth(del(true, "alg")) }, 401, "invalid_dpop_proof"},
		{"fail/missing jwk", apiPath, func() http.Header { return dpopAuth(del(true, "jwk")) }, 401, "invalid_dpop_proof"},
		{"fail/missing jti", apiPath, func() http.Header { return dpopAuth(del(false, "jti")) }, 401, "invalid_dpop_proof"},
		{"fail/missing htm", apiPath, func() http.Header { return dpopAuth(del(false, "htm")) }, 401, "invalid_dpop_proof"},
		{"fail/missing htu", apiPath, func() http.Header { return dpopAuth(del(false, "htu")) }, 401, "invalid_dpop_proof"},
		{"fail/missing iat", apiPath, func() http.Header { return dpopAuth(del(false, "iat")) }, 401, "invalid_dpop_proof"},
		{"fail/missing ath", apiPath, func() http.Header { return dpopAuth(del(false, "ath")) }, 401, "invalid_dpop_proof"},
		{"fail/typ JWT", apiPath, func() http.Header { return dpopAuth(set(true, "typ", "JWT")) }, 401, "invalid_dpop_proof"},
		{"fail/alg none", apiPath, func() http.Header {
			h, c := proofParts(key, http.MethodGet, htu, tok)
			h["alg"] = "none"
			return dpopAuth(sign(t, "none", key, h, c))
		}, 401, "invalid_dpop_proof"},
		{"fail/RS256 with an RSA key", apiPath, func() http.Header {
			h, c := proofParts(rsaKey(), http.MethodGet, htu, tok)
			h["alg"] = "RS256"
			return dpopAuth(sign(t, "RS256", rsaKey(), h, c))
		}, 401, "invalid_dpop_proof"},
		{"fail/invalid signature", apiPath, func() http.Header {
			p := good()
			i := strings.LastIndexByte(p, '.') + 3
			b := []byte(p)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return dpopAuth(string(b))
		}, 401, "invalid_dpop_proof"},
		{"fail/private key in jwk", apiPath, func() http.Header {
			return dpopAuth(mut(func(h, _ map[string]any) {
				jwk := jwkOf(key)
				jwk["d"] = b64(key.D.Bytes())
				h["jwk"] = jwk
			}))
		}, 401, "invalid_dpop_proof"},
		{"fail/htm PUT on GET", apiPath, func() http.Header { return dpopAuth(set(false, "htm", "PUT")) }, 401, "invalid_dpop_proof"},
		{"fail/htu other URL", apiPath, func() http.Header { return dpopAuth(set(false, "htu", "https://other.example.com"+apiPath)) }, 401, "invalid_dpop_proof"},
		{"fail/htu other path", apiPath, func() http.Header { return dpopAuth(set(false, "htu", apiBase+"/accounts/43")) }, 401, "invalid_dpop_proof"},
		{"fail/htu names the listener, not BaseURL", apiPath, func() http.Header {
			return dpopAuth(set(false, "htu", a.srv.URL+apiPath))
		}, 401, "invalid_dpop_proof"},
		{"fail/iat now+1h", apiPath, func() http.Header { return dpopAuth(set(false, "iat", time.Now().Add(time.Hour).Unix())) }, 401, "invalid_dpop_proof"},
		{"fail/iat now-1h", apiPath, func() http.Header { return dpopAuth(set(false, "iat", time.Now().Add(-time.Hour).Unix())) }, 401, "invalid_dpop_proof"},
		{"fail/wrong ath", apiPath, func() http.Header { return dpopAuth(set(false, "ath", ath("another token"))) }, 401, "invalid_dpop_proof"},
		{"fail/key other than cnf.jkt", apiPath, func() http.Header { return dpopAuth(proof(t, other, http.MethodGet, apiPath, tok, "")) }, 401, "invalid_dpop_proof"},
		{"fail/no proof with DPoP scheme", apiPath, func() http.Header { return http.Header{"Authorization": {"DPoP " + tok}} }, 401, "invalid_dpop_proof"},
		{"fail/Bearer downgrade without proof", apiPath, func() http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }, 401, "invalid_token"},
		{"fail/Bearer downgrade with proof", apiPath, func() http.Header {
			return http.Header{"Authorization": {"Bearer " + tok}, "Dpop": {good()}}
		}, 401, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(t, nil, http.MethodGet, tt.target, tt.header(), nil)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (%v, %v)", r.status, tt.status, r.body, r.header.Values("Www-Authenticate"))
			}
			if tt.code == "" {
				if r.body["binding"] != resource.BindingDPoP || r.body["client_id"] != testenv.FAPIClient {
					t.Errorf("token seen by next = %v", r.body)
				}
				return
			}
			if r.body["error"] != tt.code {
				t.Errorf("error = %v, want %s", r.body["error"], tt.code)
			}
			// RFC 9449 §7.1: DPoP failures challenge with the DPoP scheme,
			// listing the accepted algorithms.
			ch := r.challenge("DPoP")
			if !strings.Contains(ch, `error="`+tt.code+`"`) || !strings.Contains(ch, `algs="PS256 ES256 EdDSA"`) {
				t.Errorf("DPoP challenge = %q", ch)
			}
		})
	}
}

// TestDPoPReplay: the same proof twice is refused the second time
// (RFC 9449 §11.1), also across two Verifiers sharing one ReplayCache, as
// two gateway nodes would.
func TestDPoPReplay(t *testing.T) {
	env := startEnv(t, false)
	shared := resource.NewMemoryReplayCache()
	a1 := newAPI(t, verifier(env, shared, nil), false)
	a2 := newAPI(t, verifier(env, shared, nil), false)
	tok, key := dpopToken(t, env, testenv.FAPIClient, "")

	t.Run("fail/same jti twice", func(t *testing.T) {
		h := http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, apiPath, tok, "")}}
		if r := a1.do(t, nil, http.MethodGet, apiPath, h, nil); r.status != 200 {
			t.Fatalf("first: %d %v", r.status, r.body)
		}
		r := a1.do(t, nil, http.MethodGet, apiPath, h, nil)
		if r.status != 401 || r.body["error"] != "invalid_dpop_proof" {
			t.Fatalf("replay: %d %v", r.status, r.body)
		}
	})
	t.Run("fail/replay to another Verifier sharing the cache", func(t *testing.T) {
		h := http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, apiPath, tok, "")}}
		if r := a1.do(t, nil, http.MethodGet, apiPath, h, nil); r.status != 200 {
			t.Fatalf("first: %d %v", r.status, r.body)
		}
		r := a2.do(t, nil, http.MethodGet, apiPath, h, nil)
		if r.status != 401 || r.body["error"] != "invalid_dpop_proof" {
			t.Fatalf("replay: %d %v", r.status, r.body)
		}
	})
}

// TestReplayCacheFailure: a replay cache that cannot answer refuses the
// request with 503 (fail closed); a cache with its own "already used"
// sentinel is understood through IsReplayed, and without it fails closed
// too.
func TestReplayCacheFailure(t *testing.T) {
	env := startEnv(t, false)
	tok, key := dpopToken(t, env, testenv.FAPIClient, "")
	req := func() http.Header {
		return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, apiPath, tok, "")}}
	}

	t.Run("fail/cache down", func(t *testing.T) {
		c := &memReplay{}
		c.down.Store(true)
		a := newAPI(t, verifier(env, c, nil), false)
		r := a.do(t, nil, http.MethodGet, apiPath, req(), nil)
		if r.status != 503 || r.body["error"] != "temporarily_unavailable" || r.header.Get("Www-Authenticate") != "" {
			t.Fatalf("%d %v %v", r.status, r.body, r.header)
		}
	})
	t.Run("fail/no cache", func(t *testing.T) {
		a := newAPI(t, verifier(env, nil, nil), false)
		if r := a.do(t, nil, http.MethodGet, apiPath, req(), nil); r.status != 503 {
			t.Fatalf("%d %v", r.status, r.body)
		}
	})
	for _, withIs := range []bool{true, false} {
		name := "fail/own sentinel with IsReplayed"
		want := 401
		if !withIs {
			name, want = "fail/own sentinel without IsReplayed", 503
		}
		t.Run(name, func(t *testing.T) {
			c := &memReplay{custom: errCustomReplayed}
			a := newAPI(t, verifier(env, c, func(v *resource.Verifier) {
				if withIs {
					v.IsReplayed = func(err error) bool { return err != nil && strings.Contains(err.Error(), errCustomReplayed.Error()) }
				}
			}), false)
			h := req()
			if r := a.do(t, nil, http.MethodGet, apiPath, h, nil); r.status != 200 {
				t.Fatalf("first: %d %v", r.status, r.body)
			}
			if r := a.do(t, nil, http.MethodGet, apiPath, h, nil); r.status != want {
				t.Fatalf("replay: %d %v, want %d", r.status, r.body, want)
			}
		})
	}
}

// TestNonce runs the RS nonce dance (RFC 9449 §9): no nonce → 401
// use_dpop_nonce with DPoP-Nonce; retry with it → 200 and a nonce for
// next time; a nonce of another server → use_dpop_nonce again.
func TestNonce(t *testing.T) {
	env := startEnv(t, false)
	secret := []byte(strings.Repeat("k", 32))
	a := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), func(v *resource.Verifier) {
		v.DPoPNonce, v.NonceSecret = resource.NonceRequired, secret
	}), false)
	tok, key := dpopToken(t, env, testenv.FAPIClient, "")
	send := func(nonce string) result {
		return a.do(t, nil, http.MethodGet, apiPath, http.Header{
			"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, apiPath, tok, nonce)},
		}, nil)
	}

	r := send("")
	nonce := r.header.Get("Dpop-Nonce")
	if r.status != 401 || r.body["error"] != "use_dpop_nonce" || nonce == "" ||
		!strings.Contains(r.challenge("DPoP"), `error="use_dpop_nonce"`) {
		t.Fatalf("without nonce: %d %v %v", r.status, r.body, r.header)
	}
	r = send(nonce)
	if r.status != 200 || r.header.Get("Dpop-Nonce") == "" {
		t.Fatalf("with nonce: %d %v %v", r.status, r.body, r.header)
	}
	// A nonce of another server (another secret), as an AS nonce would be.
	foreign := &resource.Verifier{Issuer: env.URL, Audiences: []string{apiAud}, BaseURL: apiBase,
		DPoPNonce: resource.NonceRequired, NonceSecret: []byte(strings.Repeat("a", 32))}
	r = send(foreign.CurrentNonce())
	if r.status != 401 || r.body["error"] != "use_dpop_nonce" || r.header.Get("Dpop-Nonce") != nonce {
		t.Fatalf("foreign nonce: %d %v %v", r.status, r.body, r.header)
	}

	t.Run("ok/optional policy without nonce", func(t *testing.T) {
		b := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), func(v *resource.Verifier) {
			v.DPoPNonce, v.NonceSecret = resource.NonceOptional, secret
		}), false)
		r := b.do(t, nil, http.MethodGet, apiPath, http.Header{
			"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, apiPath, tok, "")},
		}, nil)
		if r.status != 200 || r.header.Get("Dpop-Nonce") == "" {
			t.Fatalf("%d %v %v", r.status, r.body, r.header)
		}
	})
}
