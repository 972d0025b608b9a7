package token

import (
	"net/http"
	"strings"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Handler is the HTTP edge of the token, introspection, revocation and
// userinfo endpoints.
type Handler struct {
	Service *Service
	// PerIP and PerClient rate-limit the token endpoint; nil disables.
	PerIP, PerClient *httpx.RateLimiter
}

// Token serves POST at the token endpoint.
func (h *Handler) Token(w http.ResponseWriter, r *http.Request) error {
	if err := h.PerIP.Allow("token:" + httpx.ClientIP(r)); err != nil {
		return err
	}
	form, err := httpx.ParseForm(w, r, 0)
	if err != nil {
		return err
	}
	creds, err := clients.ParseCredentials(r.Header.Get("Authorization"), form)
	if err != nil {
		return err
	}
	if err := h.PerClient.Allow("token:" + creds.ClientID + creds.BasicID); err != nil {
		return err
	}
	req := &Request{
		GrantType:    form.Get("grant_type"),
		Code:         form.Get("code"),
		RedirectURI:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"),
		Scope:        form.Get("scope"),
		ScopeSet:     form.Has("scope"),
		Resource:     form["resource"],
		Credentials:  creds,
	}
	res, err := h.Service.Exchange(r.Context(), req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

// Introspect serves POST at the introspection endpoint (RFC 7662).
func (h *Handler) Introspect(w http.ResponseWriter, r *http.Request) error {
	form, err := httpx.ParseForm(w, r, 0)
	if err != nil {
		return err
	}
	creds, err := clients.ParseCredentials(r.Header.Get("Authorization"), form)
	if err != nil {
		return err
	}
	res, err := h.Service.Introspect(r.Context(), creds, form.Get("token"), form.Get("token_type_hint"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

// Revoke serves POST at the revocation endpoint (RFC 7009).
func (h *Handler) Revoke(w http.ResponseWriter, r *http.Request) error {
	form, err := httpx.ParseForm(w, r, 0)
	if err != nil {
		return err
	}
	creds, err := clients.ParseCredentials(r.Header.Get("Authorization"), form)
	if err != nil {
		return err
	}
	if err := h.Service.Revoke(r.Context(), creds, form.Get("token"), form.Get("token_type_hint")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

// Userinfo serves GET and POST at the userinfo endpoint. The token is read
// from the Authorization header only (RFC 6750 §2.1); a token in the query
// is refused (FAPI 2.0 SP §5.3.4-2).
func (h *Handler) Userinfo(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Has("access_token") {
		return oauth.New(oauth.ErrInvalidRequest, "access tokens are accepted only in the Authorization header")
	}
	tok, ok := bearer(r.Header.Values("Authorization"))
	if !ok {
		// RFC 6750 §3.1: no credentials → 401 with a bare challenge.
		return &oauth.Error{Code: oauth.ErrInvalidToken, Description: "an access token is required", Scheme: "Bearer"}
	}
	claims, err := h.Service.Userinfo(r.Context(), tok)
	if err != nil {
		if oe, ok := oauth.As(err); ok && oe.Scheme == "" && (oe.Code == oauth.ErrInvalidToken || oe.Code == oauth.ErrInsufficientScope) {
			c := *oe
			c.Scheme = "Bearer"
			return &c
		}
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, claims)
	return nil
}

// bearer extracts a Bearer token from exactly one Authorization header.
// The scheme is case-insensitive (RFC 9110 §11.1).
func bearer(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != "" && len(tok) <= 16<<10
}
