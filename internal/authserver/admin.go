package authserver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/bulwarkauth/bulwark/internal/admin"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// AdminConfig is the admin API and registration part of Config.
type AdminConfig struct {
	// TokenHashes are the SHA-256 digests of the admin tokens; empty
	// accepts none (access tokens with Scope still work).
	TokenHashes [][sha256.Size]byte
	// Scope is the scope admin access tokens need; empty means
	// admin.DefaultScope.
	Scope string
	// Listen is a separate listener for the admin API; when set, /admin/
	// is served only there.
	Listen string
	// BaseURL is the external URL of the Listen listener (no trailing
	// '/'): the admin API is served under its path, and a DPoP proof on
	// an admin call names its origin plus the request path as htu. Empty
	// means the issuer's URL, so only a proxy that keeps the issuer's
	// host in front of Listen can satisfy DPoP. Ignored without Listen.
	BaseURL string
	// Registration is the RFC 7591 policy; a zero value disables it.
	Registration admin.Registration
}

// audit is the one sink of audit events: a structured log line and a
// store record. A store failure is logged, never returned: the audited
// action has already happened (or failed) by the time it is recorded.
func (s *Server) audit(ctx context.Context, e *store.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if e.ID == "" {
		e.ID = store.NewAuditID(e.Time)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.String("action", e.Action), slog.String("actor", e.Actor), slog.String("target", e.Target),
		slog.String("outcome", e.Outcome), slog.String("details", string(e.Details)), slog.String("audit_id", e.ID))
	if err := s.store.Audit.Append(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "audit record not stored", slog.String("audit_id", e.ID), slog.Any("cause", err))
	}
}

// adminKeys gives the admin API the signing keys, with the rotation of
// bulwark keys rotate; the node that rotated reloads its keys at once.
type adminKeys struct{ s *Server }

func (k adminKeys) List(ctx context.Context) ([]*store.SigningKey, error) {
	return k.s.store.Keys.List(ctx)
}

func (k adminKeys) Rotate(ctx context.Context, publishAhead, retireAfter time.Duration) ([]*store.SigningKey, []*store.SigningKey, error) {
	r, err := RotateKeys(ctx, k.s.store.Keys, nil, publishAhead, retireAfter, k.s.now())
	if err != nil {
		return nil, nil, err
	}
	return r.Added, r.Retiring, k.s.RefreshKeys(ctx)
}

// adminTokens checks access tokens on admin calls with the token
// package's protected-resource check of the current key view. A DPoP
// proof's htu is origin plus the request path: the issuer's origin, or
// that of Admin.BaseURL when the admin API has a listener of its own.
type adminTokens struct {
	s      *Server
	origin string
}

func (a adminTokens) Check(r *http.Request) (*admin.TokenInfo, error) {
	acc, err := a.s.keys.Load().tokens.Protected(r, a.origin+r.URL.Path)
	if err != nil {
		return nil, err
	}
	return &admin.TokenInfo{Subject: acc.Subject, ClientID: acc.ClientID, Scopes: acc.Scopes}, nil
}

var _ admin.TokenChecker = adminTokens{}

// origin is the scheme and host of u.
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// Admin returns the admin service, for tests and tools in this process.
func (s *Server) Admin() *admin.Service { return s.admin }

// AdminHandler returns the handler of the separate admin listener, nil
// when the admin API is on the main listener.
func (s *Server) AdminHandler() http.Handler { return s.adminHandler }

// adminURL is the external URL of the admin API's listener:
// Admin.BaseURL when the API has its own listener and that is set, else
// the issuer.
func adminURL(cfg Config, iss *url.URL) (*url.URL, error) {
	if cfg.Admin.Listen == "" || cfg.Admin.BaseURL == "" {
		return iss, nil
	}
	u, err := url.Parse(cfg.Admin.BaseURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("authserver: invalid admin base URL %q", cfg.Admin.BaseURL)
	}
	return u, nil
}

// newAdminService builds the admin service of s; adminURL is where its
// API is reached (see adminURL).
func newAdminService(s *Server, cfg Config, registry *clients.Registry, adminURL *url.URL) *admin.Service {
	static := map[string]bool{}
	for _, c := range cfg.Clients {
		static[c.Client.ID] = true
	}
	return &admin.Service{
		Store: s.store, Clients: registry, Static: static,
		TokenHashes: cfg.Admin.TokenHashes, Scope: cfg.Admin.Scope,
		Tokens: adminTokens{s: s, origin: origin(adminURL)}, Keys: adminKeys{s},
		Audit: s.audit, Registration: cfg.Admin.Registration, Now: cfg.Now,
		AccessTokenTTL: cfg.AccessTokenTTL,
	}
}
