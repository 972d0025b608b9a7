package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/resource"
)

// identityPrefix starts every header name the gateway reserves for
// identity values; inbound headers with it never reach an upstream.
const identityPrefix = "X-Bulwark-"

// newRoute compiles one configured route.
func (g *Gateway) newRoute(ctx context.Context, rc Route, v *resource.Verifier, transports map[transportKey]http.RoundTripper) (*route, error) {
	up, err := url.Parse(rc.Upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return nil, fmt.Errorf("gateway: route %s: invalid upstream %q", rc.PathPrefix, rc.Upstream)
	}
	if !cleanPath(rc.PathPrefix) && rc.PathPrefix != "/" {
		return nil, fmt.Errorf("gateway: route %q: path_prefix must be a clean absolute path", rc.PathPrefix)
	}
	rt := &route{
		cfg:       rc,
		name:      rc.Name,
		prefix:    rc.PathPrefix,
		audiences: g.routeAudiences(&rc),
		verifier:  v,
		timeout:   rc.Timeout,
	}
	if rt.name == "" {
		rt.name = rc.PathPrefix
	}
	if len(rc.Methods) > 0 {
		rt.methods = rc.Methods
	}
	if rt.timeout <= 0 {
		rt.timeout = DefaultTimeout
	}
	if rc.Policy != "" {
		if rt.policy, err = loadPolicy(ctx, rc.Policy, rc.PolicyHeaders); err != nil {
			return nil, fmt.Errorf("gateway: route %s: %w", rt.name, err)
		}
	}
	tr, err := transport(rc, transports)
	if err != nil {
		return nil, fmt.Errorf("gateway: route %s: %w", rt.name, err)
	}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:      func(pr *httputil.ProxyRequest) { g.rewrite(rt, up, pr) },
		Transport:    tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { g.upstreamError(rt, w, r, err) },
		ErrorLog:     slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		BufferPool:   buffers,
	}
	return rt, nil
}

// rewrite builds the upstream request. ReverseProxy has already removed
// the hop-by-hop headers (RFC 9110 §7.6.1, including
// Proxy-Authorization) and, because Rewrite is used, the inbound
// Forwarded, X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto
// headers; the other X-Forwarded-* (Port, Prefix, Server, …), which
// upstream frameworks also use to build URLs, are removed here.
func (g *Gateway) rewrite(rt *route, up *url.URL, pr *httputil.ProxyRequest) {
	out := pr.Out
	if rt.cfg.StripPrefix {
		prefix := strings.TrimSuffix(rt.prefix, "/")
		out.URL.Path = strings.TrimPrefix(out.URL.Path, prefix)
		if raw, ok := strings.CutPrefix(out.URL.RawPath, prefix); ok && strings.HasPrefix(raw, "/") {
			out.URL.RawPath = raw
		} else {
			// Let EscapedPath encode Path afresh: the prefix was spelled
			// escaped, or ended in an escaped '/' ("/api%2Fx"), whose
			// remainder the upstream would join as an empty segment.
			out.URL.RawPath = ""
		}
	}
	pr.SetURL(up)

	h := out.Header
	// Identity headers are set by the gateway only: every inbound copy
	// goes, whichever route forwards which name. So do the remaining
	// X-Forwarded-* headers: the upstream hears those from the gateway
	// alone (below).
	for name := range h {
		if strings.HasPrefix(name, identityPrefix) || strings.HasPrefix(name, "X-Forwarded-") {
			delete(h, name)
		}
	}
	for _, name := range g.identity {
		h.Del(name)
	}
	if g.cfg.CertHeader != "" {
		h.Del(g.cfg.CertHeader)
	}
	if !rt.cfg.ForwardAuthorization {
		// The upstream gets the identity, not a credential it could
		// replay elsewhere.
		h.Del("Authorization")
		h.Del(dpop.HeaderName)
	}
	if tok, ok := resource.TokenFromContext(pr.In.Context()); ok {
		f := rt.cfg.Forward
		set := func(name, value string) {
			if name != "" && value != "" {
				h.Set(name, value)
			}
		}
		set(f.Subject, tok.Subject)
		set(f.ClientID, tok.ClientID)
		set(f.Scopes, strings.Join(tok.Scopes, " "))
		set(f.JKT, tok.JKT)
		set(f.X5T, tok.X5T)
	}
	// What the gateway saw and was configured with, never what the
	// caller claimed (FAPI 2.0 checklist G-6).
	if xff := g.forwardedFor(pr.In); xff != "" {
		h.Set("X-Forwarded-For", xff)
	}
	h.Set("X-Forwarded-Host", g.baseHost())
	h.Set("X-Forwarded-Proto", g.baseScheme())
}

func (g *Gateway) baseHost() string {
	_, rest, _ := strings.Cut(g.cfg.BaseURL, "://")
	host, _, _ := strings.Cut(rest, "/")
	return host
}

func (g *Gateway) baseScheme() string {
	scheme, _, _ := strings.Cut(g.cfg.BaseURL, "://")
	return scheme
}

// forwardedFor is the X-Forwarded-For value for the upstream: the peer's
// address, after the inbound value only when the peer is a trusted proxy.
func (g *Gateway) forwardedFor(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 && g.trustedPeer(host) {
		return strings.Join(prior, ", ") + ", " + host
	}
	return host
}

func (g *Gateway) trustedPeer(host string) bool {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range g.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// upstreamError answers a request whose upstream could not be reached or
// did not answer in time: 504 after the route's timeout, 502 otherwise.
func (g *Gateway) upstreamError(rt *route, w http.ResponseWriter, r *http.Request, err error) {
	status, outcome, code := http.StatusBadGateway, outcomeUpstreamError, "bad_gateway"
	// The route's deadline shows in err, in the request's context, or as a
	// net.Error timeout, depending on where the transport was when it hit.
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		status, outcome, code = http.StatusGatewayTimeout, outcomeUpstreamTimeout, "gateway_timeout"
	}
	if x := exchangeFrom(r.Context()); x != nil {
		x.outcome.Store(outcome)
	}
	g.log.WarnContext(r.Context(), "gateway upstream failed", slog.String("route", rt.name), slog.Any("cause", err),
		slog.String("request_id", httpx.RequestID(r.Context())))
	httpx.WriteJSON(w, status, map[string]string{"error": code})
}

// transportKey groups routes that can share one connection pool.
type transportKey struct {
	caFile  string
	connect time.Duration
}

// transport returns the upstream transport of rc, shared with every route
// of the same settings. Proxy environment variables are ignored: the
// upstream is named by the configuration.
func transport(rc Route, cache map[transportKey]http.RoundTripper) (http.RoundTripper, error) {
	connect := rc.ConnectTimeout
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	k := transportKey{caFile: rc.UpstreamCAFile, connect: connect}
	if t, ok := cache[k]; ok {
		return t, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if rc.UpstreamCAFile != "" {
		b, err := os.ReadFile(rc.UpstreamCAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream_ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("upstream_ca_file %s holds no PEM certificate", rc.UpstreamCAFile)
		}
	}
	t := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   connect,
		TLSClientConfig:       tc,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	cache[k] = t
	return t, nil
}

// bufferPool recycles the proxy's copy buffers.
type bufferPool struct{ pool sync.Pool }

var buffers = &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

func (p *bufferPool) Get() []byte  { return *p.pool.Get().(*[]byte) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }
