package gateway

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
	"github.com/bulwarkauth/bulwark/resource"
)

// Paths of the admin endpoints.
const (
	PathHealth  = "/healthz"
	PathReady   = "/readyz"
	PathMetrics = "/metrics"
)

// Gateway is an assembled gateway. Create it with New; it is safe for
// concurrent use.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	metrics *telemetry.GatewayMetrics
	routes  []*route // longest PathPrefix first
	// identity holds every header name some route forwards an identity
	// value in; all of them are removed from every proxied request.
	identity []string
	certs    *httpx.CertSource
	meta     map[string][]byte // metadata documents by local path
	ping     func(context.Context) error
	probe    *keyProbe
	handler  http.Handler
	admin    http.Handler
}

// New prepares the gateway: one resource.Verifier per kind of route, the
// upstream proxies and compiled policies, and the metadata documents. st
// provides the replay store shared by every gateway node (st.Replay, and
// st.Ping for /readyz); nil keeps proof identifiers in this process only.
// New does not listen and does not contact the authorization server.
func New(ctx context.Context, cfg Config, st *store.Store, log *slog.Logger) (*Gateway, error) {
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("gateway: invalid base URL %q", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.Issuer == "" {
		return nil, errors.New("gateway: no issuer")
	}
	if len(cfg.Routes) == 0 {
		return nil, errors.New("gateway: no routes")
	}
	if cfg.Metadata.Resource == "" {
		cfg.Metadata.Resource = cfg.BaseURL
	}
	if len(cfg.Audiences) == 0 {
		cfg.Audiences = []string{cfg.Metadata.Resource}
	}
	g := &Gateway{
		cfg:     cfg,
		log:     log,
		metrics: telemetry.NewGatewayMetrics(),
		certs:   &httpx.CertSource{Header: cfg.CertHeader, TrustedProxies: cfg.TrustedProxies},
	}

	var replay resource.ReplayCache = resource.NewMemoryReplayCache()
	var isReplayed func(error) bool
	if st != nil {
		replay, g.ping = st.Replay, st.Ping
		isReplayed = func(err error) bool { return errors.Is(err, store.ErrReplayed) }
	}
	secret := cfg.NonceSecret
	if cfg.DPoPNonce != resource.NonceOff && len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
		log.Warn("gateway: DPoP nonces use a random per-process secret; set gateway.dpop.nonce_secret when several gateway nodes share clients")
	}
	var intro *resource.Introspection
	if in := cfg.Introspection; in != nil {
		intro = &resource.Introspection{
			ClientID: in.ClientID, ClientSecret: in.ClientSecret, KeyID: in.KeyID,
			SignedResponse: in.SignedResponse,
			// The gateway introspects to learn about revocation, which
			// a JWT's signature cannot tell.
			IntrospectJWT: true,
			CacheTTL:      in.CacheTTL,
		}
		if in.CacheTTL == 0 {
			intro.CacheTTL = -1 // ask every time
		}
		if in.PrivateKeyFile != "" {
			if intro.Signer, err = loadSigner(in.PrivateKeyFile); err != nil {
				return nil, err
			}
		}
	}
	asTransport, err := issuerTransport(cfg.IssuerCAFile)
	if err != nil {
		return nil, err
	}
	asClient := &http.Client{Timeout: 10 * time.Second, Transport: &countingTransport{next: asTransport, metrics: g.metrics}}
	g.probe = &keyProbe{issuer: cfg.Issuer, client: &http.Client{Timeout: 5 * time.Second, Transport: asTransport}, now: cfg.now}

	// Every audience any route accepts: the verifier checks that a token
	// is for this gateway at all, the route narrows it down (403).
	resources := map[string][]string{} // resource ID → scopes of its routes
	var allAudiences []string
	verifiers := map[verifierKey]*resource.Verifier{}
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		res := rc.Resource
		if res == "" {
			res = cfg.Metadata.Resource
		}
		resources[res] = union(resources[res], rc.Scopes)
		allAudiences = union(allAudiences, g.routeAudiences(rc))
	}
	if _, ok := resources[cfg.Metadata.Resource]; !ok {
		resources[cfg.Metadata.Resource] = nil
	}
	verifier := func(allowBearer bool, res string) *resource.Verifier {
		k := verifierKey{allowBearer: allowBearer, resource: res}
		if v, ok := verifiers[k]; ok {
			return v
		}
		v := &resource.Verifier{
			Issuer:              cfg.Issuer,
			Audiences:           allAudiences,
			BaseURL:             cfg.BaseURL,
			AllowBearer:         allowBearer,
			RequireDPoP:         cfg.RequireDPoP,
			DPoPNonce:           cfg.DPoPNonce,
			NonceSecret:         secret,
			Replay:              replay,
			IsReplayed:          isReplayed,
			ClientCertificate:   g.clientCertificate,
			Introspection:       intro,
			ResourceMetadataURL: metadataURL(base, res),
			HTTPClient:          asClient,
			Leeway:              cfg.Leeway,
			Now:                 cfg.Now,
		}
		verifiers[k] = v
		return v
	}

	transports := map[transportKey]http.RoundTripper{}
	seenIdentity := map[string]bool{}
	for i := range cfg.Routes {
		rc := cfg.Routes[i]
		res := rc.Resource
		if res == "" {
			res = cfg.Metadata.Resource
		}
		rt, err := g.newRoute(ctx, rc, verifier(rc.AllowBearer, res), transports)
		if err != nil {
			return nil, err
		}
		g.routes = append(g.routes, rt)
		for _, h := range []string{rc.Forward.Subject, rc.Forward.ClientID, rc.Forward.Scopes, rc.Forward.JKT, rc.Forward.X5T} {
			if h = http.CanonicalHeaderKey(h); h != "" && !seenIdentity[h] {
				seenIdentity[h] = true
				g.identity = append(g.identity, h)
			}
		}
	}
	// Longest prefix first; among equal prefixes, the order configured.
	slices.SortStableFunc(g.routes, func(a, b *route) int { return len(b.prefix) - len(a.prefix) })

	if g.meta, err = g.metadataDocuments(base, resources); err != nil {
		return nil, err
	}
	admin := http.NewServeMux()
	admin.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	admin.HandleFunc("GET "+PathReady, g.ready)
	admin.Handle("GET "+PathMetrics, g.metrics.Handler())
	g.admin = admin
	g.handler = httpx.RequestIDs(g.certs.Strip(http.HandlerFunc(g.serveHTTP)))
	return g, nil
}

// verifierKey groups routes that can share one resource.Verifier (and so
// one JWKS cache and introspection cache): the Bearer setting and the
// resource_metadata URL are part of the Verifier's challenges.
type verifierKey struct {
	allowBearer bool
	resource    string
}

// routeAudiences is the aud values route rc accepts.
func (g *Gateway) routeAudiences(rc *Route) []string {
	switch {
	case len(rc.Audiences) > 0:
		return rc.Audiences
	case rc.Resource != "":
		return []string{rc.Resource}
	}
	return g.cfg.Audiences
}

func (g *Gateway) clientCertificate(r *http.Request) (*x509.Certificate, error) {
	c, _, err := g.certs.Certificate(r)
	return c, err
}

// Handler returns the gateway's handler: the metadata documents, the
// routes, and the admin endpoints unless Config.AdminListen is set.
func (g *Gateway) Handler() http.Handler { return g.handler }

// AdminHandler returns the handler of /healthz, /readyz and /metrics.
func (g *Gateway) AdminHandler() http.Handler { return g.admin }

// Metrics returns the gateway's collectors.
func (g *Gateway) Metrics() *telemetry.GatewayMetrics { return g.metrics }

// serveHTTP dispatches one request on the main listener.
func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if doc, ok := g.meta[r.URL.Path]; ok {
		g.serveMetadata(w, r, doc)
		return
	}
	if g.cfg.AdminListen == "" {
		switch r.URL.Path {
		case PathHealth, PathReady, PathMetrics:
			g.admin.ServeHTTP(w, r)
			return
		}
	}
	g.serveRoute(w, r)
}

// ready reports whether the replay store answers and the issuer's keys
// can be fetched: without either no DPoP request can pass.
func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	status := map[string]string{"replay_store": "ok", "jwks": "ok"}
	code := http.StatusOK
	if g.ping != nil {
		if err := g.ping(ctx); err != nil {
			status["replay_store"] = "unavailable"
			code = http.StatusServiceUnavailable
			g.log.WarnContext(ctx, "readiness check failed", slog.String("dependency", "replay_store"), slog.Any("cause", err))
		}
	}
	if err := g.probe.check(ctx); err != nil {
		status["jwks"] = "unavailable"
		code = http.StatusServiceUnavailable
		g.log.WarnContext(ctx, "readiness check failed", slog.String("dependency", "jwks"), slog.Any("cause", err))
	}
	httpx.WriteJSON(w, code, status)
}

// Run listens on Config.Listen, and on Config.AdminListen when set, and
// serves until ctx is cancelled, then shuts down gracefully.
func (g *Gateway) Run(ctx context.Context) error {
	return httpx.ListenAndServeAll(ctx, "gateway",
		httpx.Listener{Addr: g.cfg.Listen, Serve: g.Serve},
		httpx.Listener{Name: "admin", Addr: g.cfg.AdminListen, Serve: g.ServeAdmin})
}

// Serve serves the gateway on ln until ctx is cancelled. With TLS
// configured the handshake requests, but does not require, a client
// certificate: certificate-bound tokens need one, DPoP clients do not.
// The server's read and write timeouts are per route (the route's
// Timeout), so long uploads and streamed responses are not cut at a fixed
// 30 s.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := httpx.Server(g.handler, g.log)
	srv.ReadTimeout, srv.WriteTimeout = 0, 0
	if g.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(g.cfg.TLSCertFile, g.cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("gateway: load TLS key pair: %w", err)
		}
		srv.TLSConfig = httpx.TLSConfig()
		srv.TLSConfig.Certificates = []tls.Certificate{cert}
		srv.TLSConfig.ClientAuth = tls.RequestClientCert
	}
	g.log.Info("gateway listening", slog.String("addr", ln.Addr().String()), slog.String("base_url", g.cfg.BaseURL),
		slog.String("issuer", g.cfg.Issuer), slog.Int("routes", len(g.routes)))
	return httpx.Serve(ctx, srv, ln, 15*time.Second)
}

// ServeAdmin serves the admin endpoints on ln, in plain HTTP, until ctx is
// cancelled. Bind it to an address only operators reach.
func (g *Gateway) ServeAdmin(ctx context.Context, ln net.Listener) error {
	srv := httpx.Server(g.admin, g.log)
	g.log.Info("gateway admin listening", slog.String("addr", ln.Addr().String()))
	return httpx.Serve(ctx, srv, ln, 5*time.Second)
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// issuerTransport is the transport to the authorization server, trusting
// caFile's CAs when set. It honours HTTPS_PROXY, as egress to an
// authorization server often needs it.
func issuerTransport(caFile string) (http.RoundTripper, error) {
	t, err := httpx.CATransport(caFile)
	if err != nil {
		return nil, fmt.Errorf("gateway: issuer: %w", err)
	}
	return t, nil
}

// loadSigner reads the private_key_jwt key for introspection.
func loadSigner(file string) (crypto.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("gateway: introspection private key: %w", err)
	}
	s, err := jose.ParsePEMSigner(b)
	if err != nil {
		return nil, fmt.Errorf("gateway: introspection private key %s: %w", file, err)
	}
	return s, nil
}

// union returns a with the elements of b it lacks appended.
func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}
