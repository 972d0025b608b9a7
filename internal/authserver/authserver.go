package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwarkauth/bulwark/internal/admin"
	"github.com/bulwarkauth/bulwark/internal/authorize"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/discovery"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/login"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
	"github.com/bulwarkauth/bulwark/internal/token"
)

// Server is an assembled authorization server. Create it with New.
type Server struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	metrics *telemetry.Metrics
	handler http.Handler
	// mtlsHandler serves the dedicated mutual-TLS listener; nil when
	// none is configured.
	mtlsHandler http.Handler
	// keys is the current signing-key view (keys.go), swapped whole by
	// RefreshKeys; the token endpoints and JWKS read it per request.
	keys atomic.Pointer[keyView]
	// tokenTemplate, tokenHandler and mtlsTokenHandler are the token
	// service and the handlers of the main and mutual-TLS listeners
	// without keys, copied into each view; mtlsTokenHandler is nil
	// without an mTLS listener.
	tokenTemplate                  *token.Service
	tokenHandler, mtlsTokenHandler *token.Handler
	// admin is the admin API and registration service; adminHandler
	// serves it on Config.Admin.Listen, nil when it is on the main mux.
	admin        *admin.Service
	adminHandler http.Handler
}

// New prepares the server: signing keys (created on first start), the
// static clients and users, and the routed handler. It does not listen.
func New(ctx context.Context, cfg Config, st *store.Store, log *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || iss.Host == "" {
		return nil, fmt.Errorf("authserver: invalid issuer %q", cfg.Issuer)
	}
	recs, err := ensureKeys(ctx, st.Keys, cfg.now())
	if err != nil {
		return nil, err
	}
	metrics := telemetry.NewMetrics()
	clientCAs, err := loadClientCAs(cfg.TLSClientCAFile)
	if err != nil {
		return nil, err
	}
	endpointURLs := []string{cfg.Issuer + discovery.PathToken, cfg.Issuer + discovery.PathPAR, cfg.Issuer + discovery.PathDeviceAuthorization}
	if cfg.MTLSBaseURL != "" {
		endpointURLs = append(endpointURLs, cfg.MTLSBaseURL+discovery.PathToken, cfg.MTLSBaseURL+discovery.PathPAR,
			cfg.MTLSBaseURL+discovery.PathDeviceAuthorization)
	}
	registry := &clients.Registry{
		Store:        st.Clients,
		Replay:       st.Replay,
		Secrets:      secret.NewVerifier(cfg.SecretCacheTTL, 10000, nil),
		Issuer:       cfg.Issuer,
		EndpointURLs: endpointURLs,
		FutureSkew:   cfg.ClockSkew,
		ClientCAs:    clientCAs,
		Now:          cfg.Now,
	}
	proofs, err := newDPoPVerifier(ctx, cfg, st)
	if err != nil {
		return nil, err
	}
	certs := &httpx.CertSource{Header: cfg.CertHeader, TrustedProxies: cfg.TrustedProxies}
	scopes, err := seed(ctx, cfg, registry, st.Users)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: st, log: log, metrics: metrics}
	registry.OnFailure = func(ctx context.Context, claimed, reason string) {
		s.audit(ctx, &store.AuditEvent{Action: "client.auth_failed", Actor: "client:" + claimed, Target: "client:" + claimed,
			Outcome: "failure", Details: []byte(`{"reason":"` + reason + `"}`)})
	}
	aURL, err := adminURL(cfg, iss)
	if err != nil {
		return nil, err
	}
	s.admin = newAdminService(s, cfg, registry, aURL)

	rl := func(n int) *httpx.RateLimiter {
		if n <= 0 {
			return nil
		}
		if cfg.RateCounter != nil {
			return httpx.NewSharedRateLimiter(n, cfg.RateLimits.Window, cfg.RateCounter)
		}
		return httpx.NewRateLimiter(n, cfg.RateLimits.Window, nil)
	}
	authz := &authorize.Service{
		Clients: registry, Store: st, Issuer: cfg.Issuer,
		PARTTL: cfg.PARTTL, LoginTTL: cfg.LoginTTL, Metrics: metrics, Now: cfg.Now, DPoP: proofs,
		VerificationURI: cfg.Issuer + discovery.PathDevice, DeviceCodeTTL: cfg.DeviceCodeTTL, DevicePollInterval: cfg.DevicePollInterval,
		GrantTTL: cfg.RefreshTokenTTL,
	}
	base := strings.TrimSuffix(iss.Path, "/")
	pages := &login.Pages{
		Flow: authz, Users: st.Users, Sessions: st.Sessions, Consents: st.Consents, Log: log,
		Secure: iss.Scheme == "https", BasePath: base, SessionTTL: cfg.SessionTTL,
		PerIP: rl(cfg.RateLimits.LoginPerIP), Now: cfg.Now, Device: authz,
		Account: s.admin, Audit: s.audit,
	}
	authzHandler := &authorize.Handler{
		Service: authz, UI: pages, Log: log, Metrics: metrics,
		PerIP: rl(cfg.RateLimits.PARPerIP), PerClient: rl(cfg.RateLimits.PARPerClient),
		PARURL: cfg.Issuer + discovery.PathPAR, Certs: certs,
	}
	s.tokenTemplate = &token.Service{
		Clients: registry, Store: st, Issuer: cfg.Issuer,
		AccessTokenTTL: cfg.AccessTokenTTL, IDTokenTTL: cfg.IDTokenTTL, RefreshTokenTTL: cfg.RefreshTokenTTL,
		Metrics: metrics, Now: cfg.Now, DPoP: proofs, Audit: s.audit,
	}
	s.tokenHandler = &token.Handler{
		PerIP: rl(cfg.RateLimits.TokenPerIP), PerClient: rl(cfg.RateLimits.TokenPerClient),
		TokenURL: cfg.Issuer + discovery.PathToken, UserinfoURL: cfg.Issuer + discovery.PathUserinfo, Certs: certs,
	}
	if cfg.MTLSBaseURL != "" {
		mt := *s.tokenHandler
		mt.TokenURL, mt.UserinfoURL = cfg.MTLSBaseURL+discovery.PathToken, cfg.MTLSBaseURL+discovery.PathUserinfo
		s.mtlsTokenHandler = &mt
	}
	view, err := s.newKeyView(plan(recs, s.now()))
	if err != nil {
		return nil, err
	}
	s.keys.Store(view)

	md := discovery.Metadata(discovery.Options{
		Issuer: cfg.Issuer, Scopes: scopes, SigningAlgs: view.signer.Algorithms(),
		DPoPAlgs: proofs.Algorithms, MTLSBaseURL: cfg.MTLSBaseURL,
		Certificates: cfg.TLSCertFile != "" || cfg.CertHeader != "" || cfg.MTLSBaseURL != "",
	})
	if cfg.Admin.Registration.Enabled() {
		md.RegistrationEndpoint = cfg.Admin.Registration.ClientURI
	}
	mdHandler, err := discovery.Handler(md)
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	route := func(pattern, name string, h http.Handler) {
		mux.Handle(pattern, metrics.Instrument(name, h))
	}
	api := func(h httpx.HandlerFunc) http.Handler { return httpx.Handler(log, h) }
	page := func(h httpx.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				pages.RenderFailure(w, r, err)
			}
		})
	}
	route("GET "+base+"/.well-known/openid-configuration", "discovery", mdHandler)
	// RFC 8414 §3: the well-known segment goes between host and path.
	route("GET /.well-known/oauth-authorization-server"+base, "discovery", mdHandler)
	route("GET "+base+discovery.PathJWKS, "jwks", http.HandlerFunc(s.jwks))
	// The endpoints a client calls with its own credentials, which the
	// mTLS listener serves again under its own base URL. The token
	// endpoints take the signing-key view current when the request
	// arrives (keys.go), so a key refresh never changes keys mid-request.
	clientEndpoints := func(mux *http.ServeMux, base string, authzHandler *authorize.Handler, tokens func() *token.Handler) {
		route := func(pattern, name string, h http.Handler) { mux.Handle(pattern, metrics.Instrument(name, h)) }
		route("POST "+base+discovery.PathPAR, "par", api(authzHandler.PAR))
		route("POST "+base+discovery.PathDeviceAuthorization, "device_authorization", api(authzHandler.DeviceAuthorization))
		route("POST "+base+discovery.PathToken, "token", api(func(w http.ResponseWriter, r *http.Request) error { return tokens().Token(w, r) }))
		route("POST "+base+discovery.PathIntrospect, "introspect", api(func(w http.ResponseWriter, r *http.Request) error { return tokens().Introspect(w, r) }))
		route("POST "+base+discovery.PathRevoke, "revoke", api(func(w http.ResponseWriter, r *http.Request) error { return tokens().Revoke(w, r) }))
		userinfo := api(func(w http.ResponseWriter, r *http.Request) error { return tokens().Userinfo(w, r) })
		route("GET "+base+discovery.PathUserinfo, "userinfo", userinfo)
		route("POST "+base+discovery.PathUserinfo, "userinfo", userinfo)
	}
	clientEndpoints(mux, base, authzHandler, func() *token.Handler { return s.keys.Load().tokens })
	route("GET "+base+discovery.PathAuthorize, "authorize", api(authzHandler.Authorize))
	route("POST "+base+discovery.PathAuthorize, "authorize", api(authzHandler.Authorize))
	route("POST "+base+discovery.PathLogin, "login", page(pages.HandleLogin))
	route("POST "+base+discovery.PathConsent, "consent", page(pages.HandleConsent))
	route("GET "+base+discovery.PathDevice, "device", page(pages.ShowDevice))
	route("POST "+base+discovery.PathDevice, "device", page(pages.HandleDevice))
	route("GET "+base+login.PathAccount, "account", page(pages.ShowAccount))
	route("POST "+base+login.PathAccountLogin, "account", page(pages.HandleAccountLogin))
	route("POST "+base+login.PathAccountRevoke, "account", page(pages.HandleAccountRevoke))
	route("GET "+base+login.PathAccountAppsJSON, "account", api(pages.ListApplications))
	route("DELETE "+base+login.PathAccountAppsJSON, "account", api(pages.DeleteApplication))
	wrap := func(name string, h httpx.HandlerFunc) http.Handler { return metrics.Instrument(name, api(h)) }
	// Registration is for clients, so it stays on the main listener.
	s.admin.MountRegistration(mux, base, wrap)
	if cfg.Admin.Listen == "" {
		s.admin.Mount(mux, base, wrap, false)
	} else {
		// The admin listener serves under the path of its own URL.
		amux := http.NewServeMux()
		s.admin.Mount(amux, strings.TrimSuffix(aURL.Path, "/"), wrap, false)
		s.adminHandler = httpx.RequestIDs(httpx.SecurityHeaders(certs.Strip(amux)))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", metrics.Handler())
	s.handler = httpx.RequestIDs(httpx.SecurityHeaders(certs.Strip(mux)))
	if cfg.MTLSBaseURL != "" {
		mu, err := url.Parse(cfg.MTLSBaseURL)
		if err != nil {
			return nil, fmt.Errorf("authserver: invalid mTLS base URL %q", cfg.MTLSBaseURL)
		}
		mbase := strings.TrimSuffix(mu.Path, "/")
		ma := *authzHandler
		ma.PARURL = cfg.MTLSBaseURL + discovery.PathPAR
		mmux := http.NewServeMux()
		clientEndpoints(mmux, mbase, &ma, func() *token.Handler { return s.keys.Load().mtlsTokens })
		s.mtlsHandler = httpx.RequestIDs(httpx.SecurityHeaders(certs.Strip(mmux)))
	}
	return s, nil
}

// Handler returns the server's routed HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// MTLSHandler returns the handler of the dedicated mutual-TLS listener
// (the endpoints of mtls_endpoint_aliases), nil when none is configured.
func (s *Server) MTLSHandler() http.Handler { return s.mtlsHandler }

// ready reports each storage dependency by name ("storage" for a single
// back end; "postgres" and "redis" for an overlay), and 503 if any is
// down, so a balancer takes the node out of rotation.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := s.store.Checks
	if checks == nil {
		checks = []store.Check{{Name: "storage", Ping: s.store.Ping}}
	}
	status := map[string]string{}
	code := http.StatusOK
	for _, c := range checks {
		status[c.Name] = "ok"
		if err := c.Ping(ctx); err != nil {
			status[c.Name] = "unavailable"
			code = http.StatusServiceUnavailable
			s.log.WarnContext(ctx, "readiness check failed", slog.String("dependency", c.Name), slog.Any("cause", err))
		}
	}
	httpx.WriteJSON(w, code, status)
}

// Run listens on the configured address (with TLS when configured), and on
// the mutual-TLS address when one is configured, and serves until ctx is
// cancelled, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("authserver: listen: %w", err)
	}
	serves := []func(context.Context) error{func(ctx context.Context) error { return s.Serve(ctx, ln) }}
	if s.mtlsHandler != nil && s.cfg.MTLSListen != "" {
		mln, err := net.Listen("tcp", s.cfg.MTLSListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("authserver: listen (mtls): %w", err)
		}
		serves = append(serves, func(ctx context.Context) error { return s.ServeMTLS(ctx, mln) })
	}
	if s.adminHandler != nil {
		aln, err := net.Listen("tcp", s.cfg.Admin.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("authserver: listen (admin): %w", err)
		}
		serves = append(serves, func(ctx context.Context) error {
			return s.serve(ctx, aln, s.adminHandler, tls.RequestClientCert, "admin API listening")
		})
	}
	return httpx.ServeAll(ctx, serves...)
}

// Serve serves the main handler on ln until ctx is cancelled. With TLS
// configured, the handshake requests but does not require a client
// certificate (RFC 8705 §2: certificates are checked per client by the
// application, so a browser without one still reaches the login page).
//
// While it serves, it reloads the signing keys every Config.KeyRefresh and
// at each scheduled key change (keys.go).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	defer stopRefresh()
	go s.runKeyRefresh(refreshCtx)
	return s.serve(ctx, ln, s.handler, tls.RequestClientCert, "authorization server listening")
}

// ServeMTLS serves the mutual-TLS endpoints on ln, which must be a plain
// TCP listener: TLS with a mandatory (but application-verified) client
// certificate is added here.
func (s *Server) ServeMTLS(ctx context.Context, ln net.Listener) error {
	if s.mtlsHandler == nil || s.cfg.TLSCertFile == "" {
		ln.Close()
		return errors.New("authserver: the mTLS listener needs mtls.base_url and TLS")
	}
	return s.serve(ctx, ln, s.mtlsHandler, tls.RequireAnyClientCert, "mutual-TLS endpoints listening")
}

func (s *Server) serve(ctx context.Context, ln net.Listener, h http.Handler, clientAuth tls.ClientAuthType, msg string) error {
	srv := httpx.Server(h, s.log)
	if s.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("authserver: load TLS key pair: %w", err)
		}
		srv.TLSConfig = httpx.TLSConfig()
		srv.TLSConfig.Certificates = []tls.Certificate{cert}
		srv.TLSConfig.ClientAuth = clientAuth
	}
	s.log.Info(msg, slog.String("addr", ln.Addr().String()), slog.String("issuer", s.cfg.Issuer))
	return httpx.Serve(ctx, srv, ln, 15*time.Second)
}

// seed writes the configured clients and users to the store and returns
// the union of client scopes, advertised as scopes_supported.
func seed(ctx context.Context, cfg Config, reg *clients.Registry, users store.Users) ([]string, error) {
	all := oauth.Scopes{oauth.ScopeOpenID}
	for _, sc := range cfg.Clients {
		c := sc.Client
		if err := reg.Register(ctx, &c, sc.Secret, secret.DefaultParams); err != nil {
			return nil, err
		}
		all = all.Union(c.Scopes)
	}
	for _, su := range cfg.Users {
		h, err := secret.Hash(su.Password, secret.DefaultParams)
		if err != nil {
			return nil, err
		}
		claims, err := json.Marshal(su.Claims)
		if err != nil {
			return nil, fmt.Errorf("authserver: user %s claims: %w", su.Username, err)
		}
		sub := su.Subject
		if sub == "" {
			sub = SubjectFor(su.Username)
		}
		err = users.Put(ctx, &store.User{Subject: sub, Username: su.Username, PasswordHash: h, Claims: claims})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("authserver: store user %s: %w", su.Username, err)
		} else if err != nil {
			return nil, fmt.Errorf("authserver: user %s: username taken by another subject", su.Username)
		}
	}
	return all, nil
}

// SubjectFor derives a stable, non-reassignable subject for a configured
// user without a subject: the username is hashed so the sub does not
// reveal it and stays the same across restarts.
func SubjectFor(username string) string {
	sum := sha256.Sum256([]byte("bulwark-user:" + username))
	return "u_" + base64.RawURLEncoding.EncodeToString(sum[:16])
}
