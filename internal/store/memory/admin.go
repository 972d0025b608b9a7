package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds the listings behind the admin API and the audit log.
// Listings scan and sort: the memory store serves tests and --dev, where
// tables are small.

// page sorts recs by key, drops those not after p.After and cuts to the
// page size.
func page[T any](recs []T, key func(T) string, p store.Page) []T {
	recs = slices.DeleteFunc(recs, func(r T) bool { return key(r) <= p.After })
	slices.SortFunc(recs, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return recs[:min(len(recs), p.Size())]
}

func (s *users) List(ctx context.Context, p store.Page) ([]*store.User, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]*store.User, 0, len(s.m))
	for _, u := range s.m {
		out = append(out, cloneUser(u))
	}
	s.mu.Unlock()
	return page(out, func(u *store.User) string { return u.Subject }, p), nil
}

func (s *grants) RevokeAll(ctx context.Context, clientID, subject string) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	for _, g := range s.t.m {
		if g.ClientID == clientID && (subject == "" || g.Subject == subject) {
			g.Revoked = true
		}
	}
	return nil
}

func (s *consents) List(ctx context.Context, q store.ConsentQuery) ([]*store.Consent, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	if q.Subject == "" && q.ClientID == "" {
		return []*store.Consent{}, nil
	}
	s.mu.Lock()
	out := []*store.Consent{}
	for k, c := range s.m {
		if (q.Subject != "" && k.subject == q.Subject && (q.ClientID == "" || k.clientID == q.ClientID)) ||
			(q.Subject == "" && k.clientID == q.ClientID) {
			d := *c
			out = append(out, &d)
		}
	}
	s.mu.Unlock()
	key := func(c *store.Consent) string { return c.ClientID }
	if q.Subject == "" {
		key = func(c *store.Consent) string { return c.Subject }
	}
	return page(out, key, q.Page), nil
}

func (s *sessions) List(ctx context.Context, subject string, p store.Page) ([]*store.Session, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	now := time.Now()
	s.t.mu.Lock()
	out := []*store.Session{}
	for h, sess := range s.t.m {
		if sess.Subject == subject && now.Before(sess.ExpiresAt) {
			d := *sess
			d.Hash = h
			out = append(out, &d)
		}
	}
	s.t.mu.Unlock()
	return page(out, func(s *store.Session) string { return s.Hash }, p), nil
}

// audit keeps the log in ID order, so a page is a binary search and a
// slice.
type audit struct {
	mu sync.Mutex
	// events is sorted by ID and guarded by mu.
	events []*store.AuditEvent
}

func cloneAudit(e *store.AuditEvent) *store.AuditEvent {
	d := *e
	d.Details = slices.Clone(e.Details)
	return &d
}

func (a *audit) Append(ctx context.Context, e *store.AuditEvent) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	i, found := slices.BinarySearchFunc(a.events, e.ID, func(x *store.AuditEvent, id string) int { return cmp.Compare(x.ID, id) })
	if found {
		return store.ErrConflict
	}
	a.events = slices.Insert(a.events, i, cloneAudit(e))
	return nil
}

func (a *audit) List(ctx context.Context, q store.AuditQuery) ([]*store.AuditEvent, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	end := len(a.events)
	if q.Page.After != "" {
		end, _ = slices.BinarySearchFunc(a.events, q.Page.After, func(x *store.AuditEvent, id string) int { return cmp.Compare(x.ID, id) })
	}
	out := []*store.AuditEvent{}
	for i := end - 1; i >= 0 && len(out) < q.Page.Size(); i-- {
		if q.Action == "" || a.events[i].Action == q.Action {
			out = append(out, cloneAudit(a.events[i]))
		}
	}
	return out, nil
}
