package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// jwksServer serves a replaceable JWKS document and counts fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	doc     []byte
	status  int
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		doc, status := s.doc, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(doc []byte, status int) {
	s.mu.Lock()
	s.doc, s.status = doc, status
	s.mu.Unlock()
}

// TestJWKSURICache: a jwks_uri document is fetched once and reused for
// JWKSCacheTTL; an unknown kid triggers an early refetch at most once per
// JWKSMinRefresh; when the endpoint fails, the last good set stays in use.
func TestJWKSURICache(t *testing.T) {
	e := newEnv(t)
	srv := newJWKSServer(t)
	srv.serve(jwks(t, esKey), http.StatusOK)
	e.reg.HTTPClient = srv.Client()
	const id = "remote"
	c := Client{ID: id, ProfileName: ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: srv.URL + "/jwks.json", RedirectURIs: []string{redirectURI}}
	if err := e.reg.Register(context.Background(), &c, "", cheapParams); err != nil {
		t.Fatal(err)
	}
	auth := func(k *jose.PrivateKey) error {
		_, err := e.reg.Authenticate(context.Background(), pkjCreds(id, e.assertion(t, k, id, nil)))
		return err
	}
	steps := []struct {
		name        string
		before      func()
		key         *jose.PrivateKey
		wantOK      bool
		wantFetches int64
	}{
		{"first use fetches", nil, esKey, true, 1},
		{"second use is cached", nil, esKey, true, 1},
		{"cached across client cache expiry", func() { e.clock.Advance(6 * time.Second) }, esKey, true, 1},
		{"unknown kid right after a fetch: no refetch", func() { srv.serve(jwks(t, esKey2), http.StatusOK) }, esKey2, false, 1},
		{"unknown kid after min refresh: refetch", func() { e.clock.Advance(5 * time.Second) }, esKey2, true, 2},
		{"removed key: refetch rate-limited", nil, esKey, false, 2},
		{"known kid within TTL: no refetch", func() { e.clock.Advance(4 * time.Minute) }, esKey2, true, 2},
		{"TTL expiry refetches", func() { e.clock.Advance(time.Minute) }, esKey2, true, 3},
		{"endpoint down: last good set kept", func() {
			srv.serve([]byte("oops"), http.StatusInternalServerError)
			e.clock.Advance(6 * time.Minute)
		}, esKey2, true, 4},
		{"endpoint serving garbage: last good set kept", func() {
			srv.serve([]byte(`{"keys":[{"kty":"oct","k":"AAAA"}]}`), http.StatusOK)
			e.clock.Advance(6 * time.Minute)
		}, esKey2, true, 5},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		err := auth(st.key)
		if (err == nil) != st.wantOK {
			t.Fatalf("%s: err = %v, want ok=%v", st.name, err, st.wantOK)
		}
		if got := srv.fetches.Load(); got != st.wantFetches {
			t.Fatalf("%s: fetches = %d, want %d", st.name, got, st.wantFetches)
		}
	}
}

// TestJWKSURIUnavailable: without a last good set, a failing jwks_uri
// refuses the client.
func TestJWKSURIUnavailable(t *testing.T) {
	testKeys(t)
	tests := []struct {
		name   string
		doc    []byte
		status int
	}{
		{"fail/status_500", []byte("{}"), http.StatusInternalServerError},
		{"fail/not_json", []byte("<html>"), http.StatusOK},
		{"fail/private_key", func() []byte {
			b, _ := json.Marshal(map[string]any{"keys": []any{esKey}})
			return b
		}(), http.StatusOK},
		{"fail/too_large", append([]byte(`{"keys":[],"pad":"`), append(make([]byte, maxJWKSBytes), '"', '}')...), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := newJWKSServer(t)
			srv.serve(tt.doc, tt.status)
			e.reg.HTTPClient = srv.Client()
			c := Client{ID: "remote", ProfileName: ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: srv.URL, RedirectURIs: []string{redirectURI}}
			if err := e.reg.Register(context.Background(), &c, "", cheapParams); err != nil {
				t.Fatal(err)
			}
			_, err := e.reg.Authenticate(context.Background(), pkjCreds("remote", e.assertion(t, esKey, "remote", nil)))
			if got := errCode(t, err); got != oauth.ErrInvalidClient {
				t.Fatalf("code = %q, want invalid_client", got)
			}
		})
	}
}

// TestRegistryConcurrent exercises the client and key caches from many
// goroutines (run with -race).
func TestRegistryConcurrent(t *testing.T) {
	e := newEnv(t)
	srv := newJWKSServer(t)
	srv.serve(jwks(t, esKey), http.StatusOK)
	e.reg.HTTPClient = srv.Client()
	c := Client{ID: "remote", ProfileName: ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: srv.URL, RedirectURIs: []string{redirectURI}}
	if err := e.reg.Register(context.Background(), &c, "", cheapParams); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "remote"
			if i%2 == 1 {
				id = fapiClient
			}
			_, err := e.reg.Authenticate(context.Background(), pkjCreds(id, e.assertion(t, esKey, id, nil)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestRegisterSecret: secrets are stored only as argon2id hashes and must
// be long enough.
func TestRegisterSecret(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	short := Client{ID: "short", AuthMethod: oauth.AuthClientSecretBasic, RedirectURIs: []string{redirectURI}}
	if err := e.reg.Register(ctx, &short, "too-short", cheapParams); err == nil {
		t.Error("short secret accepted")
	}
	rec, err := e.st.Clients.Get(ctx, basicClient)
	if err != nil {
		t.Fatal(err)
	}
	if rec.SecretHash == "" || rec.SecretHash == testSecret || bytes.Contains(rec.Metadata, []byte(testSecret)) {
		t.Errorf("secret stored in the clear: %+v", rec)
	}
	bad := Client{ID: "bad", ProfileName: ProfileFAPI2, AuthMethod: oauth.AuthNone, RedirectURIs: []string{redirectURI}}
	if err := e.reg.Register(ctx, &bad, "", cheapParams); err == nil {
		t.Error("invalid client registered")
	}
	if _, err := e.reg.Get(ctx, "bad"); err != ErrUnknownClient {
		t.Errorf("Get(bad) = %v, want ErrUnknownClient", err)
	}
}
