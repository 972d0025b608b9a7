package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file holds the cases of the listings behind the admin API and of
// the audit log.

// pages reads a whole listing one page of size n at a time and checks that
// no page is longer than n; key gives the cursor of a record.
func pages[T any](t *testing.T, n int, list func(p store.Page) ([]T, error), key func(T) string) []T {
	t.Helper()
	var all []T
	after := ""
	for range 100 {
		got, err := list(store.Page{After: after, Limit: n})
		wantErr(t, "List", err, nil)
		if len(got) > n {
			t.Fatalf("List(limit %d) returned %d records", n, len(got))
		}
		all = append(all, got...)
		if len(got) < n {
			return all
		}
		after = key(got[len(got)-1])
	}
	t.Fatal("listing did not end")
	return nil
}

var clientPageCases = []testCase{
	{"list_pages", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		var want []string
		for i := range 7 {
			id := fmt.Sprintf("client-%02d", 6-i)
			wantErr(t, "Put", s.Clients.Put(ctx, &store.Client{ID: id, UpdatedAt: base()}), nil)
			want = append([]string{id}, want...)
		}
		got := pages(t, 3, func(p store.Page) ([]*store.Client, error) { return s.Clients.List(ctx, p) },
			func(c *store.Client) string { return c.ID })
		ids := []string{}
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		diff(t, "ids over pages of 3", want, ids)
	}},
	{"list_after_last", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Clients.Put(ctx, &store.Client{ID: "a", UpdatedAt: base()}), nil)
		got, err := s.Clients.List(ctx, store.Page{After: "a"})
		wantErr(t, "List", err, nil)
		if len(got) != 0 {
			t.Fatalf("List after the last ID returned %d clients", len(got))
		}
	}},
}

var userListCases = []testCase{
	{"list_pages", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		var want []*store.User
		for _, sub := range []string{"s3", "s1", "s2", "s0", "s4"} {
			u := &store.User{Subject: sub, Username: "name-" + sub, PasswordHash: "h", Disabled: sub == "s2"}
			wantErr(t, "Put", s.Users.Put(ctx, u), nil)
		}
		for _, sub := range []string{"s0", "s1", "s2", "s3", "s4"} {
			want = append(want, &store.User{Subject: sub, Username: "name-" + sub, PasswordHash: "h", Disabled: sub == "s2"})
		}
		got := pages(t, 2, func(p store.Page) ([]*store.User, error) { return s.Users.List(ctx, p) },
			func(u *store.User) string { return u.Subject })
		diff(t, "users", want, got)
	}},
}

var grantRevokeAllCases = []testCase{
	{"revoke_all_by_client", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for _, g := range []struct{ id, client, sub string }{{"g1", "c1", "u1"}, {"g2", "c1", "u2"}, {"g3", "c2", "u1"}} {
			rec := sampleGrant(g.id)
			rec.ClientID, rec.Subject = g.client, g.sub
			wantErr(t, "Put", s.Grants.Put(ctx, rec), nil)
		}
		wantErr(t, "RevokeAll", s.Grants.RevokeAll(ctx, "c1", ""), nil)
		for id, revoked := range map[string]bool{"g1": true, "g2": true, "g3": false} {
			g, err := s.Grants.Get(ctx, id)
			wantErr(t, "Get "+id, err, nil)
			if g.Revoked != revoked {
				t.Errorf("grant %s: Revoked = %v, want %v", id, g.Revoked, revoked)
			}
		}
	}},
	{"revoke_all_by_client_and_subject", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for _, g := range []struct{ id, client, sub string }{{"g1", "c1", "u1"}, {"g2", "c1", "u2"}, {"g3", "c2", "u1"}} {
			rec := sampleGrant(g.id)
			rec.ClientID, rec.Subject = g.client, g.sub
			wantErr(t, "Put", s.Grants.Put(ctx, rec), nil)
		}
		wantErr(t, "RevokeAll", s.Grants.RevokeAll(ctx, "c1", "u1"), nil)
		for id, revoked := range map[string]bool{"g1": true, "g2": false, "g3": false} {
			g, err := s.Grants.Get(ctx, id)
			wantErr(t, "Get "+id, err, nil)
			if g.Revoked != revoked {
				t.Errorf("grant %s: Revoked = %v, want %v", id, g.Revoked, revoked)
			}
		}
		wantErr(t, "RevokeAll of nothing", s.Grants.RevokeAll(ctx, "nobody", ""), nil)
	}},
}

var consentListCases = []testCase{
	{"list_by_subject_and_client", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		put := func(sub, client string) *store.Consent {
			c := &store.Consent{Subject: sub, ClientID: client, Scopes: "openid", GrantedAt: base()}
			wantErr(t, "Put", s.Consents.Put(ctx, c), nil)
			return c
		}
		u1c2, u1c1, u2c1, u1c3, u3c1 := put("u1", "c2"), put("u1", "c1"), put("u2", "c1"), put("u1", "c3"), put("u3", "c1")
		got := pages(t, 2, func(p store.Page) ([]*store.Consent, error) {
			return s.Consents.List(ctx, store.ConsentQuery{Subject: "u1", Page: p})
		}, func(c *store.Consent) string { return c.ClientID })
		diff(t, "consents of u1", []*store.Consent{u1c1, u1c2, u1c3}, got)
		got = pages(t, 2, func(p store.Page) ([]*store.Consent, error) {
			return s.Consents.List(ctx, store.ConsentQuery{ClientID: "c1", Page: p})
		}, func(c *store.Consent) string { return c.Subject })
		diff(t, "consents of c1", []*store.Consent{u1c1, u2c1, u3c1}, got)
		one, err := s.Consents.List(ctx, store.ConsentQuery{Subject: "u1", ClientID: "c2"})
		wantErr(t, "List both", err, nil)
		diff(t, "consent of u1 for c2", []*store.Consent{u1c2}, one)
		none, err := s.Consents.List(ctx, store.ConsentQuery{})
		wantErr(t, "List without filter", err, nil)
		if len(none) != 0 {
			t.Errorf("List without a filter returned %d consents", len(none))
		}
	}},
}

var sessionListCases = []testCase{
	{"list_by_subject", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		exp := base().Add(time.Hour)
		var want []*store.Session
		for i := range 5 {
			h := hash(fmt.Sprint("sid", i))
			wantErr(t, "Put", s.Sessions.Put(ctx, h, &store.Session{Subject: "alice", AuthTime: base(), ExpiresAt: exp}), nil)
			want = append(want, &store.Session{Subject: "alice", AuthTime: base(), ExpiresAt: exp, Hash: h})
		}
		wantErr(t, "Put other", s.Sessions.Put(ctx, hash("bob"), &store.Session{Subject: "bob", AuthTime: base(), ExpiresAt: exp}), nil)
		wantErr(t, "Put expired", s.Sessions.Put(ctx, hash("old"), &store.Session{Subject: "alice", AuthTime: base(), ExpiresAt: time.Now().Add(-time.Minute)}), nil)
		// Deleted sessions are not listed.
		wantErr(t, "Delete", s.Sessions.Delete(ctx, want[2].Hash), nil)
		want = append(want[:2], want[3:]...)
		sortByHash(want)
		got := pages(t, 2, func(p store.Page) ([]*store.Session, error) { return s.Sessions.List(ctx, "alice", p) },
			func(s *store.Session) string { return s.Hash })
		diff(t, "sessions of alice", want, got)
		// The listed hash is the key Get and Delete take.
		wantErr(t, "Delete listed", s.Sessions.Delete(ctx, got[0].Hash), nil)
		_, err := s.Sessions.Get(ctx, got[0].Hash)
		wantErr(t, "Get deleted", err, store.ErrNotFound)
	}},
	{"list_none", func(t *testing.T, s *store.Store) {
		got, err := s.Sessions.List(t.Context(), "nobody", store.Page{})
		wantErr(t, "List", err, nil)
		if len(got) != 0 {
			t.Fatalf("List returned %d sessions", len(got))
		}
	}},
}

func sortByHash(ss []*store.Session) {
	slices.SortFunc(ss, func(a, b *store.Session) int { return strings.Compare(a.Hash, b.Hash) })
}

var auditCases = []testCase{
	{"append_list_newest_first", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		var want []*store.AuditEvent
		for i := range 7 {
			at := base().Add(time.Duration(i) * time.Second)
			action := "client.create"
			if i%2 == 1 {
				action = "consent.revoke"
			}
			e := &store.AuditEvent{ID: store.NewAuditID(at), Time: at, Action: action, Actor: "admin-token",
				Target: fmt.Sprint("client:c", i), Outcome: "success", Details: []byte(`{"n":1}`)}
			wantErr(t, "Append", s.Audit.Append(ctx, e), nil)
			want = append([]*store.AuditEvent{e}, want...)
		}
		got := pages(t, 3, func(p store.Page) ([]*store.AuditEvent, error) { return s.Audit.List(ctx, store.AuditQuery{Page: p}) },
			func(e *store.AuditEvent) string { return e.ID })
		diff(t, "events newest first", want, got)
		var revokes []*store.AuditEvent
		for _, e := range want {
			if e.Action == "consent.revoke" {
				revokes = append(revokes, e)
			}
		}
		got = pages(t, 2, func(p store.Page) ([]*store.AuditEvent, error) {
			return s.Audit.List(ctx, store.AuditQuery{Action: "consent.revoke", Page: p})
		}, func(e *store.AuditEvent) string { return e.ID })
		diff(t, "consent.revoke events", revokes, got)
	}},
	{"append_duplicate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		e := &store.AuditEvent{ID: store.NewAuditID(base()), Time: base(), Action: "a", Actor: "x", Target: "y", Outcome: "success"}
		wantErr(t, "Append", s.Audit.Append(ctx, e), nil)
		wantErr(t, "Append again", s.Audit.Append(ctx, e), store.ErrConflict)
	}},
	{"ids_ordered_by_time", func(t *testing.T, s *store.Store) {
		a, b := store.NewAuditID(base()), store.NewAuditID(base().Add(time.Millisecond))
		if !(a < b) {
			t.Fatalf("NewAuditID: %q is not before %q", a, b)
		}
	}},
}
