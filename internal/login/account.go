package login

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"time"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// Account is what the self-service page needs: the applications a user
// authorised and a way to revoke one (which revokes its grants). Package
// admin implements it.
type Account interface {
	Applications(ctx context.Context, subject string) ([]oauth.Application, error)
	RevokeApplication(ctx context.Context, subject, clientID string) error
}

// Paths of the account page, below the issuer's path.
const (
	PathAccount         = "/account"
	PathAccountLogin    = "/account/login"
	PathAccountRevoke   = "/account/revoke"
	PathAccountAppsJSON = "/account/applications"
)

// csrfHeader carries the double-submit token on JSON calls.
const csrfHeader = "X-CSRF-Token"

type appView struct {
	ClientID, ClientName string
	GrantedAt            time.Time
	Scopes               []scopeView
}

type accountData struct {
	pageData
	Apps []appView
}

// ShowAccount serves the account page: the sign-in form without a
// session, the list of authorised applications with one.
func (p *Pages) ShowAccount(w http.ResponseWriter, r *http.Request) error {
	s, _, err := p.session(r)
	if err != nil {
		return err
	}
	if s == nil {
		return p.renderAccountLogin(w, r, http.StatusOK, "", "")
	}
	return p.renderAccount(w, r, s, "")
}

func (p *Pages) renderAccountLogin(w http.ResponseWriter, r *http.Request, status int, username, msg string) error {
	return p.render(w, status, "login.html", pageData{
		Title: "Sign in", Action: p.BasePath + PathAccountLogin, CSRF: p.csrfToken(w, r),
		ClientName: "your account", Username: username, Error: msg,
	})
}

func (p *Pages) renderAccount(w http.ResponseWriter, r *http.Request, s *store.Session, msg string) error {
	apps, err := p.Account.Applications(r.Context(), s.Subject)
	if err != nil {
		return err
	}
	u, err := p.Users.Get(r.Context(), s.Subject)
	if err != nil {
		return oauth.Unavailable(err)
	}
	d := accountData{pageData: pageData{
		Title: "Your applications", Action: p.BasePath + PathAccountRevoke, CSRF: p.csrfToken(w, r),
		Username: u.Username, Error: msg,
	}}
	for _, a := range apps {
		d.Apps = append(d.Apps, appView{ClientID: a.ClientID, ClientName: a.ClientName, GrantedAt: a.GrantedAt, Scopes: scopeViews(a.Scopes)})
	}
	return p.renderAny(w, http.StatusOK, "account.html", d)
}

// HandleAccountLogin signs the user in from the account page.
func (p *Pages) HandleAccountLogin(w http.ResponseWriter, r *http.Request) error {
	form, err := p.checkPost(w, r)
	if err != nil {
		return err
	}
	u, status, msg, err := p.login(w, r, form)
	if err != nil {
		return err
	}
	if u == nil {
		return p.renderAccountLogin(w, r, status, form.Get("username"), msg)
	}
	if _, err := p.startSession(w, r, u.Subject); err != nil {
		return err
	}
	http.Redirect(w, r, p.BasePath+PathAccount, http.StatusSeeOther)
	return nil
}

// HandleAccountRevoke revokes one application from the page's form.
func (p *Pages) HandleAccountRevoke(w http.ResponseWriter, r *http.Request) error {
	form, err := p.checkPost(w, r)
	if err != nil {
		return err
	}
	s, _, err := p.session(r)
	if err != nil {
		return err
	}
	if s == nil {
		return p.renderAccountLogin(w, r, http.StatusOK, "", "Your session ended. Sign in again.")
	}
	if err := p.Account.RevokeApplication(r.Context(), s.Subject, form.Get("client_id")); err != nil {
		return err
	}
	http.Redirect(w, r, p.BasePath+PathAccount, http.StatusSeeOther)
	return nil
}

// accountSession is the session of a JSON call; without one it is an
// invalid_token failure (401), not a login page.
func (p *Pages) accountSession(r *http.Request) (*store.Session, error) {
	s, _, err := p.session(r)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, &oauth.Error{Code: oauth.ErrInvalidToken, Description: "sign in at " + p.BasePath + PathAccount, Scheme: "Session"}
	}
	return s, nil
}

// ListApplications is the JSON API of the account page: the signed-in
// user's applications and the CSRF token that DeleteApplication needs.
func (p *Pages) ListApplications(w http.ResponseWriter, r *http.Request) error {
	s, err := p.accountSession(r)
	if err != nil {
		return err
	}
	apps, err := p.Account.Applications(r.Context(), s.Subject)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"applications": apps, "csrf_token": p.csrfToken(w, r)})
	return nil
}

// DeleteApplication revokes ?client_id= for the signed-in user. It needs
// the CSRF token in the X-CSRF-Token header, matching the cookie, so
// another site cannot make the browser call it.
func (p *Pages) DeleteApplication(w http.ResponseWriter, r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		return &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "cross-site request refused", Status: http.StatusForbidden}
	}
	c, err := r.Cookie(p.cookieName(csrfCookie))
	tok := r.Header.Get(csrfHeader)
	if err != nil || c.Value == "" || tok == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(tok)) != 1 {
		return &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "the X-CSRF-Token header is missing or wrong", Status: http.StatusForbidden}
	}
	s, err := p.accountSession(r)
	if err != nil {
		return err
	}
	if err := p.Account.RevokeApplication(r.Context(), s.Subject, r.URL.Query().Get("client_id")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// audit records a consent decision.
func (p *Pages) audit(ctx context.Context, action, subject, clientID string, scopes oauth.Scopes) {
	if p.Audit == nil {
		return
	}
	details, _ := json.Marshal(map[string]string{"scope": scopes.String()})
	p.Audit(ctx, &store.AuditEvent{
		Time: p.now(), Action: action, Actor: "user:" + subject, Target: "consent:" + subject + "/" + clientID,
		Outcome: "success", Details: details,
	})
}
