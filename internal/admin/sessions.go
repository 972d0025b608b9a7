package admin

import (
	"context"
	"encoding/json"
	"time"

	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// SessionView is a browser session. ID is the session's storage key, the
// SHA-256 of the cookie; it names the session without revealing it.
type SessionView struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	AuthTime  time.Time `json:"auth_time"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ListSessions returns one page of a user's sessions.
func (s *Service) ListSessions(ctx context.Context, subject string, p store.Page) (Page[SessionView], error) {
	if subject == "" {
		return Page[SessionView]{}, oauth.InvalidRequest("subject is required")
	}
	ss, err := s.Store.Sessions.List(ctx, subject, p)
	if err != nil {
		return Page[SessionView]{}, storeErr(err)
	}
	return pageOf(ss, p, func(x *store.Session) SessionView {
		return SessionView{ID: x.Hash, Subject: x.Subject, AuthTime: x.AuthTime, ExpiresAt: x.ExpiresAt}
	}, func(x *store.Session) string { return x.Hash }), nil
}

// EndSession deletes one session; the browser must log in again.
func (s *Service) EndSession(ctx context.Context, who Caller, id string) (err error) {
	defer func() { s.record(ctx, who.Actor, "session.end", target("session", id), err, nil) }()
	if id == "" || len(id) > 64 {
		return oauth.InvalidRequest("invalid session id")
	}
	return storeErr(s.Store.Sessions.Delete(ctx, id))
}

// EndUserSessions deletes every session of a user.
func (s *Service) EndUserSessions(ctx context.Context, who Caller, subject string) (err error) {
	defer func() { s.record(ctx, who.Actor, "session.end_all", target("user", subject), err, nil) }()
	if subject == "" {
		return oauth.InvalidRequest("subject is required")
	}
	return s.endSessions(ctx, subject)
}

// KeyView is a signing key without its private part.
type KeyView struct {
	ID         string     `json:"kid"`
	Algorithm  string     `json:"alg"`
	CreatedAt  time.Time  `json:"created_at"`
	ActiveFrom time.Time  `json:"active_from"`
	RetiredAt  *time.Time `json:"retired_at,omitempty"`
	Active     bool       `json:"active"`
}

func keyView(k *store.SigningKey) KeyView {
	from := k.ActiveFrom
	if from.IsZero() {
		from = k.CreatedAt
	}
	return KeyView{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, ActiveFrom: from, RetiredAt: k.RetiredAt, Active: k.Active}
}

var errNoKeys = &oauth.Error{Code: "not_supported", Description: "key administration is not available", Status: 501}

// ListKeys returns every signing key, oldest first.
func (s *Service) ListKeys(ctx context.Context) ([]KeyView, error) {
	if s.Keys == nil {
		return nil, errNoKeys
	}
	ks, err := s.Keys.List(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]KeyView, 0, len(ks))
	for _, k := range ks {
		out = append(out, keyView(k))
	}
	return out, nil
}

// Rotation is the answer to a key rotation.
type Rotation struct {
	Added    []KeyView `json:"added"`
	Retiring []KeyView `json:"retiring"`
}

// RotateKeys adds new signing keys (authserver.RotateKeys, the logic of
// bulwark keys rotate).
func (s *Service) RotateKeys(ctx context.Context, who Caller, publishAhead, retireAfter time.Duration) (r Rotation, err error) {
	defer func() {
		s.record(ctx, who.Actor, "keys.rotate", "keys", err, map[string]any{"publish_ahead": publishAhead.String(), "retire_after": retireAfter.String()})
	}()
	if s.Keys == nil {
		return Rotation{}, errNoKeys
	}
	if publishAhead < 0 || retireAfter < 0 {
		return Rotation{}, oauth.InvalidRequest("durations must not be negative")
	}
	added, retiring, err := s.Keys.Rotate(ctx, publishAhead, retireAfter)
	if err != nil {
		return Rotation{}, oauth.ServerError(err)
	}
	r = Rotation{Added: []KeyView{}, Retiring: []KeyView{}}
	for _, k := range added {
		r.Added = append(r.Added, keyView(k))
	}
	for _, k := range retiring {
		r.Retiring = append(r.Retiring, keyView(k))
	}
	return r, nil
}

// AuditView is an audit event as the API shows it.
type AuditView struct {
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Action  string         `json:"action"`
	Actor   string         `json:"actor"`
	Target  string         `json:"target"`
	Outcome string         `json:"outcome"`
	Details map[string]any `json:"details,omitempty"`
}

// ListAudit returns one page of the audit log, newest first.
func (s *Service) ListAudit(ctx context.Context, action string, p store.Page) (Page[AuditView], error) {
	es, err := s.Store.Audit.List(ctx, store.AuditQuery{Action: action, Page: p})
	if err != nil {
		return Page[AuditView]{}, storeErr(err)
	}
	return pageOf(es, p, auditView, func(e *store.AuditEvent) string { return e.ID }), nil
}

func auditView(e *store.AuditEvent) AuditView {
	v := AuditView{ID: e.ID, Time: e.Time, Action: e.Action, Actor: e.Actor, Target: e.Target, Outcome: e.Outcome}
	if len(e.Details) > 0 {
		_ = json.Unmarshal(e.Details, &v.Details)
	}
	return v
}
