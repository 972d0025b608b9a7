package client_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// start runs a real Bulwark server over TLS.
func start(t *testing.T, opts testenv.Options) *testenv.Env {
	t.Helper()
	opts.TLS = true
	return testenv.Start(t, opts)
}

// recorder is an http.RoundTripper that records every request it sends.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	Method, URL, Host, Path string
	Header                  http.Header
	Form                    url.Values
	Status                  int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := recorded{Method: req.Method, URL: req.URL.String(), Host: req.URL.Host, Path: req.URL.Path, Header: req.Header.Clone()}
	if req.Body != nil && req.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		rec.Form, _ = url.ParseQuery(string(b))
		req.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	resp, err := r.base.RoundTrip(req)
	if resp != nil {
		rec.Status = resp.StatusCode
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return resp, err
}

// paths returns the recorded requests to path.
func (r *recorder) to(path string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, q := range r.reqs {
		if q.Path == path {
			out = append(out, q)
		}
	}
	return out
}

// httpClient returns an HTTP client that trusts the test CA, recording
// its requests.
func httpClient(env *testenv.Env) (*http.Client, *recorder) {
	rec := &recorder{base: env.Transport(nil)}
	return &http.Client{Transport: rec}, rec
}

// signerOf returns the crypto.Signer behind a test client key.
func signerOf(t *testing.T, k *jose.PrivateKey) *ecdsa.PrivateKey {
	t.Helper()
	key, ok := k.Signer().(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("test key is %T, not ECDSA", k.Signer())
	}
	return key
}

// hsmSigner hides the concrete key type, as an HSM or KMS signer would,
// so the library must drive it through crypto.Signer.Sign.
type hsmSigner struct{ k crypto.Signer }

func (h hsmSigner) Public() crypto.PublicKey { return h.k.Public() }
func (h hsmSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return h.k.Sign(r, digest, opts)
}

var hiddenInput = regexp.MustCompile(`name="(csrf_token|handle)" value="([^"]*)"`)

// formFields extracts the hidden csrf_token and handle of a rendered page.
func formFields(resp *http.Response) (csrf, handle string, err error) {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range hiddenInput.FindAllStringSubmatch(string(b), -1) {
		v := strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(m[2])
		if m[1] == "csrf_token" {
			csrf = v
		} else {
			handle = v
		}
	}
	if csrf == "" || handle == "" {
		return "", "", fmt.Errorf("page (%d) has no form: %.300s", resp.StatusCode, b)
	}
	return csrf, handle, nil
}

// browser returns an OpenBrowser function that logs alice in and
// approves consent over plain HTTP, as e2e/helpers_test.go does, then
// follows the redirect to the loopback listener. mutate, when set,
// changes the callback URL's query first.
func browser(env *testenv.Env, mutate func(url.Values)) func(context.Context, string) error {
	return func(ctx context.Context, authURL string) error {
		// CL-AC-6: only client_id and request_uri go to the front
		// channel (FAPI 2.0 SP §5.3.3.2-6).
		au, err := url.Parse(authURL)
		if err != nil {
			return err
		}
		if q := au.Query(); len(q) != 2 || q.Get("client_id") == "" || !strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:") {
			return fmt.Errorf("authorization URL %s carries %v, want only client_id and request_uri", authURL, q)
		}
		b := testenv.NewBrowser()
		b.Transport = env.Transport(nil)
		post := func(path string, form url.Values) (*http.Response, error) {
			return b.PostForm(env.URL+path, form)
		}
		resp, err := b.Get(authURL)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("authorize: status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		csrf, handle, err := formFields(resp)
		if err != nil {
			return err
		}
		resp, err = post("/login", url.Values{"csrf_token": {csrf}, "handle": {handle}, "username": {testenv.UserName}, "password": {testenv.UserPassword}})
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusOK {
			if csrf, handle, err = formFields(resp); err != nil {
				return err
			}
			if resp, err = post("/consent", url.Values{"csrf_token": {csrf}, "handle": {handle}, "decision": {"approve"}}); err != nil {
				return err
			}
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			return fmt.Errorf("want a redirect to the client, got %d", resp.StatusCode)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			return err
		}
		if mutate != nil {
			q := loc.Query()
			mutate(q)
			loc.RawQuery = q.Encode()
		}
		cb, err := http.Get(loc.String())
		if err != nil {
			return err
		}
		cb.Body.Close()
		return nil
	}
}

// tokenRequests returns how many requests reached the server's token
// endpoint, from its Prometheus metrics.
func tokenRequests(t *testing.T, env *testenv.Env) int {
	t.Helper()
	return env.Metric(t, "bulwark_http_requests_total", `endpoint="token"`)
}

// refreshGrants returns how many refresh-token grants the server issued
// tokens for.
func refreshGrants(t *testing.T, env *testenv.Env) int {
	t.Helper()
	return env.Metric(t, "bulwark_tokens_issued_total", `grant_type="refresh_token"`)
}

// clientCert returns the TLS certificate of a test mTLS client.
func clientCert(env *testenv.Env, id string) *tls.Certificate {
	c := env.ClientCerts[id].TLS()
	return &c
}

// publicConfig is a Config for the public client with DPoP.
func publicConfig(env *testenv.Env, hc *http.Client, key *client.DPoPKey) *client.Config {
	return &client.Config{
		Issuer: env.URL, ClientID: testenv.PublicClient, HTTPClient: hc, DPoPKey: key,
		Scopes:      []string{"openid", "profile", "offline_access"},
		RedirectURL: "http://127.0.0.1/cb", OpenBrowser: browser(env, nil),
	}
}
