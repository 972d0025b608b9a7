package bench

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/bff"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// bffBench is a signed-in BFF session with Redis-backed sessions in front
// of a loopback upstream, on plain loopback HTTP (TLS is not what is
// measured).
type bffBench struct {
	bffURL, upstream string
	cookie           string
}

const benchCookie = "bulwark-session"

func newBFFBench(b *testing.B) *bffBench {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	key, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		b.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []any{key.Public()}})
	env := testenv.Start(b, testenv.Options{Config: func(c *authserver.Config) {
		c.Clients = append(c.Clients, authserver.StaticClient{Client: clients.Client{
			ID: "bench-bff", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks,
			RedirectURIs: []string{base + bff.PathCallback}, GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			Scopes: oauth.NewScopes("openid", "email"),
		}})
	}})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accounts":[{"id":"42","balance":"100.00"}]}`)
	}))
	b.Cleanup(up.Close)
	rc := services.OpenRedis(b)
	st := bff.Stores{Sessions: rc.WebSessions(), Logins: rc.PendingLogins(), Replay: rc.Store().Replay, Ping: rc.Ping}
	h, err := bff.New(b.Context(), bff.Config{
		BaseURL: base, Issuer: env.Issuer, ClientID: "bench-bff", Key: key.Signer(), Scopes: []string{"email"},
		DPoP: bff.DPoPRequired, InsecureAllowHTTP: true, InsecureCookies: true, CookieName: benchCookie, LoginCookieName: "bulwark-login",
		SessionSecret: []byte(strings.Repeat("s", 32)), Routes: []bff.Route{{PathPrefix: "/api/", Upstream: up.URL}},
	}, st, telemetry.NewLogger(io.Discard, slog.LevelInfo))
	if err != nil {
		b.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h.Handler()}}
	srv.Start()
	b.Cleanup(srv.Close)

	browser := testenv.NewBrowser()
	resp, err := browser.Get(base + bff.PathStart)
	if err != nil || resp.StatusCode != http.StatusFound {
		b.Fatalf("start: %v %v", resp, err)
	}
	cb := env.SignIn(b, browser, resp.Header.Get("Location")).Header.Get("Location")
	if resp, err = browser.Get(cb); err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("callback: %v %v", resp, err)
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == benchCookie {
			cookie = c.Value
		}
	}
	if cookie == "" {
		b.Fatal("no session cookie")
	}
	return &bffBench{bffURL: base, upstream: up.URL, cookie: cookie}
}

// run sends GET url with the session cookie from parallel goroutines.
func (f *bffBench) run(b *testing.B, url string) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
	var lat latencies
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.AddCookie(&http.Cookie{Name: benchCookie, Value: f.cookie})
			t0 := time.Now()
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat.add(time.Since(t0))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	lat.report(b, time.Since(start))
}

// BenchmarkBFFAPI measures an authenticated GET /api/accounts through the
// BFF (Redis session read and decryption, a fresh DPoP proof, the reverse
// proxy) and, as the baseline, the same request straight to the upstream.
// The difference of the p50s is the BFF's added latency.
func BenchmarkBFFAPI(b *testing.B) {
	f := newBFFBench(b)
	b.Run("direct", func(b *testing.B) { f.run(b, f.upstream+"/api/accounts") })
	b.Run("bff", func(b *testing.B) { f.run(b, f.bffURL+"/api/accounts") })
}

// BenchmarkBFFCryptoFloorProof is the cryptographic floor of one proxied
// call: signing one DPoP proof with ath (ES256).
func BenchmarkBFFCryptoFloorProof(b *testing.B) {
	k, err := client.NewDPoPKey("ES256")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Proof(http.MethodGet, "https://api.example/api/accounts", "access-token", ""); err != nil {
			b.Fatal(err)
		}
	}
}
