package admin

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// TokenChecker verifies an access token of this server presented on r
// (Authorization header, DPoP proof or client certificate as the token's
// binding demands) and reports what it grants. Package authserver
// implements it with the token package's protected-resource check, so
// signature, issuer, expiry, revocation and sender constraint are checked
// exactly as at the userinfo endpoint.
type TokenChecker interface {
	Check(r *http.Request) (*TokenInfo, error)
}

// maxBody bounds admin request bodies.
const maxBody = 64 << 10

// Mount adds the admin API under base+"/admin/" and, when
// mountRegistration is set and registration enabled, the RFC 7591/7592
// endpoints under base+"/register" to mux.
// wrap turns a handler into an http.Handler (error rendering, metrics).
func (s *Service) Mount(mux *http.ServeMux, base string, wrap func(name string, h httpx.HandlerFunc) http.Handler, mountRegistration bool) {
	a := func(pattern string, h func(w http.ResponseWriter, r *http.Request, who Caller) error) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" "+base+path, wrap("admin", func(w http.ResponseWriter, r *http.Request) error {
			who, err := s.Authenticate(r)
			if err != nil {
				return err
			}
			return h(w, r, who)
		}))
	}
	a("GET /admin/clients", s.hListClients)
	a("POST /admin/clients", s.hCreateClient)
	a("GET /admin/clients/{id}", s.hGetClient)
	a("PUT /admin/clients/{id}", s.hUpdateClient)
	a("DELETE /admin/clients/{id}", s.hDeleteClient)
	a("POST /admin/clients/{id}/secret", s.hRotateSecret)
	a("GET /admin/users", s.hListUsers)
	a("POST /admin/users", s.hCreateUser)
	a("GET /admin/users/{sub}", s.hGetUser)
	a("POST /admin/users/{sub}/disable", s.hDisable(true))
	a("POST /admin/users/{sub}/enable", s.hDisable(false))
	a("POST /admin/users/{sub}/password", s.hResetPassword)
	a("GET /admin/consents", s.hListConsents)
	a("DELETE /admin/consents", s.hRevokeConsent)
	a("GET /admin/keys", s.hListKeys)
	a("POST /admin/keys/rotate", s.hRotateKeys)
	a("GET /admin/sessions", s.hListSessions)
	a("DELETE /admin/sessions", s.hEndUserSessions)
	a("DELETE /admin/sessions/{id}", s.hEndSession)
	a("GET /admin/audit", s.hListAudit)
	if mountRegistration {
		s.MountRegistration(mux, base, wrap)
	}
}

// MountRegistration adds only the RFC 7591/7592 endpoints, when
// registration is enabled; Mount calls it.
func (s *Service) MountRegistration(mux *http.ServeMux, base string, wrap func(name string, h httpx.HandlerFunc) http.Handler) {
	if !s.Registration.Enabled() {
		return
	}
	mux.Handle("POST "+base+"/register", wrap("register", s.hRegister))
	mux.Handle("GET "+base+"/register/{id}", wrap("register", s.hReadRegistration))
	mux.Handle("PUT "+base+"/register/{id}", wrap("register", s.hUpdateRegistration))
	mux.Handle("DELETE "+base+"/register/{id}", wrap("register", s.hDeleteRegistration))
}

// bearer returns the token of an "Authorization: <scheme> <token>"
// header and its scheme; both empty without one.
func bearer(r *http.Request) (scheme, tok string) {
	vs := r.Header.Values("Authorization")
	if len(vs) != 1 {
		return "", ""
	}
	scheme, tok, ok := strings.Cut(vs[0], " ")
	if !ok {
		return "", ""
	}
	return scheme, strings.TrimSpace(tok)
}

var errNoCredentials = &oauth.Error{Code: oauth.ErrInvalidToken, Description: "admin credentials are required"}

// Authenticate decides who calls the admin API: a configured admin token
// (Bearer), or an access token of this server with the admin scope. Every
// refusal is audited.
func (s *Service) Authenticate(r *http.Request) (Caller, error) {
	who, err := s.authenticate(r)
	if err != nil {
		s.record(r.Context(), "anonymous", "admin.auth_failed", r.Method+" "+r.URL.Path, err, map[string]any{"ip": httpx.ClientIP(r)})
	}
	return who, err
}

func (s *Service) authenticate(r *http.Request) (Caller, error) {
	scheme, tok := bearer(r)
	if tok == "" {
		return Caller{}, errNoCredentials
	}
	if strings.EqualFold(scheme, "Bearer") && s.adminToken(tok) {
		return Caller{Actor: "admin-token"}, nil
	}
	if s.Tokens == nil {
		return Caller{}, &oauth.Error{Code: oauth.ErrInvalidToken, Description: "the admin credentials are not valid"}
	}
	info, err := s.Tokens.Check(r)
	if err != nil {
		return Caller{}, err
	}
	if !info.Scopes.Has(s.scope()) {
		return Caller{}, &oauth.Error{Code: oauth.ErrInsufficientScope, Description: "the access token lacks the " + s.scope() + " scope"}
	}
	return Caller{Actor: "token:" + info.Subject}, nil
}

// page reads ?limit= and ?after= .
func page(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{After: q.Get("after")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxPageLimit {
			return p, oauth.InvalidRequest("limit must be 1 to " + strconv.Itoa(store.MaxPageLimit))
		}
		p.Limit = n
	}
	return p, nil
}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if err := httpx.DecodeJSON(w, r, maxBody, v); err != nil {
		return oauth.InvalidRequest("the body must be one JSON object of the documented shape")
	}
	return nil
}

func reply(w http.ResponseWriter, status int, v any) error {
	httpx.WriteJSON(w, status, v)
	return nil
}

func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func replyOr[T any](w http.ResponseWriter, status int, v T, err error) error {
	if err != nil {
		return err
	}
	return reply(w, status, v)
}

// listed answers a list request: the page from the query, then list.
func listed[T any](w http.ResponseWriter, r *http.Request, list func(p store.Page) (T, error)) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	v, err := list(p)
	return replyOr(w, http.StatusOK, v, err)
}

func (s *Service) hListClients(w http.ResponseWriter, r *http.Request, _ Caller) error {
	return listed(w, r, func(p store.Page) (Page[ClientView], error) { return s.ListClients(r.Context(), p) })
}

func (s *Service) hGetClient(w http.ResponseWriter, r *http.Request, _ Caller) error {
	v, err := s.GetClient(r.Context(), r.PathValue("id"))
	return replyOr(w, http.StatusOK, v, err)
}

func (s *Service) hCreateClient(w http.ResponseWriter, r *http.Request, who Caller) error {
	var c clients.Client
	if err := decode(w, r, &c); err != nil {
		return err
	}
	v, err := s.CreateClient(r.Context(), who, &c)
	return replyOr(w, http.StatusCreated, v, err)
}

func (s *Service) hUpdateClient(w http.ResponseWriter, r *http.Request, who Caller) error {
	var c clients.Client
	if err := decode(w, r, &c); err != nil {
		return err
	}
	v, err := s.UpdateClient(r.Context(), who, r.PathValue("id"), &c)
	return replyOr(w, http.StatusOK, v, err)
}

func (s *Service) hDeleteClient(w http.ResponseWriter, r *http.Request, who Caller) error {
	return noContent(w, s.DeleteClient(r.Context(), who, r.PathValue("id")))
}

func (s *Service) hRotateSecret(w http.ResponseWriter, r *http.Request, who Caller) error {
	v, err := s.RotateSecret(r.Context(), who, r.PathValue("id"))
	return replyOr(w, http.StatusOK, v, err)
}

func (s *Service) hListUsers(w http.ResponseWriter, r *http.Request, _ Caller) error {
	return listed(w, r, func(p store.Page) (Page[UserView], error) { return s.ListUsers(r.Context(), p) })
}

func (s *Service) hGetUser(w http.ResponseWriter, r *http.Request, _ Caller) error {
	v, err := s.GetUser(r.Context(), r.PathValue("sub"))
	return replyOr(w, http.StatusOK, v, err)
}

func (s *Service) hCreateUser(w http.ResponseWriter, r *http.Request, who Caller) error {
	var nu NewUser
	if err := decode(w, r, &nu); err != nil {
		return err
	}
	v, err := s.CreateUser(r.Context(), who, nu)
	return replyOr(w, http.StatusCreated, v, err)
}

func (s *Service) hDisable(disabled bool) func(w http.ResponseWriter, r *http.Request, who Caller) error {
	return func(w http.ResponseWriter, r *http.Request, who Caller) error {
		v, err := s.SetDisabled(r.Context(), who, r.PathValue("sub"), disabled)
		return replyOr(w, http.StatusOK, v, err)
	}
}

func (s *Service) hResetPassword(w http.ResponseWriter, r *http.Request, who Caller) error {
	var body struct {
		Password string `json:"password"`
	}
	if err := decode(w, r, &body); err != nil {
		return err
	}
	return noContent(w, s.ResetPassword(r.Context(), who, r.PathValue("sub"), body.Password))
}

func (s *Service) hListConsents(w http.ResponseWriter, r *http.Request, _ Caller) error {
	q := r.URL.Query()
	return listed(w, r, func(p store.Page) (Page[ConsentView], error) {
		return s.ListConsents(r.Context(), q.Get("subject"), q.Get("client_id"), p)
	})
}

func (s *Service) hRevokeConsent(w http.ResponseWriter, r *http.Request, who Caller) error {
	q := r.URL.Query()
	return noContent(w, s.RevokeConsent(r.Context(), who, q.Get("subject"), q.Get("client_id")))
}

func (s *Service) hListKeys(w http.ResponseWriter, r *http.Request, _ Caller) error {
	v, err := s.ListKeys(r.Context())
	return replyOr(w, http.StatusOK, Page[KeyView]{Items: v}, err)
}

func (s *Service) hRotateKeys(w http.ResponseWriter, r *http.Request, who Caller) error {
	body := struct {
		PublishAhead string `json:"publish_ahead"`
		RetireAfter  string `json:"retire_after"`
	}{"10m", "1h"}
	if r.ContentLength != 0 {
		if err := decode(w, r, &body); err != nil {
			return err
		}
	}
	ahead, err1 := time.ParseDuration(body.PublishAhead)
	retire, err2 := time.ParseDuration(body.RetireAfter)
	if err := errors.Join(err1, err2); err != nil {
		return oauth.InvalidRequest("publish_ahead and retire_after must be durations such as 10m")
	}
	v, err := s.RotateKeys(r.Context(), who, ahead, retire)
	return replyOr(w, http.StatusOK, v, err)
}

func (s *Service) hListSessions(w http.ResponseWriter, r *http.Request, _ Caller) error {
	return listed(w, r, func(p store.Page) (Page[SessionView], error) {
		return s.ListSessions(r.Context(), r.URL.Query().Get("subject"), p)
	})
}

func (s *Service) hEndSession(w http.ResponseWriter, r *http.Request, who Caller) error {
	return noContent(w, s.EndSession(r.Context(), who, r.PathValue("id")))
}

func (s *Service) hEndUserSessions(w http.ResponseWriter, r *http.Request, who Caller) error {
	return noContent(w, s.EndUserSessions(r.Context(), who, r.URL.Query().Get("subject")))
}

func (s *Service) hListAudit(w http.ResponseWriter, r *http.Request, _ Caller) error {
	return listed(w, r, func(p store.Page) (Page[AuditView], error) {
		return s.ListAudit(r.Context(), r.URL.Query().Get("action"), p)
	})
}

// readMetadata reads and parses a registration body.
func readMetadata(w http.ResponseWriter, r *http.Request) (*Metadata, error) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, invalidMetadata("the request must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMetadataBytes))
	if err != nil {
		return nil, invalidMetadata("the request is too large")
	}
	return ParseMetadata(body)
}

func registrationToken(r *http.Request) string {
	if scheme, tok := bearer(r); strings.EqualFold(scheme, "Bearer") {
		return tok
	}
	return ""
}

func (s *Service) hRegister(w http.ResponseWriter, r *http.Request) error {
	tok := registrationToken(r)
	if err := s.checkInitialToken(tok); err != nil {
		return err
	}
	m, err := readMetadata(w, r)
	if err != nil {
		return err
	}
	resp, err := s.Register(r.Context(), tok, m)
	if err != nil {
		return err
	}
	w.Header().Set("Location", resp.RegistrationClientURI)
	return reply(w, http.StatusCreated, resp)
}

func (s *Service) hReadRegistration(w http.ResponseWriter, r *http.Request) error {
	resp, err := s.ReadRegistration(r.Context(), r.PathValue("id"), registrationToken(r))
	return replyOr(w, http.StatusOK, resp, err)
}

func (s *Service) hUpdateRegistration(w http.ResponseWriter, r *http.Request) error {
	id, tok := r.PathValue("id"), registrationToken(r)
	if _, _, err := s.registered(r.Context(), id, tok); err != nil {
		return err
	}
	m, err := readMetadata(w, r)
	if err != nil {
		return err
	}
	resp, err := s.UpdateRegistration(r.Context(), id, tok, m)
	return replyOr(w, http.StatusOK, resp, err)
}

func (s *Service) hDeleteRegistration(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, s.DeleteRegistration(r.Context(), r.PathValue("id"), registrationToken(r)))
}

// ClientConfigurationURL returns the RFC 7592 endpoint of client id.
func (r Registration) ClientConfigurationURL(id string) string {
	return r.ClientURI + "/" + url.PathEscape(id)
}
