package bff

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// maxLogoutBody bounds the back-channel logout request.
const maxLogoutBody = 32 << 10

// unauthenticated answers an API-style request without a session: 401
// JSON, never a redirect (a fetch would follow it to the provider's page).
func (b *BFF) unauthenticated(w http.ResponseWriter, err error) error {
	if !errors.Is(err, errNoSession) {
		return err
	}
	b.clearSessionCookie(w)
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "error_description": "sign in at " + PathStart})
	return nil
}

// userinfo is GET /oauth2/userinfo: the ID token's claims as JSON.
func (b *BFF) userinfo(w http.ResponseWriter, r *http.Request) error {
	s, err := b.load(r.Context(), r)
	if err != nil {
		return b.unauthenticated(w, err)
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, s.data.Claims)
	return nil
}

// auth is GET /oauth2/auth for nginx auth_request: 202 with the
// identity headers (and the access token when PassAccessToken), 401
// without a live session.
func (b *BFF) auth(w http.ResponseWriter, r *http.Request) error {
	s, err := b.load(r.Context(), r)
	if err != nil {
		if errors.Is(err, errNoSession) {
			b.clearSessionCookie(w)
			w.WriteHeader(http.StatusUnauthorized)
			return nil
		}
		return err
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Auth-Request-User", s.rec.Subject)
	if e, ok := s.data.Claims["email"].(string); ok {
		h.Set("X-Auth-Request-Email", e)
	}
	if u, ok := s.data.Claims["preferred_username"].(string); ok {
		h.Set("X-Auth-Request-Preferred-Username", u)
	}
	if g := groups(s.data.Claims[orString(b.cfg.GroupsClaim, "groups")]); g != "" {
		h.Set("X-Auth-Request-Groups", g)
	}
	if b.cfg.PassAccessToken {
		h.Set("X-Auth-Request-Access-Token", s.data.AccessToken)
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// groups renders a groups claim (a list of strings, or one string) as a
// comma-separated header value, dropping values that would break it.
func groups(v any) string {
	var out []string
	add := func(s string) {
		if s != "" && !strings.ContainsAny(s, ",\r\n") {
			out = append(out, s)
		}
	}
	switch g := v.(type) {
	case string:
		add(g)
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				add(s)
			}
		}
	}
	return strings.Join(out, ",")
}

// backchannel is POST /oauth2/backchannel_logout (OIDC Back-Channel
// Logout 1.0 §2.5): the logout_token is validated (§2.6, in
// client.VerifyLogoutToken), its jti used once, and the sessions of its
// sid, or else of its sub, ended. Errors are 400 with an OAuth error body
// (§2.8).
func (b *BFF) backchannel(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	form, err := httpx.ParseForm(w, r, maxLogoutBody)
	if err != nil {
		return err
	}
	raw := form.Get("logout_token")
	if raw == "" {
		return oauth.InvalidRequest("logout_token is required")
	}
	lt, err := b.oc.VerifyLogoutToken(r.Context(), raw)
	if err != nil {
		b.log.Info("bff: logout token rejected", "error", err.Error())
		return oauth.InvalidRequest("the logout token is not valid")
	}
	// §2.6 step 10: "Optionally verify that another Logout Token with the
	// same jti value has not been recently received."
	if err := b.replay.Use(r.Context(), "bff-logout:"+b.cfg.Issuer+"#"+lt.ID, lt.Expiry); err != nil {
		if errors.Is(err, store.ErrReplayed) {
			return oauth.InvalidRequest("the logout token was already used")
		}
		return err
	}
	n, err := b.sessions.DeleteBySubject(r.Context(), lt.Subject, lt.SessionID)
	if err == nil && n == 0 && lt.SessionID != "" && lt.Subject != "" {
		// No session carries that sid (the provider sent none in the ID
		// token): end the user's sessions rather than none.
		n, err = b.sessions.DeleteBySubject(r.Context(), lt.Subject, "")
	}
	if err != nil {
		return fmt.Errorf("bff: back-channel logout: %w", err)
	}
	for range n {
		b.metrics.SessionEnded("backchannel_logout")
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
