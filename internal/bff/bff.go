package bff

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
)

// Paths the BFF serves. The /oauth2/ ones are oauth2-proxy's.
const (
	PathStart       = "/oauth2/start"
	PathCallback    = "/oauth2/callback"
	PathSignOut     = "/oauth2/sign_out"
	PathUserinfo    = "/oauth2/userinfo"
	PathAuth        = "/oauth2/auth"
	PathBackchannel = "/oauth2/backchannel_logout"
	PathHealth      = "/healthz"
	PathReady       = "/readyz"
	PathMetrics     = "/metrics"
)

// Stores are the BFF's back ends.
type Stores struct {
	// Sessions and Logins hold sessions and pending logins. Required.
	Sessions store.WebSessions
	Logins   store.PendingLogins
	// Replay keeps logout token jti values single-use. Required.
	Replay store.Replay
	// Ping backs /readyz; nil reports ready.
	Ping func(context.Context) error
}

// BFF is an assembled BFF. Create it with New; it is safe for concurrent
// use.
type BFF struct {
	cfg      Config
	log      *slog.Logger
	metrics  *telemetry.BFFMetrics
	oc       *client.Config
	md       *client.Metadata
	sessions store.WebSessions
	logins   store.PendingLogins
	replay   store.Replay
	ping     func(context.Context) error
	sealer   *sealer
	flight   flight

	base       *url.URL
	origins    []string
	cookieName string
	loginName  string
	sameSite   http.SameSite
	csrfHeader string
	lifetime   time.Duration
	idle       time.Duration

	refreshInterval, refreshAhead, loginTimeout time.Duration

	routes  []*route
	static  http.Handler
	handler http.Handler
	admin   http.Handler
}

// New discovers the provider, decides the sender constraint (DPoP when
// offered unless off) and prepares the handlers. It fails when discovery
// fails: a BFF that cannot reach its provider cannot log anyone in.
func New(ctx context.Context, cfg Config, st Stores, log *slog.Logger) (*BFF, error) {
	if st.Sessions == nil || st.Logins == nil || st.Replay == nil {
		return nil, errors.New("bff: Sessions, Logins and Replay are required")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || strings.Trim(base.Path, "/") != "" {
		return nil, fmt.Errorf("bff: invalid base URL %q", cfg.BaseURL)
	}
	b := &BFF{
		cfg: cfg, log: log, metrics: telemetry.NewBFFMetrics(),
		sessions: st.Sessions, logins: st.Logins, replay: st.Replay, ping: st.Ping,
		base:            &url.URL{Scheme: base.Scheme, Host: base.Host},
		cookieName:      orString(cfg.CookieName, DefaultCookieName),
		loginName:       orString(cfg.LoginCookieName, DefaultLoginCookieName),
		sameSite:        cfg.SameSite,
		csrfHeader:      http.CanonicalHeaderKey(orString(cfg.CSRFHeader, DefaultCSRFHeader)),
		lifetime:        orDuration(cfg.SessionLifetime, DefaultSessionLifetime),
		refreshInterval: orDuration(cfg.RefreshInterval, DefaultRefreshInterval),
		refreshAhead:    orDuration(cfg.RefreshAhead, DefaultRefreshAhead),
		loginTimeout:    orDuration(cfg.LoginTimeout, DefaultLoginTimeout),
	}
	b.idle = min(orDuration(cfg.IdleTimeout, DefaultIdleTimeout), b.lifetime)
	if b.sameSite == 0 {
		b.sameSite = http.SameSiteLaxMode
	}
	for _, n := range []string{b.cookieName, b.loginName} {
		if strings.HasPrefix(n, "__Host-") && cfg.InsecureCookies {
			return nil, fmt.Errorf("bff: cookie %s needs Secure; it cannot be used with InsecureCookies", n)
		}
	}
	b.origins = append([]string{b.base.String()}, cfg.AllowedOrigins...)
	if b.sealer, err = newSealer(cfg.SessionSecret); err != nil {
		return nil, err
	}
	if err := b.setupClient(ctx); err != nil {
		return nil, err
	}
	for _, rc := range cfg.Routes {
		rt, err := b.newRoute(rc)
		if err != nil {
			return nil, err
		}
		b.routes = append(b.routes, rt)
	}
	// Longest prefix first.
	slices.SortStableFunc(b.routes, func(x, y *route) int { return len(y.prefix) - len(x.prefix) })
	if b.static, err = b.newStatic(); err != nil {
		return nil, err
	}
	b.handler, b.admin = b.mux()
	return b, nil
}

// setupClient builds the client.Config: discovery first with a probe, then
// the mode the provider supports.
func (b *BFF) setupClient(ctx context.Context) error {
	cfg := b.cfg
	probe := &client.Config{Issuer: cfg.Issuer, ClientID: cfg.ClientID, HTTPClient: cfg.HTTPClient, InsecureAllowHTTP: cfg.InsecureAllowHTTP}
	md, err := probe.Discover(ctx)
	if err != nil {
		return fmt.Errorf("bff: discovery: %w", err)
	}
	mode := client.ModeDPoP
	switch cfg.DPoP {
	case DPoPOff:
		mode = client.ModeBearer
	case DPoPRequired:
		if len(md.DPoPSigningAlgValuesSupported) == 0 {
			return errors.New("bff: DPoP is required but the provider advertises no dpop_signing_alg_values_supported")
		}
	case "", DPoPAuto:
		if len(md.DPoPSigningAlgValuesSupported) == 0 {
			mode = client.ModeBearer
		}
	default:
		return fmt.Errorf("bff: unknown DPoP mode %q", cfg.DPoP)
	}
	scopes := slices.Clone(cfg.Scopes)
	if !slices.Contains(scopes, oauth.ScopeOpenID) {
		scopes = append([]string{oauth.ScopeOpenID}, scopes...)
	}
	oc := &client.Config{
		Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Key: cfg.Key, KeyID: cfg.KeyID,
		Mode: mode, Scopes: scopes, Metadata: md, HTTPClient: cfg.HTTPClient, InsecureAllowHTTP: cfg.InsecureAllowHTTP, Now: cfg.Now,
	}
	if mode == client.ModeDPoP && cfg.DPoPKeyFile != "" {
		if oc.DPoPKey, err = client.LoadOrCreateDPoPKey(cfg.DPoPKeyFile); err != nil {
			return err
		}
	}
	if _, err := oc.Discover(ctx); err != nil {
		return err
	}
	b.oc, b.md = oc, md
	return nil
}

// Handler returns the browser-facing handler.
func (b *BFF) Handler() http.Handler { return b.handler }

// AdminHandler returns /healthz, /readyz and /metrics.
func (b *BFF) AdminHandler() http.Handler { return b.admin }

// Metrics returns the BFF's collectors.
func (b *BFF) Metrics() *telemetry.BFFMetrics { return b.metrics }

// Client returns the OAuth client the BFF logs in with.
func (b *BFF) Client() *client.Config { return b.oc }

func (b *BFF) mux() (http.Handler, http.Handler) {
	admin := http.NewServeMux()
	admin.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	admin.HandleFunc("GET "+PathReady, b.ready)
	admin.Handle("GET "+PathMetrics, b.metrics.Handler())

	m := http.NewServeMux()
	m.Handle("GET "+PathStart, b.page("start", b.start))
	m.Handle("GET "+PathCallback, b.page("callback", b.callback))
	m.Handle(PathSignOut, b.page("sign_out", b.signOut))
	m.Handle("GET "+PathUserinfo, b.endpoint("userinfo", b.userinfo))
	m.Handle("GET "+PathAuth, b.endpoint("auth", b.auth))
	m.Handle("POST "+PathBackchannel, b.endpoint("backchannel_logout", b.backchannel))
	m.Handle("/oauth2/", http.NotFoundHandler())
	m.Handle("/", b.endpoint("app", b.app))
	if b.cfg.AdminListen == "" {
		m.Handle(PathHealth, admin)
		m.Handle(PathReady, admin)
		m.Handle(PathMetrics, admin)
	}
	return httpx.RequestIDs(httpx.AppSecurityHeaders(m)), admin
}

// outcomeWriter remembers the status for metrics.
type outcomeWriter struct {
	http.ResponseWriter
	status int
}

func (o *outcomeWriter) WriteHeader(s int) {
	if o.status == 0 {
		o.status = s
	}
	o.ResponseWriter.WriteHeader(s)
}

func (o *outcomeWriter) Write(p []byte) (int, error) {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	return o.ResponseWriter.Write(p)
}

// Flush lets streamed upstream responses through.
func (o *outcomeWriter) Flush() {
	if f, ok := o.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// endpoint wraps a handler with metrics and the one error renderer.
func (b *BFF) endpoint(name string, h httpx.HandlerFunc) http.Handler {
	return b.wrap(name, h, nil)
}

// page is endpoint for the URLs a person's browser navigates to (start,
// callback, sign-out): a failure shows errorPage to a browser, and stays
// JSON for every other caller.
func (b *BFF) page(name string, h httpx.HandlerFunc) http.Handler {
	return b.wrap(name, h, errorPage)
}

// errorPage is the BFF's error page: what failed, and a way to start over.
var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in problem</title></head>
<body><main>
<h1>{{.StatusText}}</h1>
<p id="error">The sign-in could not be completed: <code>{{.Code}}</code>{{if .Description}} — {{.Description}}{{end}}.</p>
<p><a id="retry" href="` + PathStart + `?rd=/">Sign in again</a></p>
</main></body></html>
`))

func (b *BFF) wrap(name string, h httpx.HandlerFunc, pageTmpl *template.Template) http.Handler {
	eh := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		if _, ok := oauth.As(err); !ok && errors.Is(err, store.ErrUnavailable) {
			// Fail closed, and say it is temporary.
			err = oauth.Unavailable(err)
		}
		if pageTmpl != nil {
			httpx.WriteErrorPage(w, r, b.log, err, pageTmpl)
			return
		}
		httpx.WriteError(w, r, b.log, err)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ow := &outcomeWriter{ResponseWriter: w}
		eh.ServeHTTP(ow, r)
		b.metrics.Request(name, fmt.Sprint(ow.status), time.Since(start))
	})
}

func (b *BFF) ready(w http.ResponseWriter, r *http.Request) {
	if b.ping != nil {
		if err := b.ping(r.Context()); err != nil {
			b.log.Warn("bff: not ready", "error", err.Error())
			http.Error(w, "store unavailable\n", http.StatusServiceUnavailable)
			return
		}
	}
	w.Write([]byte("ready\n"))
}

// Run listens on Listen (and AdminListen) until ctx is cancelled, then
// shuts down gracefully.
func (b *BFF) Run(ctx context.Context) error {
	return httpx.ListenAndServeAll(ctx, "bff",
		httpx.Listener{Addr: b.cfg.Listen, Serve: b.Serve},
		httpx.Listener{Name: "admin", Addr: b.cfg.AdminListen, Serve: func(ctx context.Context, ln net.Listener) error {
			return httpx.Serve(ctx, httpx.Server(b.admin, b.log), ln, 5*time.Second)
		}})
}

// Serve serves the browser-facing handler on ln until ctx is cancelled.
func (b *BFF) Serve(ctx context.Context, ln net.Listener) error {
	srv := httpx.Server(b.handler, b.log)
	// Upstream calls bring their own time; uploads and streams are not
	// cut at a fixed 30 s.
	srv.ReadTimeout, srv.WriteTimeout = 0, 0
	if b.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(b.cfg.TLSCertFile, b.cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("bff: load TLS key pair: %w", err)
		}
		srv.TLSConfig = httpx.TLSConfig()
		srv.TLSConfig.Certificates = []tls.Certificate{cert}
	}
	b.log.Info("bff listening", slog.String("addr", ln.Addr().String()), slog.String("base_url", b.cfg.BaseURL),
		slog.String("issuer", b.cfg.Issuer), slog.Bool("dpop", b.oc.Mode == client.ModeDPoP), slog.Int("routes", len(b.routes)))
	return httpx.Serve(ctx, srv, ln, 15*time.Second)
}
