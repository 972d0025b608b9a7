package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/telemetry"
)

// countingTransport counts the verifiers' requests to the authorization
// server (metadata, JWKS refreshes, introspection calls), and marks the
// request being checked as introspected, which tells cache hits from
// calls.
type countingTransport struct {
	next    http.RoundTripper
	metrics *telemetry.GatewayMetrics
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	kind := "jwks"
	switch {
	case req.Method == http.MethodPost:
		kind = "introspection"
		if x := exchangeFrom(req.Context()); x != nil {
			x.introspected.Store(true)
		}
	case strings.Contains(req.URL.Path, "/.well-known/"):
		kind = "metadata"
	}
	resp, err := t.next.RoundTrip(req)
	outcome := "ok"
	if err != nil || resp.StatusCode >= 400 {
		outcome = "error"
	}
	t.metrics.AuthorizationServerRequest(kind, outcome)
	return resp, err
}

// keyProbe answers /readyz's question "can the issuer's keys be fetched
// now?" with its own requests, at most one per interval, so readiness
// does not depend on traffic having warmed the verifiers' caches.
type keyProbe struct {
	issuer string
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	checked time.Time // guarded by mu
	err     error     // guarded by mu
}

// Intervals between two probes, after success and after failure.
const (
	probeInterval      = 10 * time.Second
	probeRetryInterval = 2 * time.Second
)

func (p *keyProbe) check(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	interval := probeInterval
	if p.err != nil {
		interval = probeRetryInterval
	}
	if now := p.now(); p.checked.IsZero() || now.Sub(p.checked) >= interval {
		p.err = p.fetch(ctx)
		p.checked = now
	}
	return p.err
}

// fetch reads the issuer's metadata (RFC 8414 §3, then OpenID Connect
// Discovery) and its JWKS, and requires at least one key.
func (p *keyProbe) fetch(ctx context.Context) error {
	u, err := url.Parse(p.issuer)
	if err != nil {
		return err
	}
	var md struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	oauthURL := u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.EscapedPath(), "/")
	if err := p.getJSON(ctx, oauthURL, &md); err != nil {
		if err2 := p.getJSON(ctx, strings.TrimSuffix(p.issuer, "/")+"/.well-known/openid-configuration", &md); err2 != nil {
			return err
		}
	}
	if md.Issuer != p.issuer || md.JWKSURI == "" {
		return errors.New("gateway: the issuer's metadata names another issuer or no jwks_uri")
	}
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := p.getJSON(ctx, md.JWKSURI, &jwks); err != nil {
		return err
	}
	if len(jwks.Keys) == 0 {
		return errors.New("gateway: the issuer's JWKS holds no keys")
	}
	return nil
}

func (p *keyProbe) getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("gateway: %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gateway: %s: status %d", u, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}
