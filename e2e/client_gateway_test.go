package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// sentRecorder is the client's base transport: it keeps every request it
// sends (headers and URL) and the status it got.
type sentRecorder struct {
	mu   sync.Mutex
	sent []sentRequest // guarded by mu
}

type sentRequest struct {
	URL    string
	Header http.Header
	Status int
}

func (r *sentRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	s := sentRequest{URL: req.URL.String(), Header: req.Header.Clone()}
	if err == nil {
		s.Status = resp.StatusCode
	}
	r.mu.Lock()
	r.sent = append(r.sent, s)
	r.mu.Unlock()
	return resp, err
}

// to returns the requests sent to URLs starting with prefix.
func (r *sentRecorder) to(prefix string) []sentRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sentRequest
	for _, s := range r.sent {
		if len(s.URL) >= len(prefix) && s.URL[:len(prefix)] == prefix {
			out = append(out, s)
		}
	}
	return out
}

// cgYAML is a gateway accepting the issuer's own audience (the client
// library asks for no resource): /accounts needs a DPoP- or
// certificate-bound token with scope accounts, /open also takes Bearer
// tokens.
func cgYAML(env *testenv.Env, upstream, extra string) string {
	return fmt.Sprintf(`
gateway:
  listen: 127.0.0.1:0
  base_url: "{{base}}"
  issuer: %s
  audiences: [%s]
  routes:
    - name: accounts
      path_prefix: /accounts
      upstream: %s
      scopes: [accounts]
    - name: open
      path_prefix: /open
      upstream: %s
      allow_bearer: true
%s`, env.URL, env.URL, upstream, upstream, extra)
}

// cgConfig is a client.Config for a private_key_jwt client of env.
func cgConfig(t *testing.T, env *testenv.Env, id string, key *client.DPoPKey, rec *sentRecorder) *client.Config {
	t.Helper()
	signer, ok := env.Keys[id].Signer().(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("%s's key is not ECDSA", id)
	}
	return &client.Config{
		Issuer: env.URL, ClientID: id, Key: signer, KeyID: env.Keys[id].KeyID(), DPoPKey: key,
		Scopes: []string{"accounts"}, HTTPClient: &http.Client{Transport: rec}, InsecureAllowHTTP: true,
	}
}

func cgGet(t *testing.T, hc *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestClientThroughGateway is the seed's test plan end to end: the client
// library gets DPoP-bound tokens from Bulwark's authorization server and
// sends them through Bulwark's gateway to an upstream, and the gateway
// refuses every way of using the token without its key.
func TestClientThroughGateway(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	up := gwUpstream(t)
	gw := gwStart(t, gwListen(t), "http", cgYAML(env, up.URL, ""), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "dpop.jwk")
	key, err := client.LoadOrCreateDPoPKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rec := &sentRecorder{}
	cfg := cgConfig(t, env, testenv.FAPIClient, key, rec)
	cache := &client.FileCache{Dir: filepath.Join(dir, "cache")}
	ts := cfg.CachedTokenSource(ctx, cache, "svc", func(ctx context.Context) (*oauth2.Token, error) {
		return cfg.ClientCredentials(ctx).Token()
	})
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ok/token_type DPoP with cnf.jkt", func(t *testing.T) {
		cnf, _ := testenv.Claims(t, tok.AccessToken)["cnf"].(map[string]any)
		if tok.TokenType != "DPoP" || cnf["jkt"] != key.Thumbprint() {
			t.Errorf("token_type %q, cnf %v; want DPoP bound to %s", tok.TokenType, cnf, key.Thumbprint())
		}
	})

	hc := cfg.Client(ctx, ts)
	resp, err := hc.Get(gw.URL + "/accounts/42?x=1")
	if err != nil {
		t.Fatal(err)
	}
	var body [4096]byte
	n, _ := resp.Body.Read(body[:])
	resp.Body.Close()
	sent := rec.to(gw.URL + "/accounts")
	if len(sent) != 1 {
		t.Fatalf("%d requests to the gateway, want 1", len(sent))
	}
	first := sent[0]

	t.Run("ok/gateway validates the proof", func(t *testing.T) {
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("gateway: %d %s", resp.StatusCode, body[:n])
		}
		e := gwEchoOf(t, body[:n])
		if e.Path != "/accounts/42" || e.Header.Get("X-Bulwark-Jkt") != key.Thumbprint() || e.Header.Get("X-Bulwark-Client-Id") != testenv.FAPIClient {
			t.Errorf("upstream saw %s with identity %v", e.Path, e.Header)
		}
		if e.Header.Get("Authorization") != "" || e.Header.Get("Dpop") != "" {
			t.Error("the token or proof reached the upstream")
		}
	})

	t.Run("ok/proof carries ath, htm, htu", func(t *testing.T) {
		p := testenv.Claims(t, first.Header.Get("DPoP"))
		sum := sha256.Sum256([]byte(tok.AccessToken))
		if p["ath"] != base64.RawURLEncoding.EncodeToString(sum[:]) || p["htm"] != "GET" || p["htu"] != gw.URL+"/accounts/42" {
			t.Errorf("proof claims %v", p)
		}
		if first.Header.Get("Authorization") != "DPoP "+tok.AccessToken {
			t.Errorf("Authorization %.20q…", first.Header.Get("Authorization"))
		}
	})

	u := gw.URL + "/accounts/42"
	t.Run("fail/token without its proof", func(t *testing.T) {
		for _, h := range []http.Header{
			{"Authorization": {"DPoP " + tok.AccessToken}},
			{"Authorization": {"Bearer " + tok.AccessToken}},
		} {
			r, b := gwDo(t, nil, http.MethodGet, u, h)
			gwWantStatus(t, h.Get("Authorization")[:6]+" without proof", r, b, http.StatusUnauthorized)
		}
		// Not even on the route that takes Bearer tokens: the token is
		// DPoP-bound.
		r, b := gwDo(t, nil, http.MethodGet, gw.URL+"/open", http.Header{"Authorization": {"Bearer " + tok.AccessToken}})
		gwWantStatus(t, "DPoP-bound token as Bearer on /open", r, b, http.StatusUnauthorized)
	})

	t.Run("fail/proof replayed", func(t *testing.T) {
		r, b := gwDo(t, nil, http.MethodGet, u, http.Header{"Authorization": first.Header["Authorization"], "Dpop": first.Header["Dpop"]})
		gwWantStatus(t, "replayed proof", r, b, http.StatusUnauthorized)
	})

	t.Run("fail/proof for another token (ath)", func(t *testing.T) {
		other, err := cgConfig(t, env, testenv.FAPIClient, key, &sentRecorder{}).ClientCredentials(ctx).Token()
		if err != nil {
			t.Fatal(err)
		}
		if other.AccessToken == tok.AccessToken {
			t.Fatal("the same token twice")
		}
		// Same key, right method and URL, but ath of the other token.
		p, err := key.Proof(http.MethodGet, u, other.AccessToken, "")
		if err != nil {
			t.Fatal(err)
		}
		r, b := gwDo(t, nil, http.MethodGet, u, http.Header{"Authorization": {"DPoP " + tok.AccessToken}, "Dpop": {p}})
		gwWantStatus(t, "proof with another token's ath", r, b, http.StatusUnauthorized)
		// A proof without ath is refused too.
		p, _ = key.Proof(http.MethodGet, u, "", "")
		r, b = gwDo(t, nil, http.MethodGet, u, http.Header{"Authorization": {"DPoP " + tok.AccessToken}, "Dpop": {p}})
		gwWantStatus(t, "proof without ath", r, b, http.StatusUnauthorized)
	})

	t.Run("ok/file cache resumes without a token request", func(t *testing.T) {
		// A second run: a fresh Config and cache handle, the key from
		// its file, and no way to get a token but the cache.
		key2, err := client.LoadOrCreateDPoPKey(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		rec2 := &sentRecorder{}
		cfg2 := cgConfig(t, env, testenv.FAPIClient, key2, rec2)
		before := env.Metric(t, "bulwark_http_requests_total", `endpoint="token"`)
		ts2 := cfg2.CachedTokenSource(ctx, &client.FileCache{Dir: filepath.Join(dir, "cache")}, "svc", nil)
		r := cgGet(t, cfg2.Client(ctx, ts2), u)
		if r.StatusCode != http.StatusOK {
			t.Errorf("gateway with the resumed token: %d", r.StatusCode)
		}
		if n := env.Metric(t, "bulwark_http_requests_total", `endpoint="token"`) - before; n != 0 || len(rec2.to(env.URL+"/token")) != 0 {
			t.Errorf("%d token requests to resume from the cache, want none", n)
		}
		if got := rec2.to(gw.URL)[0].Header.Get("Authorization"); got != "DPoP "+tok.AccessToken {
			t.Error("the resumed run did not send the cached token")
		}
	})

	t.Run("ok/bearer mode where the server allows it", func(t *testing.T) {
		// A standard-profile client asks for Bearer tokens; a route
		// with allow_bearer takes them.
		cfgB := &client.Config{Issuer: env.URL, ClientID: testenv.SecretClient, ClientSecret: testenv.ClientSecret,
			Mode: client.ModeBearer, Scopes: []string{"api"}, InsecureAllowHTTP: true, HTTPClient: &http.Client{Transport: &sentRecorder{}}}
		tsB := cfgB.ClientCredentials(ctx)
		tb, err := tsB.Token()
		if err != nil {
			t.Fatal(err)
		}
		if tb.TokenType != "Bearer" || testenv.Claims(t, tb.AccessToken)["cnf"] != nil {
			t.Errorf("bearer mode: token_type %q, cnf %v", tb.TokenType, testenv.Claims(t, tb.AccessToken)["cnf"])
		}
		if r := cgGet(t, cfgB.Client(ctx, tsB), gw.URL+"/open/x"); r.StatusCode != http.StatusOK {
			t.Errorf("Bearer token on /open: %d, want 200", r.StatusCode)
		}
		// A route without allow_bearer refuses it.
		r, b := gwDo(t, nil, http.MethodGet, u, http.Header{"Authorization": {"Bearer " + tb.AccessToken}})
		gwWantStatus(t, "Bearer token on /accounts", r, b, http.StatusUnauthorized)
	})

	t.Run("fail/bearer mode where the server does not allow it", func(t *testing.T) {
		// A fapi2 client must sender-constrain its tokens: the
		// authorization server refuses the request without a proof.
		cfgF := cgConfig(t, env, testenv.FAPIClient, nil, &sentRecorder{})
		cfgF.Mode = client.ModeBearer
		_, err := cfgF.ClientCredentials(ctx).Token()
		var re *client.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_request" {
			t.Errorf("fapi2 client in bearer mode: %v, want invalid_request", err)
		}
	})
}

// TestClientNonces: the Transport retries once on use_dpop_nonce from the
// authorization server and from the gateway as a resource server with
// its own nonces, and then reuses the nonce it learnt.
func TestClientNonces(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	up := gwUpstream(t)
	gw := gwStart(t, gwListen(t), "http", cgYAML(env, up.URL, `  dpop:
    nonce: required
    nonce_secret: a-gateway-nonce-secret-of-32-characters
`), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := client.NewDPoPKey("")
	if err != nil {
		t.Fatal(err)
	}
	rec := &sentRecorder{}
	cfg := cgConfig(t, env, testenv.NonceClient, key, rec)
	ts := cfg.ClientCredentials(ctx)
	hc := cfg.Client(ctx, ts)

	if r := cgGet(t, hc, gw.URL+"/accounts/1"); r.StatusCode != http.StatusOK {
		t.Fatalf("through the nonce gateway: %d", r.StatusCode)
	}
	// The authorization server: a 400 use_dpop_nonce, then the retry.
	toAS := rec.to(env.URL + "/token")
	if len(toAS) != 2 || toAS[0].Status != http.StatusBadRequest || toAS[1].Status != http.StatusOK {
		t.Errorf("token requests %+v, want a use_dpop_nonce 400 then 200", statuses(toAS))
	} else if testenv.Claims(t, toAS[0].Header.Get("DPoP"))["nonce"] != nil || testenv.Claims(t, toAS[1].Header.Get("DPoP"))["nonce"] == nil {
		t.Error("the token retry did not carry the authorization server's nonce")
	}
	// The gateway: a 401 use_dpop_nonce, then a new proof with its nonce.
	toGW := rec.to(gw.URL)
	if len(toGW) != 2 || toGW[0].Status != http.StatusUnauthorized || toGW[1].Status != http.StatusOK {
		t.Fatalf("gateway requests %v, want 401 then 200", statuses(toGW))
	}
	p0, p1 := testenv.Claims(t, toGW[0].Header.Get("DPoP")), testenv.Claims(t, toGW[1].Header.Get("DPoP"))
	if p1["nonce"] == nil || p1["nonce"] == p0["nonce"] || p1["jti"] == p0["jti"] {
		t.Errorf("proofs %v then %v: want a fresh proof with the gateway's nonce", p0, p1)
	}
	// The gateway's nonce is its own, not the authorization server's.
	if asNonce := testenv.Claims(t, toAS[len(toAS)-1].Header.Get("DPoP"))["nonce"]; p1["nonce"] == asNonce {
		t.Error("the gateway accepted the authorization server's nonce")
	}
	// Next request: the remembered nonce works the first time.
	if r := cgGet(t, hc, gw.URL+"/accounts/2"); r.StatusCode != http.StatusOK {
		t.Fatalf("second request: %d", r.StatusCode)
	}
	if n := len(rec.to(gw.URL)); n != 3 {
		t.Errorf("%d gateway requests after the second call, want 3 (no second nonce round trip)", n)
	}
}

func statuses(rs []sentRequest) []int {
	var out []int
	for _, r := range rs {
		out = append(out, r.Status)
	}
	return out
}
