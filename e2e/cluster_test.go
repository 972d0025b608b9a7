package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/postgres"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// productionStore returns a Store opener for the deployment shape of
// docs/deployment.md: PostgreSQL for durable state under dsn, Redis at
// redisURL under prefix for the cross-node state. Each call opens its own
// pools, as each node does.
func productionStore(dsn, redisURL, prefix string) func(t testing.TB) *store.Store {
	return func(t testing.TB) *store.Store {
		t.Helper()
		pg, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rc, err := redis.Open(context.Background(), redisURL, redis.Options{Prefix: prefix})
		if err != nil {
			pg.Close()
			t.Fatal(err)
		}
		return store.Overlay(pg.Store(), "postgres", rc.Store(), "redis")
	}
}

// clientCredentials asks node for a DPoP-bound client_credentials token
// with assertion as the fapi client's authentication.
func clientCredentials(t *testing.T, node *testenv.Env, assertion string) *http.Response {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {oauth.ClientAssertionTypeJWT}, "client_assertion": {assertion}}
	return node.PostForm(t, nil, "/token", form, node.DPoPHeader(t, testenv.FAPIClient, "/token"), nil)
}

// TestTwoNodes runs two authorization server nodes on one PostgreSQL
// schema and one Redis prefix: single-use values used at one node are
// spent at the other, and flow state moves freely between them.
func TestTwoNodes(t *testing.T) {
	nodes := testenv.StartNodes(t, 2, testenv.Options{
		Store: productionStore(services.PostgresSchema(t), services.RedisURL, services.RedisPrefix(t)),
	})
	a, b := nodes[0], nodes[1]

	t.Run("fail/assertion_jti_used_at_A_refused_at_B", func(t *testing.T) {
		assertion := a.Assertion(t, testenv.FAPIClient, nil)
		if r := clientCredentials(t, a, assertion); r.StatusCode != http.StatusOK {
			t.Fatalf("first use at A: %d", r.StatusCode)
		}
		wantError(t, clientCredentials(t, b, assertion), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("fail/dpop_proof_used_at_A_refused_at_B", func(t *testing.T) {
		proof := a.DPoPHeader(t, testenv.FAPIClient, "/token")
		form := func(node *testenv.Env) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {oauth.ClientAssertionTypeJWT},
				"client_assertion": {node.Assertion(t, testenv.FAPIClient, nil)}}
		}
		if r := a.PostForm(t, nil, "/token", form(a), proof, nil); r.StatusCode != http.StatusOK {
			t.Fatalf("first use at A: %d", r.StatusCode)
		}
		wantError(t, b.PostForm(t, nil, "/token", form(b), proof, nil), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("ok/code_issued_at_A_redeemed_once_at_B", func(t *testing.T) {
		f, resp, _ := push(t, a, testenv.FAPIClient, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PAR at A: %d", resp.StatusCode)
		}
		cb := authorize(t, a, testenv.FAPIClient, f)
		resp, tb := redeem(t, b, testenv.FAPIClient, cb.Get("code"), f.Verifier)
		if resp.StatusCode != http.StatusOK || tb.AccessToken == "" {
			t.Fatalf("redeem at B: %d %+v", resp.StatusCode, tb.errorBody)
		}
		resp, _ = redeem(t, a, testenv.FAPIClient, cb.Get("code"), f.Verifier)
		wantError(t, resp, http.StatusBadRequest, "invalid_grant")
		resp, _ = redeem(t, b, testenv.FAPIClient, cb.Get("code"), f.Verifier)
		wantError(t, resp, http.StatusBadRequest, "invalid_grant")
		// The replay revoked the grant for both nodes.
		if got := introspect(t, a, testenv.FAPIClient, tb.AccessToken); got["active"] != false {
			t.Errorf("access token still active at A after the code was replayed: %v", got)
		}
	})
	t.Run("ok/request_uri_pushed_at_A_used_at_B", func(t *testing.T) {
		f, resp, _ := push(t, a, testenv.FAPIClient, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PAR at A: %d", resp.StatusCode)
		}
		cb := authorize(t, b, testenv.FAPIClient, f)
		if cb.Get("code") == "" || cb.Get("iss") != a.Issuer {
			t.Fatalf("callback from B: %v", cb)
		}
		resp, _ = redeem(t, a, testenv.FAPIClient, cb.Get("code"), f.Verifier)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("redeem at A of B's code: %d", resp.StatusCode)
		}
		// Used at B, so spent at A too.
		resp = get(t, testenv.NewBrowser(), authorizeURL(a, testenv.FAPIClient, f.RequestURI))
		if resp.StatusCode == http.StatusOK {
			t.Errorf("request_uri used at B still usable at A")
		}
	})
	t.Run("ok/readyz_names_each_dependency", func(t *testing.T) {
		var body map[string]string
		resp := get(t, http.DefaultClient, b.URL+"/readyz")
		decodeJSON(t, resp, &body)
		if resp.StatusCode != http.StatusOK || body["postgres"] != "ok" || body["redis"] != "ok" {
			t.Fatalf("readyz: %d %v", resp.StatusCode, body)
		}
	})
}

// TestRedisOutageFailsClosed stops the Redis that nodes use for the
// replay guard (and, on one of them, the rate limits): token requests with
// private_key_jwt are refused with 503 temporarily_unavailable (never
// accepted unchecked), /readyz reports redis down, and each node recovers
// by itself once Redis is back.
func TestRedisOutageFailsClosed(t *testing.T) {
	srv := services.StartRedis(t)
	counter, err := redis.Open(t.Context(), srv.URL(), redis.Options{Prefix: "rl:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { counter.Close() })
	nodes := map[string]*testenv.Env{
		"replay_guard": testenv.Start(t, testenv.Options{
			Store: productionStore(services.PostgresSchema(t), srv.URL(), "a:"),
		}),
		"rate_limited": testenv.Start(t, testenv.Options{
			Store: productionStore(services.PostgresSchema(t), srv.URL(), "b:"),
			Config: func(c *authserver.Config) {
				c.RateCounter = counter
				c.RateLimits.TokenPerIP = 1000
			},
		}),
	}
	for name, env := range nodes {
		if r := clientCredentials(t, env, env.Assertion(t, testenv.FAPIClient, nil)); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: token with Redis up: %d", name, r.StatusCode)
		}
	}

	srv.Stop(t)
	for name, env := range nodes {
		t.Run("down/"+name, func(t *testing.T) {
			resp := clientCredentials(t, env, env.Assertion(t, testenv.FAPIClient, nil))
			wantError(t, resp, http.StatusServiceUnavailable, "temporarily_unavailable")
			var ready map[string]string
			resp = get(t, http.DefaultClient, env.URL+"/readyz")
			decodeJSON(t, resp, &ready)
			if resp.StatusCode != http.StatusServiceUnavailable || ready["redis"] != "unavailable" || ready["postgres"] != "ok" {
				t.Errorf("readyz with Redis down: %d %v", resp.StatusCode, ready)
			}
		})
	}

	srv.Start(t)
	for name, env := range nodes {
		t.Run("recovered/"+name, func(t *testing.T) {
			deadline := time.Now().Add(10 * time.Second)
			for {
				resp := clientCredentials(t, env, env.Assertion(t, testenv.FAPIClient, nil))
				if resp.StatusCode == http.StatusOK {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no recovery 10 s after Redis came back: last status %d", resp.StatusCode)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

// decodeJSON reads resp's JSON body into out.
func decodeJSON(t *testing.T, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("decode %s: %v", resp.Request.URL.Path, err)
	}
}
