package bff

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// pendingLogin is what the store keeps between start and callback.
type pendingLogin struct {
	Request *client.AuthRequest `json:"req"`
	Return  string              `json:"rd"`
}

// start is GET /oauth2/start?rd=/path: it begins a login with fresh
// state, nonce and PKCE verifier (client.StartAuth), keeps them
// server-side under the hash of a random handle, gives the browser only
// the handle in a short-lived __Host- cookie, and redirects to the
// provider.
func (b *BFF) start(w http.ResponseWriter, r *http.Request) error {
	// FAPI 2.0 SP §5.3.3.1-12 (CL-12): start a login only on the user's
	// behalf. A top-level navigation (a link, a redirect) is that; a
	// cross-site subresource or script request is not.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.Header.Get("Sec-Fetch-Mode") != "navigate" {
		return &oauth.Error{Code: oauth.ErrAccessDenied, Description: "a login starts only from a navigation", Status: http.StatusForbidden}
	}
	rd, ok := localPath(r.URL.Query().Get("rd"))
	if !ok {
		// CL-4: never an open redirector.
		return oauth.InvalidRequest("rd must be a path on this site")
	}
	ar, err := b.oc.StartAuth(r.Context(), client.AuthOptions{RedirectURI: b.base.String() + PathCallback, RequirePAR: b.cfg.RequirePAR})
	if err != nil {
		return oauth.New(oauth.ErrTemporarilyUnavailable, "the provider refused the login request").WithCause(err)
	}
	data, err := json.Marshal(pendingLogin{Request: ar, Return: rd})
	if err != nil {
		return err
	}
	handle := newID()
	if err := b.logins.Put(r.Context(), store.Hash(handle), data, b.cfg.now().Add(b.loginTimeout)); err != nil {
		return err
	}
	// Lax: the provider's redirect back is a cross-site top-level GET.
	http.SetCookie(w, b.cookie(b.loginName, handle, int(b.loginTimeout/time.Second), http.SameSiteLaxMode))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, ar.URL, http.StatusFound)
	return nil
}

// callback is GET /oauth2/callback: the login cookie's handle must name a
// pending login (taken once, so a replayed callback fails), then
// client.FinishAuth checks iss and state, redeems the code with the PKCE
// verifier and validates the ID token. The session gets a new ID (any old
// session of the browser is ended: no fixation).
func (b *BFF) callback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	c, err := r.Cookie(b.loginName)
	if err != nil || c.Value == "" {
		b.metrics.Login("rejected")
		return &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "no login in progress in this browser", Status: http.StatusBadRequest}
	}
	http.SetCookie(w, b.cookie(b.loginName, "", -1, http.SameSiteLaxMode))
	data, err := b.logins.Take(ctx, store.Hash(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		b.metrics.Login("rejected")
		return oauth.InvalidRequest("the login expired or was already completed")
	}
	if err != nil {
		return err
	}
	var p pendingLogin
	if err := json.Unmarshal(data, &p); err != nil || p.Request == nil {
		return fmt.Errorf("bff: pending login: %v", err)
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		b.metrics.Login("rejected")
		return oauth.InvalidRequest("malformed query")
	}
	tok, idt, err := b.oc.FinishAuth(ctx, p.Request, q)
	if err != nil {
		b.metrics.Login("rejected")
		b.log.Info("bff: login rejected", "error", err.Error())
		if errors.Is(err, client.ErrAccessDenied) {
			return &oauth.Error{Code: oauth.ErrAccessDenied, Description: "the login was not approved", Status: http.StatusForbidden}
		}
		return &oauth.Error{Code: oauth.ErrAccessDenied, Description: "the login response was rejected", Status: http.StatusBadRequest}
	}
	if b.md.UserinfoEndpoint != "" {
		// Profile claims (email, name, groups) are often only here.
		info, err := b.oc.UserInfo(ctx, tok, idt.Subject)
		if err != nil {
			b.metrics.Login("error")
			return oauth.New(oauth.ErrTemporarilyUnavailable, "the provider's userinfo failed").WithCause(err)
		}
		merged := info
		for k, v := range idt.Claims {
			merged[k] = v // the signed ID token wins
		}
		idt.Claims = merged
	}
	if old, err := r.Cookie(b.cookieName); err == nil && old.Value != "" {
		b.sessions.Delete(ctx, store.Hash(old.Value))
		b.metrics.SessionEnded("rotated")
	}
	id, err := b.create(ctx, tok, idt)
	if err != nil {
		return err
	}
	b.metrics.Login("ok")
	http.SetCookie(w, b.cookie(b.cookieName, id, int(b.lifetime/time.Second), b.sameSite))
	http.Redirect(w, r, p.Return, http.StatusSeeOther)
	return nil
}

// signOut is /oauth2/sign_out (GET or POST): the session is deleted and
// its cookie cleared, the refresh token revoked when the provider has a
// revocation endpoint, and, when the provider advertises an
// end_session_endpoint, the browser is sent there (OpenID Connect
// RP-Initiated Logout 1.0 §2) with id_token_hint and the registered
// post_logout_redirect_uri; otherwise to rd (local only) or "/".
func (b *BFF) signOut(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		return &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "method not allowed", Status: http.StatusMethodNotAllowed}
	}
	// Another site must not sign the user out (logout CSRF): browsers say
	// where a request comes from in Sec-Fetch-Site.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return &oauth.Error{Code: oauth.ErrAccessDenied, Description: "sign-out from another site", Status: http.StatusForbidden}
	}
	rd, ok := localPath(r.URL.Query().Get("rd"))
	if !ok {
		return oauth.InvalidRequest("rd must be a path on this site")
	}
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	var idToken string
	if c, err := r.Cookie(b.cookieName); err == nil && c.Value != "" {
		hash := store.Hash(c.Value)
		if s, err := b.get(ctx, hash); err == nil {
			idToken = s.data.IDToken
			if s.data.RefreshToken != "" && b.md.RevocationEndpoint != "" {
				if err := b.oc.Revoke(ctx, s.data.RefreshToken, "refresh_token"); err != nil {
					b.log.Info("bff: revoking the refresh token failed", "error", err.Error())
				}
			}
		}
		if err := b.sessions.Delete(ctx, hash); err != nil {
			return err
		}
		b.metrics.SessionEnded("sign_out")
	}
	b.clearSessionCookie(w)
	if b.md.EndSessionEndpoint == "" {
		http.Redirect(w, r, rd, http.StatusSeeOther)
		return nil
	}
	post := b.cfg.PostLogoutRedirectURI
	if post == "" {
		post = b.base.String() + "/"
	}
	q := url.Values{"client_id": {b.cfg.ClientID}, "post_logout_redirect_uri": {post}}
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	u, err := url.Parse(b.md.EndSessionEndpoint)
	if err != nil {
		return err
	}
	uq := u.Query()
	for k, v := range q {
		uq[k] = v
	}
	u.RawQuery = uq.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return nil
}
