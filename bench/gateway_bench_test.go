package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// gatewayBench is a gateway (in process, memory replay store) in front of
// a loopback upstream, with a DPoP-bound token of the real authorization
// server for it.
type gatewayBench struct {
	handler     http.Handler
	url         string // the gateway URL requests are made for (htu)
	upstream    string
	accessToken string
	env         *testenv.Env
}

func newGatewayBench(b *testing.B) *gatewayBench {
	env := testenv.Start(b, testenv.Options{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accounts":[{"id":"42","balance":"100.00"}]}`)
	}))
	b.Cleanup(up.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close() // only the address is needed: requests go to the handler
	yaml := fmt.Sprintf(`
gateway:
  listen: 127.0.0.1:0
  base_url: %s
  issuer: %s
  audiences: [%s]
  routes:
    - {name: accounts, path_prefix: /accounts, upstream: %s, scopes: [accounts]}
`, base, env.URL, base, up.URL)
	gw := testenv.NewGateway(b, yaml, memory.New())
	form := env.AssertionForm(b, testenv.FAPIClient)
	form.Set("grant_type", "client_credentials")
	form.Set("scope", "accounts")
	form.Set("resource", base)
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if r := env.PostForm(b, nil, "/token", form, env.DPoPHeader(b, testenv.FAPIClient, "/token"), &tr); r.StatusCode != http.StatusOK || tr.TokenType != "DPoP" {
		b.Fatalf("token: %d %+v", r.StatusCode, tr)
	}
	return &gatewayBench{handler: gw.Handler(), url: base + "/accounts", upstream: up.URL + "/accounts", accessToken: tr.AccessToken, env: env}
}

// requests builds n GET requests with the token and a fresh proof each,
// signed before the timer starts (proofs are single-use).
func (g *gatewayBench) requests(b *testing.B, target string, n int) []*http.Request {
	key := g.env.DPoPKey(b, testenv.FAPIClient)
	reqs := make([]*http.Request, n)
	for i := range reqs {
		proof, err := dpop.NewProof(key, dpop.ProofParams{Method: http.MethodGet, URL: g.url, AccessToken: g.accessToken})
		if err != nil {
			b.Fatal(err)
		}
		r, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Header.Set("Authorization", "DPoP "+g.accessToken)
		r.Header.Set(dpop.HeaderName, proof)
		reqs[i] = r
	}
	return reqs
}

// BenchmarkGatewayDPoP measures one DPoP-bound GET through the gateway's
// handler, in process: route match, JWT verify against the discovered
// JWKS, every RFC 9449 §4.3 proof check with ath and cnf.jkt, the jti
// replay check (memory store), scopes, identity headers, and the proxied
// round trip to a loopback upstream. ns/op minus
// BenchmarkGatewayUpstreamDirect is the gateway's own cost; compare it
// with BenchmarkCryptoFloorResource (one JWT verify + one proof verify).
func BenchmarkGatewayDPoP(b *testing.B) {
	g := newGatewayBench(b)
	reqs := g.requests(b, g.url, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		g.handler.ServeHTTP(w, reqs[i])
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s %s", w.Code, w.Body, w.Header().Get("WWW-Authenticate"))
		}
	}
}

// BenchmarkGatewayUpstreamDirect sends the same requests straight to the
// upstream over loopback HTTP: the cost BenchmarkGatewayDPoP adds to.
func BenchmarkGatewayUpstreamDirect(b *testing.B) {
	g := newGatewayBench(b)
	reqs := g.requests(b, g.upstream, b.N)
	hc := transport()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := hc.Do(reqs[i])
		if err != nil {
			b.Fatal(err)
		}
		var v map[string]any
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(fmt.Sprint(v), "42") {
			b.Fatalf("status %d: %v", resp.StatusCode, err)
		}
	}
}
