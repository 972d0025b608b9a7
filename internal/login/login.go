package login

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Flow is the authorization request behind the pages. Package authorize
// implements it. Errors are *oauth.Error values to show as a page; a
// failure the client should receive comes back as a location.
type Flow interface {
	Load(ctx context.Context, handle string) (*oauth.Interaction, error)
	Complete(ctx context.Context, handle string, a oauth.Approval) (location string, err error)
	Deny(ctx context.Context, handle string, e *oauth.Error) (location string, err error)
}

// Pages serves the login and consent pages. Flow, Users, Sessions,
// Consents and Log are required. It is safe for concurrent use.
type Pages struct {
	Flow     Flow
	Users    store.Users
	Sessions store.Sessions
	Consents store.Consents
	Log      *slog.Logger
	// Secure marks cookies Secure with the __Host- prefix. It must be true
	// whenever the issuer is https.
	Secure bool
	// BasePath is the issuer's path, prefixed to the form actions.
	BasePath string
	// SessionTTL is the browser session lifetime; 0 means 8 hours.
	SessionTTL time.Duration
	// PerIP rate-limits failed login attempts and, under separate keys,
	// failed device user-code entries; nil disables both.
	PerIP *httpx.RateLimiter
	Now   func() time.Time
	// Device is the device flow behind the /device pages; nil refuses
	// their form posts.
	Device DeviceFlow
	// Account lists and revokes the user's authorised applications for
	// the /account page; nil serves no account page.
	Account Account
	// Audit, when set, records consents as they are given.
	Audit func(ctx context.Context, e *store.AuditEvent)
}

func (p *Pages) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pages) cookieName(base string) string {
	if p.Secure {
		return "__Host-" + base
	}
	return base
}

const (
	sessionCookie = "bulwark_session"
	csrfCookie    = "bulwark_csrf"
)

// session returns the browser's current session, or nil.
func (p *Pages) session(r *http.Request) (*store.Session, string, error) {
	c, err := r.Cookie(p.cookieName(sessionCookie))
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, "", nil
	}
	h := store.Hash(c.Value)
	s, err := p.Sessions.Get(r.Context(), h)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", oauth.Unavailable(err)
	}
	// A disabled or deleted account ends its sessions at once, whichever
	// store holds them.
	u, err := p.Users.Get(r.Context(), s.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", oauth.Unavailable(err)
	}
	if u.Disabled {
		return nil, "", nil
	}
	return s, h, nil
}

// Show implements authorize.UI: it continues an interaction for the
// browser behind r.
func (p *Pages) Show(w http.ResponseWriter, r *http.Request, in *oauth.Interaction) error {
	s, _, err := p.session(r)
	if err != nil {
		return err
	}
	if s != nil && p.needsLogin(s, in) {
		s = nil
	}
	if s == nil {
		if slices.Contains(in.Prompt, "none") {
			return p.deny(w, r, in.Handle, oauth.New(oauth.ErrLoginRequired, "the user is not logged in"))
		}
		return p.renderLogin(w, r, http.StatusOK, in, in.LoginHint, "")
	}
	return p.proceed(w, r, in, s)
}

// needsLogin applies OIDC prompt=login and max_age to an existing session.
func (p *Pages) needsLogin(s *store.Session, in *oauth.Interaction) bool {
	if slices.Contains(in.Prompt, "login") {
		return true
	}
	return in.MaxAge >= 0 && p.now().Sub(s.AuthTime) > time.Duration(in.MaxAge)*time.Second
}

// proceed runs the consent step for a logged-in user.
func (p *Pages) proceed(w http.ResponseWriter, r *http.Request, in *oauth.Interaction, s *store.Session) error {
	ctx := r.Context()
	c, err := p.Consents.Get(ctx, s.Subject, in.ClientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return oauth.Unavailable(err)
	}
	if c != nil && !slices.Contains(in.Prompt, "consent") {
		granted, _ := oauth.ParseScopes(c.Scopes)
		if in.Scopes.SubsetOf(granted) {
			return p.complete(w, r, in, s)
		}
	}
	if slices.Contains(in.Prompt, "none") {
		return p.deny(w, r, in.Handle, oauth.New(oauth.ErrConsentRequired, "the user has not consented"))
	}
	u, err := p.Users.Get(ctx, s.Subject)
	if err != nil {
		return oauth.Unavailable(err)
	}
	return p.renderConsent(w, r, in, u.Username)
}

func (p *Pages) complete(w http.ResponseWriter, r *http.Request, in *oauth.Interaction, s *store.Session) error {
	loc, err := p.Flow.Complete(r.Context(), in.Handle, oauth.Approval{Subject: s.Subject, AuthTime: s.AuthTime, Scopes: in.Scopes})
	if err != nil {
		return err
	}
	// RFC 9700 §4.12 and FAPI 2.0 SP §5.3.2.2-11: 303 after the form post.
	http.Redirect(w, r, loc, http.StatusSeeOther)
	return nil
}

func (p *Pages) deny(w http.ResponseWriter, r *http.Request, handle string, e *oauth.Error) error {
	loc, err := p.Flow.Deny(r.Context(), handle, e)
	if err != nil {
		return err
	}
	http.Redirect(w, r, loc, http.StatusSeeOther)
	return nil
}

// HandleLogin serves the login form post.
func (p *Pages) HandleLogin(w http.ResponseWriter, r *http.Request) error {
	form, err := p.checkPost(w, r)
	if err != nil {
		return err
	}
	in, err := p.Flow.Load(r.Context(), form.Get("handle"))
	if err != nil {
		return err
	}
	u, status, msg, err := p.login(w, r, form)
	if err != nil {
		return err
	}
	if u == nil {
		return p.renderLogin(w, r, status, in, form.Get("username"), msg)
	}
	s, err := p.startSession(w, r, u.Subject)
	if err != nil {
		return err
	}
	return p.proceed(w, r, in, s)
}

// login checks a login form's credentials under the per-IP limit. A
// refused login returns no user and the status and message to show.
func (p *Pages) login(w http.ResponseWriter, r *http.Request, form url.Values) (*store.User, int, string, error) {
	// Only failed attempts count toward the limit, so a shared office IP
	// is not locked out by its users' successful logins.
	limitKey := "login:" + httpx.ClientIP(r)
	if err := p.PerIP.Exceeded(limitKey); err != nil {
		w.Header().Set("Retry-After", err.(*oauth.Error).Header["Retry-After"])
		return nil, http.StatusTooManyRequests, "Too many attempts. Wait a minute and try again.", nil
	}
	u, err := p.authenticate(r.Context(), form.Get("username"), form.Get("password"))
	if err != nil {
		var oe *oauth.Error
		if errors.As(err, &oe) {
			return nil, 0, "", err
		}
		p.PerIP.Allow(limitKey)
		p.Log.InfoContext(r.Context(), "login failed", slog.String("reason", err.Error()))
		return nil, http.StatusUnauthorized, "Incorrect username or password.", nil
	}
	return u, 0, "", nil
}

// dummyHash makes a login for an unknown user cost one argon2id run, like
// a login for a known one, so response time does not reveal which
// usernames exist.
var dummyHash, _ = secret.Hash("bulwark-dummy-password", secret.DefaultParams)

var errBadCredentials = errors.New("login: bad credentials")

func (p *Pages) authenticate(ctx context.Context, username, password string) (*store.User, error) {
	if username == "" || password == "" || len(username) > 256 || len(password) > 1024 {
		return nil, errBadCredentials
	}
	u, err := p.Users.GetByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		secret.Verify(password, dummyHash)
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	if err := secret.Verify(password, u.PasswordHash); err != nil || u.Disabled {
		return nil, errBadCredentials
	}
	return u, nil
}

// startSession creates a session for subject, replacing (and deleting) any
// session the browser had, so a session ID planted before login is never
// promoted (session fixation).
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, subject string) (*store.Session, error) {
	if _, old, err := p.session(r); err == nil && old != "" {
		if err := p.Sessions.Delete(r.Context(), old); err != nil {
			return nil, oauth.Unavailable(err)
		}
	}
	ttl := p.SessionTTL
	if ttl == 0 {
		ttl = 8 * time.Hour
	}
	now := p.now()
	id := randomString()
	s := &store.Session{Subject: subject, AuthTime: now, ExpiresAt: now.Add(ttl)}
	if err := p.Sessions.Put(r.Context(), store.Hash(id), s); err != nil {
		return nil, oauth.Unavailable(err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: p.cookieName(sessionCookie), Value: id, Path: "/", HttpOnly: true,
		Secure: p.Secure, SameSite: http.SameSiteLaxMode, Expires: s.ExpiresAt,
	})
	return s, nil
}

// HandleConsent serves the consent form post.
func (p *Pages) HandleConsent(w http.ResponseWriter, r *http.Request) error {
	form, err := p.checkPost(w, r)
	if err != nil {
		return err
	}
	handle := form.Get("handle")
	in, err := p.Flow.Load(r.Context(), handle)
	if err != nil {
		return err
	}
	s, _, err := p.session(r)
	if err != nil {
		return err
	}
	if s == nil {
		return p.renderLogin(w, r, http.StatusOK, in, "", "Your session ended. Sign in again.")
	}
	switch form.Get("decision") {
	case "approve":
		granted := in.Scopes
		if prev, err := p.Consents.Get(r.Context(), s.Subject, in.ClientID); err == nil {
			old, _ := oauth.ParseScopes(prev.Scopes)
			granted = granted.Union(old)
		}
		if err := p.Consents.Put(r.Context(), &store.Consent{Subject: s.Subject, ClientID: in.ClientID, Scopes: granted.String(), GrantedAt: p.now()}); err != nil {
			return oauth.Unavailable(err)
		}
		p.audit(r.Context(), "consent.grant", s.Subject, in.ClientID, granted)
		return p.complete(w, r, in, s)
	case "deny":
		return p.deny(w, r, handle, nil)
	default:
		return oauth.InvalidRequest("decision must be approve or deny")
	}
}

// checkPost parses a form post and enforces CSRF protection: the
// double-submit token must match the browser's CSRF cookie, and a
// cross-site Origin or Sec-Fetch-Site is refused outright.
func (p *Pages) checkPost(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "cross-site form post refused", Status: http.StatusForbidden}
	}
	form, err := httpx.ParseForm(w, r, 16<<10)
	if err != nil {
		return nil, err
	}
	c, err := r.Cookie(p.cookieName(csrfCookie))
	tok := form.Get("csrf_token")
	if err != nil || c.Value == "" || tok == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(tok)) != 1 {
		return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "the form expired; go back and try again", Status: http.StatusForbidden}
	}
	return form, nil
}

// csrfToken returns the browser's CSRF token, setting the cookie if absent.
func (p *Pages) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(p.cookieName(csrfCookie)); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := randomString()
	http.SetCookie(w, &http.Cookie{
		Name: p.cookieName(csrfCookie), Value: tok, Path: "/", HttpOnly: true,
		Secure: p.Secure, SameSite: http.SameSiteStrictMode,
	})
	return tok
}

type pageData struct {
	Title, Action, CSRF, Handle string
	ClientName, ClientID, Error string
	Username                    string
	Scopes                      []scopeView
	Code, Description           string
	// Hidden are further hidden form fields; UserCode is the device
	// flow's user code, shown or pre-filled.
	Hidden   []hiddenField
	UserCode string
}

type hiddenField struct{ Name, Value string }

type scopeView struct{ Name, Description string }

var scopeText = map[string]string{
	"openid":         "Confirm your identity",
	"profile":        "See your name and profile",
	"email":          "See your email address",
	"offline_access": "Keep access while you are away",
	"accounts":       "Read your account information",
}

func (p *Pages) renderLogin(w http.ResponseWriter, r *http.Request, status int, in *oauth.Interaction, username, msg string) error {
	return p.render(w, status, "login.html", pageData{
		Title: "Sign in", Action: p.BasePath + "/login", CSRF: p.csrfToken(w, r), Handle: in.Handle,
		ClientName: in.ClientName, ClientID: in.ClientID, Username: username, Error: msg,
	})
}

func (p *Pages) renderConsent(w http.ResponseWriter, r *http.Request, in *oauth.Interaction, username string) error {
	return p.render(w, http.StatusOK, "consent.html", pageData{
		Title: "Consent", Action: p.BasePath + "/consent", CSRF: p.csrfToken(w, r), Handle: in.Handle,
		ClientName: in.ClientName, ClientID: in.ClientID, Username: username, Scopes: scopeViews(in.Scopes),
	})
}

// scopeViews describes scopes for the consent page.
func scopeViews(scopes oauth.Scopes) []scopeView {
	var sv []scopeView
	for _, s := range scopes {
		d, ok := scopeText[s]
		if !ok {
			d = "Use the " + s + " permission"
		}
		sv = append(sv, scopeView{Name: s, Description: d})
	}
	return sv
}

// ShowError implements authorize.UI.
func (p *Pages) ShowError(w http.ResponseWriter, r *http.Request, status int, e *oauth.Error) {
	desc := e.Description
	if desc == "" || e.Code == oauth.ErrServerError {
		desc = "The request could not be processed."
	}
	if err := p.render(w, status, "error.html", pageData{Title: "Error", Code: e.Code, Description: desc}); err != nil {
		p.Log.ErrorContext(r.Context(), "render error page", slog.Any("cause", err))
	}
}

// RenderFailure shows err (from a form post handler) as an error page.
func (p *Pages) RenderFailure(w http.ResponseWriter, r *http.Request, err error) {
	oe, ok := oauth.As(err)
	if !ok {
		oe = oauth.ServerError(err)
	}
	p.Log.InfoContext(r.Context(), "login page error", slog.String("error", oe.Code), slog.Any("cause", oe.Cause))
	p.ShowError(w, r, oe.HTTPStatus(), oe)
}

func (p *Pages) render(w http.ResponseWriter, status int, name string, data pageData) error {
	return p.renderAny(w, status, name, data)
}

// renderAny executes template name with data of any shape.
func (p *Pages) renderAny(w http.ResponseWriter, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func randomString() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("login: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
