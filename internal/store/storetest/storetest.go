package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// Racers is how many goroutines each single-use race starts. Fifty is well
// above the worker count of any real deployment hitting one code or one
// jti, and high enough that a get-then-delete implementation loses reliably.
const Racers = 50

// RunTests runs the conformance suite. open must return a fresh, empty
// store for each call and arrange its own cleanup with t.Cleanup; that
// cleanup must tolerate a store the suite already closed. Subtests are
// named "<Aggregate>/<case>", so a single case runs with, for example,
// -run 'TestStore/Codes/consume_twice'.
//
// With no options every aggregate is tested and must be set. Only limits
// the suite to a back end that implements part of the contract (the
// Redis cache); the "Store" group then checks Ping, Close and canceled
// contexts on those aggregates alone.
//
// Subtests do not call t.Parallel: open is free to hand out resources that
// are not safe to create concurrently (one Redis database, one schema).
func RunTests(t *testing.T, open func(t *testing.T) *store.Store, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	groups := []group{
		{"Store", storeCases(o.selected)},
		{"Clients", slices.Concat(clientCases, clientPageCases)},
		{"Users", slices.Concat(userCases, userListCases)},
		{"Keys", keyCases},
		{"Requests", requestCases},
		{"Codes", codeCases},
		{"Grants", slices.Concat(grantCases, grantRevokeAllCases)},
		{"RefreshTokens", refreshCases},
		{"Revocations", revocationCases},
		{"Consents", slices.Concat(consentCases, consentListCases)},
		{"Sessions", slices.Concat(sessionCases, sessionListCases)},
		{"Replay", replayCases},
		{"DeviceCodes", deviceCases},
		{"Audit", auditCases},
	}
	for _, name := range o.only {
		if name == "Store" || !slices.ContainsFunc(groups, func(g group) bool { return g.name == name }) {
			t.Fatalf("storetest: Only(%q): no such aggregate", name)
		}
	}
	for _, g := range groups {
		if g.name != "Store" && !o.selected(g.name) {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					s := open(t)
					if s == nil {
						t.Fatal("open returned a nil store")
					}
					caseBase.Store(time.Now().Truncate(time.Second).UnixNano())
					tc.run(t, s)
				})
			}
		})
	}
}

// group is one aggregate's table.
type group struct {
	name  string
	cases []testCase
}

// Option changes what RunTests covers.
type Option func(*options)

type options struct {
	// only lists the aggregates to test; empty means all.
	only []string
}

// selected reports whether aggregate is under test.
func (o options) selected(aggregate string) bool {
	return len(o.only) == 0 || slices.Contains(o.only, aggregate)
}

// Only limits the suite to the named aggregates ("Replay", "Requests",
// "Codes", "Sessions", …, as the Store fields are named), for a back end
// that implements only those. The other fields of its Store may be nil.
// An unknown name fails the test, so a typo cannot shrink the suite.
func Only(aggregates ...string) Option {
	return func(o *options) { o.only = append(o.only, aggregates...) }
}

// testCase is one row of an aggregate's table.
type testCase struct {
	name string
	run  func(t *testing.T, s *store.Store)
}

// cmpOpts compare records the way the contract promises them back: times
// to the millisecond (back ends may store no finer), and nil and empty
// byte slices as equal (SQL back ends cannot tell them apart).
var cmpOpts = []cmp.Option{
	cmpopts.EquateApproxTime(time.Millisecond),
	cmpopts.EquateEmpty(),
}

// base returns a reference time on a whole second, so that every back end
// can store it and the times derived from it exactly. It is fixed for the
// duration of a case: read from the clock on every call, two calls on
// either side of a second boundary once made equal times differ.
func base() time.Time { return time.Unix(0, caseBase.Load()) }

// caseBase is the current case's reference time (Unix nanoseconds).
var caseBase atomic.Int64

// tp returns a pointer to t, for the optional time fields.
func tp(t time.Time) *time.Time { return &t }

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// wantErr fails unless err matches target; a nil target asks for success.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case target == nil && err != nil:
		t.Fatalf("%s: unexpected error: %v", what, err)
	case target != nil && !errors.Is(err, target):
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// race runs f in Racers goroutines released together by a start barrier,
// so the calls overlap as much as the scheduler allows, and returns each
// goroutine's error.
func race(f func(i int) error) []error {
	errs := make([]error, Racers)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range Racers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// exactlyOneWinner checks a race's outcome: one nil error, every other
// error ErrReplayed. It returns the winner's index.
func exactlyOneWinner(t *testing.T, errs []error) int {
	t.Helper()
	winner, wins := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			winner = i
			wins++
		case !errors.Is(err, store.ErrReplayed):
			t.Errorf("racer %d: got %v, want success or ErrReplayed", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racers succeeded, want exactly 1", wins)
	}
	return winner
}

// hash names a test key the way callers do, through store.Hash.
func hash(s string) string { return store.Hash("storetest:" + s) }

// sleepUntil waits until the wall clock has passed t, plus a margin for
// back ends that compare at millisecond precision.
func sleepUntil(t time.Time) {
	time.Sleep(time.Until(t) + 20*time.Millisecond)
}

// storeCases are the whole-store checks, limited to the aggregates
// selected reports as under test.
func storeCases(selected func(string) bool) []testCase {
	return []testCase{
		{"ping", func(t *testing.T, s *store.Store) {
			if s.Ping == nil {
				t.Fatal("Ping is nil")
			}
			wantErr(t, "Ping", s.Ping(t.Context()), nil)
		}},
		{"every_aggregate_set", func(t *testing.T, s *store.Store) {
			for name, v := range map[string]any{
				"Clients": s.Clients, "Users": s.Users, "Keys": s.Keys, "Requests": s.Requests,
				"Codes": s.Codes, "Grants": s.Grants, "RefreshTokens": s.RefreshTokens,
				"Revocations": s.Revocations, "Consents": s.Consents, "Sessions": s.Sessions, "Replay": s.Replay,
				"DeviceCodes": s.DeviceCodes, "Audit": s.Audit,
			} {
				if v == nil && selected(name) {
					t.Errorf("%s is nil", name)
				}
			}
		}},
		{"canceled_context_is_unavailable", func(t *testing.T, s *store.Store) {
			// A caller whose context is gone must never be told a single-use
			// value was accepted: the back end cannot vouch for the answer.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			exp := base().Add(time.Hour)
			checks := map[string]error{"Ping": s.Ping(ctx)}
			if selected("Replay") {
				checks["Replay.Use"] = s.Replay.Use(ctx, "canceled", exp)
			}
			if selected("Codes") {
				checks["Codes.Put"] = s.Codes.Put(ctx, hash("canceled"), &store.AuthorizationCode{ClientID: "c", GrantID: "g", ExpiresAt: exp})
				_, checks["Codes.Consume"] = s.Codes.Consume(ctx, hash("canceled"))
			}
			if selected("Sessions") {
				checks["Sessions.Put"] = s.Sessions.Put(ctx, hash("canceled"), &store.Session{Subject: "u", ExpiresAt: exp})
			}
			if selected("Requests") {
				_, checks["Requests.Consume"] = s.Requests.Consume(ctx, hash("canceled"))
			}
			if selected("Revocations") {
				_, checks["Revocations.IsRevoked"] = s.Revocations.IsRevoked(ctx, "canceled")
			}
			for op, err := range checks {
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("%s with a canceled context: got %v, want ErrUnavailable", op, err)
				}
			}
			// Nothing above may have taken effect.
			if selected("Replay") {
				wantErr(t, "Replay.Use after canceled Use", s.Replay.Use(t.Context(), "canceled", exp), nil)
			}
		}},
		{"ping_after_close", func(t *testing.T, s *store.Store) {
			if s.Close == nil {
				t.Skip("store has no Close")
			}
			wantErr(t, "Close", s.Close(), nil)
			if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Ping after Close: got %v, want ErrUnavailable", err)
			}
			if !selected("Replay") {
				return
			}
			if err := s.Replay.Use(t.Context(), "closed", base().Add(time.Hour)); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Replay.Use after Close: got %v, want ErrUnavailable", err)
			}
		}},
	}
}

var clientCases = []testCase{
	{"round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.Client{ID: "client-1", SecretHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", RegistrationHash: hash("rat"), Metadata: []byte(`{"name":"One"}`), UpdatedAt: base()}
		wantErr(t, "Put", s.Clients.Put(ctx, want), nil)
		got, err := s.Clients.Get(ctx, "client-1")
		wantErr(t, "Get", err, nil)
		diff(t, "client", want, got)
	}},
	{"empty_fields", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.Client{ID: "public"}
		wantErr(t, "Put", s.Clients.Put(ctx, want), nil)
		got, err := s.Clients.Get(ctx, "public")
		wantErr(t, "Get", err, nil)
		diff(t, "client", want, got)
	}},
	{"get_missing", func(t *testing.T, s *store.Store) {
		_, err := s.Clients.Get(t.Context(), "nobody")
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"put_replaces", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Clients.Put(ctx, &store.Client{ID: "c", SecretHash: "old", Metadata: []byte(`{"v":1}`), UpdatedAt: base()}), nil)
		want := &store.Client{ID: "c", SecretHash: "new", Metadata: []byte(`{"v":2}`), UpdatedAt: base().Add(time.Minute)}
		wantErr(t, "Put again", s.Clients.Put(ctx, want), nil)
		got, err := s.Clients.Get(ctx, "c")
		wantErr(t, "Get", err, nil)
		diff(t, "client", want, got)
	}},
	{"delete", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Clients.Put(ctx, &store.Client{ID: "c", UpdatedAt: base()}), nil)
		wantErr(t, "Delete", s.Clients.Delete(ctx, "c"), nil)
		_, err := s.Clients.Get(ctx, "c")
		wantErr(t, "Get after Delete", err, store.ErrNotFound)
		wantErr(t, "Delete again", s.Clients.Delete(ctx, "c"), nil)
	}},
	{"delete_missing", func(t *testing.T, s *store.Store) {
		wantErr(t, "Delete", s.Clients.Delete(t.Context(), "nobody"), nil)
	}},
	{"list_ordered_by_id", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		var want []*store.Client
		for _, id := range []string{"charlie", "alpha", "bravo", "Zulu"} {
			c := &store.Client{ID: id, SecretHash: "h-" + id, Metadata: []byte(`{"id":"` + id + `"}`), UpdatedAt: base()}
			wantErr(t, "Put "+id, s.Clients.Put(ctx, c), nil)
			want = append(want, c)
		}
		// Byte order, as SQL's default collation sorts: upper case first.
		want = []*store.Client{want[3], want[1], want[2], want[0]}
		got, err := s.Clients.List(ctx, store.Page{})
		wantErr(t, "List", err, nil)
		diff(t, "clients", want, got)
	}},
	{"list_empty", func(t *testing.T, s *store.Store) {
		got, err := s.Clients.List(t.Context(), store.Page{})
		wantErr(t, "List", err, nil)
		if len(got) != 0 {
			t.Fatalf("List of an empty store returned %d clients", len(got))
		}
	}},
	{"isolation", func(t *testing.T, s *store.Store) {
		// Records are values: changing one after Put or after Get must not
		// change what the store holds.
		ctx := t.Context()
		in := &store.Client{ID: "c", SecretHash: "h", Metadata: []byte(`{"a":1}`), UpdatedAt: base()}
		wantErr(t, "Put", s.Clients.Put(ctx, in), nil)
		in.Metadata[2] = 'X'
		in.SecretHash = "changed"
		got, err := s.Clients.Get(ctx, "c")
		wantErr(t, "Get", err, nil)
		got.Metadata[2] = 'Y'
		again, err := s.Clients.Get(ctx, "c")
		wantErr(t, "Get again", err, nil)
		diff(t, "client", &store.Client{ID: "c", SecretHash: "h", Metadata: []byte(`{"a":1}`), UpdatedAt: base()}, again)
	}},
}

var userCases = []testCase{
	{"round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.User{Subject: "sub-1", Username: "alice", PasswordHash: "$argon2id$x", Claims: []byte(`{"email":"a@example.com"}`), Disabled: true}
		wantErr(t, "Put", s.Users.Put(ctx, want), nil)
		got, err := s.Users.Get(ctx, "sub-1")
		wantErr(t, "Get", err, nil)
		diff(t, "user by subject", want, got)
		got, err = s.Users.GetByUsername(ctx, "alice")
		wantErr(t, "GetByUsername", err, nil)
		diff(t, "user by username", want, got)
	}},
	{"get_missing", func(t *testing.T, s *store.Store) {
		_, err := s.Users.Get(t.Context(), "nobody")
		wantErr(t, "Get", err, store.ErrNotFound)
		_, err = s.Users.GetByUsername(t.Context(), "nobody")
		wantErr(t, "GetByUsername", err, store.ErrNotFound)
	}},
	{"put_replaces", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Users.Put(ctx, &store.User{Subject: "sub-1", Username: "alice", PasswordHash: "old"}), nil)
		want := &store.User{Subject: "sub-1", Username: "alice2", PasswordHash: "new", Claims: []byte(`{}`)}
		wantErr(t, "Put renamed", s.Users.Put(ctx, want), nil)
		got, err := s.Users.Get(ctx, "sub-1")
		wantErr(t, "Get", err, nil)
		diff(t, "user", want, got)
		_, err = s.Users.GetByUsername(ctx, "alice")
		wantErr(t, "GetByUsername old name", err, store.ErrNotFound)
		got, err = s.Users.GetByUsername(ctx, "alice2")
		wantErr(t, "GetByUsername new name", err, nil)
		diff(t, "user", want, got)
		// The old name is free for someone else now.
		wantErr(t, "Put other with old name", s.Users.Put(ctx, &store.User{Subject: "sub-2", Username: "alice"}), nil)
	}},
	{"username_conflict", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		first := &store.User{Subject: "sub-1", Username: "alice", PasswordHash: "h1"}
		wantErr(t, "Put", s.Users.Put(ctx, first), nil)
		err := s.Users.Put(ctx, &store.User{Subject: "sub-2", Username: "alice", PasswordHash: "h2"})
		wantErr(t, "Put same username, other subject", err, store.ErrConflict)
		_, err = s.Users.Get(ctx, "sub-2")
		wantErr(t, "Get rejected subject", err, store.ErrNotFound)
		got, err := s.Users.GetByUsername(ctx, "alice")
		wantErr(t, "GetByUsername", err, nil)
		diff(t, "user", first, got)
	}},
	{"rename_into_conflict", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		alice := &store.User{Subject: "sub-1", Username: "alice"}
		bob := &store.User{Subject: "sub-2", Username: "bob"}
		wantErr(t, "Put alice", s.Users.Put(ctx, alice), nil)
		wantErr(t, "Put bob", s.Users.Put(ctx, bob), nil)
		err := s.Users.Put(ctx, &store.User{Subject: "sub-2", Username: "alice"})
		wantErr(t, "rename bob to alice", err, store.ErrConflict)
		got, err := s.Users.Get(ctx, "sub-2")
		wantErr(t, "Get bob", err, nil)
		diff(t, "bob unchanged", bob, got)
	}},
	{"username_is_case_sensitive", func(t *testing.T, s *store.Store) {
		// Normalising login names is the caller's policy, not the store's.
		ctx := t.Context()
		wantErr(t, "Put", s.Users.Put(ctx, &store.User{Subject: "sub-1", Username: "alice"}), nil)
		_, err := s.Users.GetByUsername(ctx, "Alice")
		wantErr(t, "GetByUsername other case", err, store.ErrNotFound)
	}},
}

var keyCases = []testCase{
	{"add_list_round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := []*store.SigningKey{
			{ID: "k1", Algorithm: "ES256", Private: []byte(`{"kty":"EC"}`), Active: false, CreatedAt: base().Add(-time.Hour), RetiredAt: tp(base())},
			{ID: "k2", Algorithm: "PS256", Private: []byte(`{"kty":"RSA"}`), Active: true, CreatedAt: base()},
			{ID: "k3", Algorithm: "ES256", Private: []byte(`{"kty":"EC","n":3}`), Active: true, CreatedAt: base().Add(time.Minute), ActiveFrom: base().Add(11 * time.Minute)},
		}
		for _, k := range want {
			wantErr(t, "Add "+k.ID, s.Keys.Add(ctx, k), nil)
		}
		got, err := s.Keys.List(ctx)
		wantErr(t, "List", err, nil)
		diff(t, "keys", want, got)
	}},
	{"list_oldest_first", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		b := base()
		// Added newest first, and IDs sorting against age, so neither
		// insertion order nor ID order passes for age order.
		for i, id := range []string{"a", "b", "c"} {
			wantErr(t, "Add "+id, s.Keys.Add(ctx, &store.SigningKey{ID: id, Algorithm: "ES256", CreatedAt: b.Add(-time.Duration(i) * time.Hour)}), nil)
		}
		got, err := s.Keys.List(ctx)
		wantErr(t, "List", err, nil)
		var ids []string
		for _, k := range got {
			ids = append(ids, k.ID)
		}
		diff(t, "key order", []string{"c", "b", "a"}, ids)
	}},
	{"list_empty", func(t *testing.T, s *store.Store) {
		got, err := s.Keys.List(t.Context())
		wantErr(t, "List", err, nil)
		if len(got) != 0 {
			t.Fatalf("List of an empty store returned %d keys", len(got))
		}
	}},
	{"add_duplicate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		first := &store.SigningKey{ID: "k", Algorithm: "ES256", Private: []byte("one"), Active: true, CreatedAt: base()}
		wantErr(t, "Add", s.Keys.Add(ctx, first), nil)
		err := s.Keys.Add(ctx, &store.SigningKey{ID: "k", Algorithm: "PS256", Private: []byte("two"), CreatedAt: base()})
		wantErr(t, "Add duplicate", err, store.ErrConflict)
		got, err := s.Keys.List(ctx)
		wantErr(t, "List", err, nil)
		diff(t, "keys", []*store.SigningKey{first}, got)
	}},
	{"update", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		k := &store.SigningKey{ID: "k", Algorithm: "ES256", Private: []byte("secret"), Active: true, CreatedAt: base()}
		wantErr(t, "Add", s.Keys.Add(ctx, k), nil)
		// Only Active and RetiredAt change; the rest of the argument is
		// ignored, so a caller cannot swap key material through Update.
		retired := base().Add(time.Hour)
		wantErr(t, "Update", s.Keys.Update(ctx, &store.SigningKey{ID: "k", Algorithm: "PS256", Private: []byte("other"), CreatedAt: base().Add(time.Hour), Active: false, RetiredAt: &retired, ActiveFrom: base().Add(time.Hour)}), nil)
		got, err := s.Keys.List(ctx)
		wantErr(t, "List", err, nil)
		diff(t, "retired key", []*store.SigningKey{{ID: "k", Algorithm: "ES256", Private: []byte("secret"), Active: false, CreatedAt: base(), RetiredAt: &retired}}, got)
		// And back: reactivated, no retirement.
		wantErr(t, "Update back", s.Keys.Update(ctx, &store.SigningKey{ID: "k", Active: true}), nil)
		got, err = s.Keys.List(ctx)
		wantErr(t, "List", err, nil)
		diff(t, "reactivated key", []*store.SigningKey{k}, got)
	}},
	{"update_missing", func(t *testing.T, s *store.Store) {
		err := s.Keys.Update(t.Context(), &store.SigningKey{ID: "nobody", Active: true})
		wantErr(t, "Update", err, store.ErrNotFound)
	}},
}

var requestCases = []testCase{
	{"round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.AuthorizationRequest{ClientID: "c", Params: []byte(`{"scope":"openid"}`), ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put", s.Requests.Put(ctx, hash("r"), want), nil)
		got, err := s.Requests.Get(ctx, hash("r"))
		wantErr(t, "Get", err, nil)
		diff(t, "request", want, got)
	}},
	{"get_missing", func(t *testing.T, s *store.Store) {
		_, err := s.Requests.Get(t.Context(), hash("nothing"))
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"put_duplicate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		first := &store.AuthorizationRequest{ClientID: "c1", ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put", s.Requests.Put(ctx, hash("r"), first), nil)
		err := s.Requests.Put(ctx, hash("r"), &store.AuthorizationRequest{ClientID: "c2", ExpiresAt: base().Add(time.Hour)})
		wantErr(t, "Put duplicate", err, store.ErrConflict)
		got, err := s.Requests.Get(ctx, hash("r"))
		wantErr(t, "Get", err, nil)
		diff(t, "request", first, got)
	}},
	{"put_over_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put expired", s.Requests.Put(ctx, hash("r"), &store.AuthorizationRequest{ClientID: "old", ExpiresAt: base().Add(-time.Minute)}), nil)
		want := &store.AuthorizationRequest{ClientID: "new", ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put over expired", s.Requests.Put(ctx, hash("r"), want), nil)
		got, err := s.Requests.Consume(ctx, hash("r"))
		wantErr(t, "Consume", err, nil)
		diff(t, "request", want, got)
	}},
	{"get_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Requests.Put(ctx, hash("r"), &store.AuthorizationRequest{ClientID: "c", ExpiresAt: base().Add(-time.Second)}), nil)
		_, err := s.Requests.Get(ctx, hash("r"))
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"expires_in_real_time", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		exp := time.Now().Add(150 * time.Millisecond).Truncate(time.Millisecond)
		wantErr(t, "Put", s.Requests.Put(ctx, hash("r"), &store.AuthorizationRequest{ClientID: "c", ExpiresAt: exp}), nil)
		_, err := s.Requests.Get(ctx, hash("r"))
		wantErr(t, "Get before expiry", err, nil)
		sleepUntil(exp)
		_, err = s.Requests.Get(ctx, hash("r"))
		wantErr(t, "Get after expiry", err, store.ErrNotFound)
		_, err = s.Requests.Consume(ctx, hash("r"))
		wantErr(t, "Consume after expiry", err, store.ErrNotFound)
	}},
	{"get_does_not_consume", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.AuthorizationRequest{ClientID: "c", Params: []byte("p"), ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put", s.Requests.Put(ctx, hash("r"), want), nil)
		for i := range 3 {
			_, err := s.Requests.Get(ctx, hash("r"))
			wantErr(t, fmt.Sprintf("Get #%d", i+1), err, nil)
		}
		got, err := s.Requests.Consume(ctx, hash("r"))
		wantErr(t, "Consume", err, nil)
		diff(t, "request", want, got)
	}},
	{"consume_twice", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.AuthorizationRequest{ClientID: "c", Params: []byte("p"), ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put", s.Requests.Put(ctx, hash("r"), want), nil)
		got, err := s.Requests.Consume(ctx, hash("r"))
		wantErr(t, "Consume", err, nil)
		diff(t, "request", want, got)
		_, err = s.Requests.Consume(ctx, hash("r"))
		if !errors.Is(err, store.ErrReplayed) && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second Consume: got %v, want ErrReplayed or ErrNotFound", err)
		}
	}},
	{"get_after_consume", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Requests.Put(ctx, hash("r"), &store.AuthorizationRequest{ClientID: "c", ExpiresAt: base().Add(time.Minute)}), nil)
		_, err := s.Requests.Consume(ctx, hash("r"))
		wantErr(t, "Consume", err, nil)
		_, err = s.Requests.Get(ctx, hash("r"))
		wantErr(t, "Get after Consume", err, store.ErrNotFound)
	}},
	{"consume_missing", func(t *testing.T, s *store.Store) {
		_, err := s.Requests.Consume(t.Context(), hash("nothing"))
		wantErr(t, "Consume", err, store.ErrNotFound)
	}},
	{"consume_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Requests.Put(ctx, hash("r"), &store.AuthorizationRequest{ClientID: "c", ExpiresAt: base().Add(-time.Second)}), nil)
		_, err := s.Requests.Consume(ctx, hash("r"))
		wantErr(t, "Consume", err, store.ErrNotFound)
	}},
	{"concurrent_consume", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.AuthorizationRequest{ClientID: "c", Params: []byte("p"), ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put", s.Requests.Put(ctx, hash("r"), want), nil)
		got := make([]*store.AuthorizationRequest, Racers)
		errs := race(func(i int) error {
			var err error
			got[i], err = s.Requests.Consume(ctx, hash("r"))
			return err
		})
		w := exactlyOneWinner(t, errs)
		diff(t, "winner's request", want, got[w])
	}},
}

var codeCases = []testCase{
	{"round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.AuthorizationCode{ClientID: "c", GrantID: "g", Params: []byte(`{"nonce":"n"}`), ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put", s.Codes.Put(ctx, hash("code"), want), nil)
		got, err := s.Codes.Consume(ctx, hash("code"))
		wantErr(t, "Consume", err, nil)
		diff(t, "code", want, got)
	}},
	{"put_duplicate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		first := &store.AuthorizationCode{ClientID: "c1", GrantID: "g1", ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put", s.Codes.Put(ctx, hash("code"), first), nil)
		err := s.Codes.Put(ctx, hash("code"), &store.AuthorizationCode{ClientID: "c2", GrantID: "g2", ExpiresAt: base().Add(time.Minute)})
		wantErr(t, "Put duplicate", err, store.ErrConflict)
		got, err := s.Codes.Consume(ctx, hash("code"))
		wantErr(t, "Consume", err, nil)
		diff(t, "code", first, got)
	}},
	{"put_over_used", func(t *testing.T, s *store.Store) {
		// A used code is kept for replay detection; reissuing its hash
		// would erase the evidence.
		ctx := t.Context()
		wantErr(t, "Put", s.Codes.Put(ctx, hash("code"), &store.AuthorizationCode{ClientID: "c", GrantID: "g", ExpiresAt: base().Add(time.Minute)}), nil)
		_, err := s.Codes.Consume(ctx, hash("code"))
		wantErr(t, "Consume", err, nil)
		err = s.Codes.Put(ctx, hash("code"), &store.AuthorizationCode{ClientID: "c", GrantID: "g2", ExpiresAt: base().Add(time.Minute)})
		wantErr(t, "Put over used code", err, store.ErrConflict)
	}},
	{"put_over_expired_unused", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put expired", s.Codes.Put(ctx, hash("code"), &store.AuthorizationCode{ClientID: "old", GrantID: "g0", ExpiresAt: base().Add(-time.Minute)}), nil)
		want := &store.AuthorizationCode{ClientID: "new", GrantID: "g1", ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put over expired", s.Codes.Put(ctx, hash("code"), want), nil)
		got, err := s.Codes.Consume(ctx, hash("code"))
		wantErr(t, "Consume", err, nil)
		diff(t, "code", want, got)
	}},
	{"consume_missing", func(t *testing.T, s *store.Store) {
		got, err := s.Codes.Consume(t.Context(), hash("nothing"))
		wantErr(t, "Consume", err, store.ErrNotFound)
		if got != nil {
			t.Fatalf("Consume of a missing code returned a record: %+v", got)
		}
	}},
	{"consume_twice", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.AuthorizationCode{ClientID: "c", GrantID: "grant-7", Params: []byte("p"), ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put", s.Codes.Put(ctx, hash("code"), want), nil)
		got, err := s.Codes.Consume(ctx, hash("code"))
		wantErr(t, "first Consume", err, nil)
		diff(t, "first Consume", want, got)
		for i := range 2 {
			got, err = s.Codes.Consume(ctx, hash("code"))
			wantErr(t, fmt.Sprintf("replay #%d", i+1), err, store.ErrReplayed)
			// The record comes back with the error, so the caller can
			// revoke the grant (RFC 6749 §4.1.2).
			if got == nil {
				t.Fatalf("replay #%d returned no record", i+1)
			}
			diff(t, "replayed code", want, got)
		}
	}},
	{"consume_expired_unused", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Codes.Put(ctx, hash("code"), &store.AuthorizationCode{ClientID: "c", GrantID: "g", ExpiresAt: base().Add(-time.Second)}), nil)
		got, err := s.Codes.Consume(ctx, hash("code"))
		wantErr(t, "Consume", err, store.ErrNotFound)
		if got != nil {
			t.Fatalf("Consume of an expired code returned a record: %+v", got)
		}
	}},
	{"replay_after_expiry", func(t *testing.T, s *store.Store) {
		// A used code is remembered past its expiry: a replay that arrives
		// late must still be detected and still revoke the grant.
		ctx := t.Context()
		exp := time.Now().Add(150 * time.Millisecond).Truncate(time.Millisecond)
		want := &store.AuthorizationCode{ClientID: "c", GrantID: "g", ExpiresAt: exp}
		wantErr(t, "Put", s.Codes.Put(ctx, hash("code"), want), nil)
		_, err := s.Codes.Consume(ctx, hash("code"))
		wantErr(t, "Consume", err, nil)
		sleepUntil(exp)
		got, err := s.Codes.Consume(ctx, hash("code"))
		wantErr(t, "Consume after expiry", err, store.ErrReplayed)
		if got == nil {
			t.Fatal("late replay returned no record")
		}
		diff(t, "replayed code", want, got)
	}},
	{"concurrent_consume", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.AuthorizationCode{ClientID: "c", GrantID: "g", Params: []byte("p"), ExpiresAt: base().Add(time.Minute)}
		wantErr(t, "Put", s.Codes.Put(ctx, hash("code"), want), nil)
		got := make([]*store.AuthorizationCode, Racers)
		errs := race(func(i int) error {
			var err error
			got[i], err = s.Codes.Consume(ctx, hash("code"))
			return err
		})
		exactlyOneWinner(t, errs)
		for i := range got {
			if got[i] == nil {
				t.Fatalf("racer %d got no record", i)
			}
			diff(t, fmt.Sprintf("racer %d's code", i), want, got[i])
		}
	}},
}

func sampleGrant(id string) *store.Grant {
	b := base()
	return &store.Grant{
		ID: id, ClientID: "c", Subject: "sub", Scopes: "openid profile",
		AuthTime: b.Add(-time.Minute), CreatedAt: b, ExpiresAt: b.Add(24 * time.Hour),
		Params: []byte(`{"cnf":{"jkt":"x"}}`),
	}
}

var grantCases = []testCase{
	{"round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := sampleGrant("g1")
		wantErr(t, "Put", s.Grants.Put(ctx, want), nil)
		got, err := s.Grants.Get(ctx, "g1")
		wantErr(t, "Get", err, nil)
		diff(t, "grant", want, got)
	}},
	{"zero_auth_time", func(t *testing.T, s *store.Store) {
		// client_credentials grants have no end-user authentication.
		ctx := t.Context()
		want := sampleGrant("g1")
		want.AuthTime = time.Time{}
		want.Params = nil
		wantErr(t, "Put", s.Grants.Put(ctx, want), nil)
		got, err := s.Grants.Get(ctx, "g1")
		wantErr(t, "Get", err, nil)
		if !got.AuthTime.IsZero() {
			t.Errorf("AuthTime = %v, want the zero time", got.AuthTime)
		}
		diff(t, "grant", want, got)
	}},
	{"get_missing", func(t *testing.T, s *store.Store) {
		_, err := s.Grants.Get(t.Context(), "nothing")
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"get_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		g := sampleGrant("g1")
		g.ExpiresAt = base().Add(-time.Second)
		wantErr(t, "Put", s.Grants.Put(ctx, g), nil)
		_, err := s.Grants.Get(ctx, "g1")
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"put_duplicate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		first := sampleGrant("g1")
		wantErr(t, "Put", s.Grants.Put(ctx, first), nil)
		other := sampleGrant("g1")
		other.Subject = "someone-else"
		wantErr(t, "Put duplicate", s.Grants.Put(ctx, other), store.ErrConflict)
		got, err := s.Grants.Get(ctx, "g1")
		wantErr(t, "Get", err, nil)
		diff(t, "grant", first, got)
	}},
	{"put_duplicate_revoked", func(t *testing.T, s *store.Store) {
		// A revoked grant must not be resurrected by a second Put of its
		// ID (a replayed code races its own grant creation this way).
		ctx := t.Context()
		wantErr(t, "Put", s.Grants.Put(ctx, sampleGrant("g1")), nil)
		wantErr(t, "Revoke", s.Grants.Revoke(ctx, "g1"), nil)
		wantErr(t, "Put again", s.Grants.Put(ctx, sampleGrant("g1")), store.ErrConflict)
		got, err := s.Grants.Get(ctx, "g1")
		wantErr(t, "Get", err, nil)
		if !got.Revoked {
			t.Fatal("grant is no longer revoked")
		}
	}},
	{"revoke", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		g := sampleGrant("g1")
		wantErr(t, "Put", s.Grants.Put(ctx, g), nil)
		wantErr(t, "Revoke", s.Grants.Revoke(ctx, "g1"), nil)
		got, err := s.Grants.Get(ctx, "g1")
		wantErr(t, "Get", err, nil)
		want := *g
		want.Revoked = true
		diff(t, "revoked grant", &want, got)
		wantErr(t, "Revoke again", s.Grants.Revoke(ctx, "g1"), nil)
		got, err = s.Grants.Get(ctx, "g1")
		wantErr(t, "Get", err, nil)
		diff(t, "twice revoked grant", &want, got)
	}},
	{"revoke_missing", func(t *testing.T, s *store.Store) {
		wantErr(t, "Revoke", s.Grants.Revoke(t.Context(), "nothing"), nil)
		_, err := s.Grants.Get(t.Context(), "nothing")
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"revoke_is_per_grant", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put g1", s.Grants.Put(ctx, sampleGrant("g1")), nil)
		wantErr(t, "Put g2", s.Grants.Put(ctx, sampleGrant("g2")), nil)
		wantErr(t, "Revoke g1", s.Grants.Revoke(ctx, "g1"), nil)
		got, err := s.Grants.Get(ctx, "g2")
		wantErr(t, "Get g2", err, nil)
		if got.Revoked {
			t.Fatal("revoking g1 revoked g2")
		}
	}},
}

func sampleRefresh(grant string) *store.RefreshToken {
	b := base()
	return &store.RefreshToken{
		GrantID: grant, ClientID: "c", Scopes: "openid offline_access",
		CreatedAt: b, ExpiresAt: b.Add(24 * time.Hour), Params: []byte(`{"jkt":"x"}`),
	}
}

var refreshCases = []testCase{
	{"round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := sampleRefresh("g")
		wantErr(t, "Put", s.RefreshTokens.Put(ctx, hash("rt"), want), nil)
		got, err := s.RefreshTokens.Get(ctx, hash("rt"))
		wantErr(t, "Get", err, nil)
		diff(t, "refresh token", want, got)
	}},
	{"get_missing", func(t *testing.T, s *store.Store) {
		_, err := s.RefreshTokens.Get(t.Context(), hash("nothing"))
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"get_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		rt := sampleRefresh("g")
		rt.ExpiresAt = base().Add(-time.Second)
		wantErr(t, "Put", s.RefreshTokens.Put(ctx, hash("rt"), rt), nil)
		_, err := s.RefreshTokens.Get(ctx, hash("rt"))
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"put_duplicate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		first := sampleRefresh("g1")
		wantErr(t, "Put", s.RefreshTokens.Put(ctx, hash("rt"), first), nil)
		wantErr(t, "Put duplicate", s.RefreshTokens.Put(ctx, hash("rt"), sampleRefresh("g2")), store.ErrConflict)
		got, err := s.RefreshTokens.Get(ctx, hash("rt"))
		wantErr(t, "Get", err, nil)
		diff(t, "refresh token", first, got)
	}},
	{"put_over_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		old := sampleRefresh("g1")
		old.ExpiresAt = base().Add(-time.Second)
		wantErr(t, "Put expired", s.RefreshTokens.Put(ctx, hash("rt"), old), nil)
		want := sampleRefresh("g2")
		wantErr(t, "Put over expired", s.RefreshTokens.Put(ctx, hash("rt"), want), nil)
		got, err := s.RefreshTokens.Get(ctx, hash("rt"))
		wantErr(t, "Get", err, nil)
		diff(t, "refresh token", want, got)
	}},
	{"delete", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.RefreshTokens.Put(ctx, hash("rt"), sampleRefresh("g")), nil)
		wantErr(t, "Delete", s.RefreshTokens.Delete(ctx, hash("rt")), nil)
		_, err := s.RefreshTokens.Get(ctx, hash("rt"))
		wantErr(t, "Get after Delete", err, store.ErrNotFound)
		wantErr(t, "Delete again", s.RefreshTokens.Delete(ctx, hash("rt")), nil)
	}},
	{"rotate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		old := sampleRefresh("g")
		wantErr(t, "Put", s.RefreshTokens.Put(ctx, hash("old"), old), nil)
		at := base().Add(time.Minute)
		next := sampleRefresh("g")
		next.CreatedAt = at
		next.ExpiresAt = at.Add(24 * time.Hour)
		next.Params = []byte(`{"jkt":"y"}`)
		wantErr(t, "Rotate", s.RefreshTokens.Rotate(ctx, hash("old"), at, hash("new"), next), nil)
		got, err := s.RefreshTokens.Get(ctx, hash("new"))
		wantErr(t, "Get new", err, nil)
		diff(t, "new token", next, got)
		if got.RotatedAt != nil {
			t.Errorf("new token has RotatedAt %v, want nil", *got.RotatedAt)
		}
		got, err = s.RefreshTokens.Get(ctx, hash("old"))
		wantErr(t, "Get old", err, nil)
		want := *old
		want.RotatedAt = &at
		diff(t, "rotated token", &want, got)
	}},
	{"rotate_twice", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.RefreshTokens.Put(ctx, hash("old"), sampleRefresh("g")), nil)
		at := base().Add(time.Minute)
		wantErr(t, "Rotate", s.RefreshTokens.Rotate(ctx, hash("old"), at, hash("new1"), sampleRefresh("g")), nil)
		err := s.RefreshTokens.Rotate(ctx, hash("old"), at.Add(time.Minute), hash("new2"), sampleRefresh("g"))
		wantErr(t, "second Rotate", err, store.ErrReplayed)
		_, err = s.RefreshTokens.Get(ctx, hash("new2"))
		wantErr(t, "Get second successor", err, store.ErrNotFound)
		got, err := s.RefreshTokens.Get(ctx, hash("old"))
		wantErr(t, "Get old", err, nil)
		if got.RotatedAt == nil || !got.RotatedAt.Equal(at) {
			t.Errorf("old token RotatedAt = %v, want the first rotation's %v", got.RotatedAt, at)
		}
		_, err = s.RefreshTokens.Get(ctx, hash("new1"))
		wantErr(t, "Get first successor", err, nil)
	}},
	{"rotate_chain", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.RefreshTokens.Put(ctx, hash("t0"), sampleRefresh("g")), nil)
		for i := 1; i <= 3; i++ {
			from, to := hash(fmt.Sprint("t", i-1)), hash(fmt.Sprint("t", i))
			wantErr(t, fmt.Sprintf("Rotate %d", i), s.RefreshTokens.Rotate(ctx, from, base().Add(time.Duration(i)*time.Second), to, sampleRefresh("g")), nil)
		}
		got, err := s.RefreshTokens.Get(ctx, hash("t3"))
		wantErr(t, "Get last", err, nil)
		if got.RotatedAt != nil {
			t.Fatal("last token in the chain is marked rotated")
		}
	}},
	{"rotate_missing", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		err := s.RefreshTokens.Rotate(ctx, hash("nothing"), base(), hash("new"), sampleRefresh("g"))
		wantErr(t, "Rotate", err, store.ErrNotFound)
		_, err = s.RefreshTokens.Get(ctx, hash("new"))
		wantErr(t, "Get successor", err, store.ErrNotFound)
	}},
	{"rotate_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		old := sampleRefresh("g")
		old.ExpiresAt = base().Add(-time.Second)
		wantErr(t, "Put", s.RefreshTokens.Put(ctx, hash("old"), old), nil)
		err := s.RefreshTokens.Rotate(ctx, hash("old"), base(), hash("new"), sampleRefresh("g"))
		wantErr(t, "Rotate", err, store.ErrNotFound)
		_, err = s.RefreshTokens.Get(ctx, hash("new"))
		wantErr(t, "Get successor", err, store.ErrNotFound)
	}},
	{"rotate_onto_existing", func(t *testing.T, s *store.Store) {
		// Rotate is atomic: when the successor cannot be stored, the old
		// token is not marked rotated either.
		ctx := t.Context()
		wantErr(t, "Put old", s.RefreshTokens.Put(ctx, hash("old"), sampleRefresh("g1")), nil)
		taken := sampleRefresh("g2")
		wantErr(t, "Put taken", s.RefreshTokens.Put(ctx, hash("taken"), taken), nil)
		err := s.RefreshTokens.Rotate(ctx, hash("old"), base(), hash("taken"), sampleRefresh("g1"))
		wantErr(t, "Rotate onto existing", err, store.ErrConflict)
		got, err := s.RefreshTokens.Get(ctx, hash("old"))
		wantErr(t, "Get old", err, nil)
		if got.RotatedAt != nil {
			t.Fatal("old token marked rotated by a failed Rotate")
		}
		got, err = s.RefreshTokens.Get(ctx, hash("taken"))
		wantErr(t, "Get taken", err, nil)
		diff(t, "existing token", taken, got)
	}},
	{"concurrent_rotate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.RefreshTokens.Put(ctx, hash("old"), sampleRefresh("g")), nil)
		errs := race(func(i int) error {
			return s.RefreshTokens.Rotate(ctx, hash("old"), base(), hash(fmt.Sprint("new", i)), sampleRefresh("g"))
		})
		w := exactlyOneWinner(t, errs)
		for i := range Racers {
			_, err := s.RefreshTokens.Get(ctx, hash(fmt.Sprint("new", i)))
			if i == w {
				wantErr(t, "Get winner's successor", err, nil)
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("loser %d's successor: got %v, want ErrNotFound", i, err)
			}
		}
	}},
}

var revocationCases = []testCase{
	{"revoke", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Revoke", s.Revocations.Revoke(ctx, "jti-1", base().Add(time.Hour)), nil)
		revoked, err := s.Revocations.IsRevoked(ctx, "jti-1")
		wantErr(t, "IsRevoked", err, nil)
		if !revoked {
			t.Fatal("revoked jti reported as not revoked")
		}
		revoked, err = s.Revocations.IsRevoked(ctx, "jti-2")
		wantErr(t, "IsRevoked other", err, nil)
		if revoked {
			t.Fatal("unrelated jti reported as revoked")
		}
	}},
	{"unknown", func(t *testing.T, s *store.Store) {
		revoked, err := s.Revocations.IsRevoked(t.Context(), "never-seen")
		wantErr(t, "IsRevoked", err, nil)
		if revoked {
			t.Fatal("unknown jti reported as revoked")
		}
	}},
	{"expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Revoke", s.Revocations.Revoke(ctx, "jti", base().Add(-time.Second)), nil)
		revoked, err := s.Revocations.IsRevoked(ctx, "jti")
		wantErr(t, "IsRevoked", err, nil)
		if revoked {
			t.Fatal("revocation outlived its expiry")
		}
	}},
	{"revoke_again_extends", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Revoke expired", s.Revocations.Revoke(ctx, "jti", base().Add(-time.Second)), nil)
		wantErr(t, "Revoke again", s.Revocations.Revoke(ctx, "jti", base().Add(time.Hour)), nil)
		revoked, err := s.Revocations.IsRevoked(ctx, "jti")
		wantErr(t, "IsRevoked", err, nil)
		if !revoked {
			t.Fatal("second revocation with a later expiry did not take")
		}
	}},
	{"revoke_again_never_shortens", func(t *testing.T, s *store.Store) {
		// Revocation only ever grows: a second call with an earlier expiry
		// (a token's copy with a wrong exp) must not un-revoke the jti.
		ctx := t.Context()
		wantErr(t, "Revoke", s.Revocations.Revoke(ctx, "jti", base().Add(time.Hour)), nil)
		wantErr(t, "Revoke with past exp", s.Revocations.Revoke(ctx, "jti", base().Add(-time.Hour)), nil)
		revoked, err := s.Revocations.IsRevoked(ctx, "jti")
		wantErr(t, "IsRevoked", err, nil)
		if !revoked {
			t.Fatal("a later Revoke with an earlier expiry un-revoked the jti")
		}
	}},
}

var consentCases = []testCase{
	{"round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.Consent{Subject: "sub", ClientID: "c", Scopes: "openid email", GrantedAt: base()}
		wantErr(t, "Put", s.Consents.Put(ctx, want), nil)
		got, err := s.Consents.Get(ctx, "sub", "c")
		wantErr(t, "Get", err, nil)
		diff(t, "consent", want, got)
	}},
	{"get_missing", func(t *testing.T, s *store.Store) {
		_, err := s.Consents.Get(t.Context(), "sub", "c")
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"put_replaces", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Consents.Put(ctx, &store.Consent{Subject: "sub", ClientID: "c", Scopes: "openid", GrantedAt: base()}), nil)
		want := &store.Consent{Subject: "sub", ClientID: "c", Scopes: "openid email profile", GrantedAt: base().Add(time.Hour)}
		wantErr(t, "Put again", s.Consents.Put(ctx, want), nil)
		got, err := s.Consents.Get(ctx, "sub", "c")
		wantErr(t, "Get", err, nil)
		diff(t, "consent", want, got)
	}},
	{"keyed_by_subject_and_client", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		all := []*store.Consent{
			{Subject: "a", ClientID: "x", Scopes: "s1", GrantedAt: base()},
			{Subject: "a", ClientID: "y", Scopes: "s2", GrantedAt: base()},
			{Subject: "b", ClientID: "x", Scopes: "s3", GrantedAt: base()},
		}
		for _, c := range all {
			wantErr(t, "Put", s.Consents.Put(ctx, c), nil)
		}
		for _, want := range all {
			got, err := s.Consents.Get(ctx, want.Subject, want.ClientID)
			wantErr(t, "Get", err, nil)
			diff(t, "consent", want, got)
		}
		_, err := s.Consents.Get(ctx, "b", "y")
		wantErr(t, "Get b/y", err, store.ErrNotFound)
	}},
	{"delete", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Consents.Put(ctx, &store.Consent{Subject: "sub", ClientID: "c", Scopes: "openid", GrantedAt: base()}), nil)
		wantErr(t, "Put other", s.Consents.Put(ctx, &store.Consent{Subject: "sub", ClientID: "d", Scopes: "openid", GrantedAt: base()}), nil)
		wantErr(t, "Delete", s.Consents.Delete(ctx, "sub", "c"), nil)
		_, err := s.Consents.Get(ctx, "sub", "c")
		wantErr(t, "Get after Delete", err, store.ErrNotFound)
		_, err = s.Consents.Get(ctx, "sub", "d")
		wantErr(t, "Get other client", err, nil)
	}},
	{"delete_missing", func(t *testing.T, s *store.Store) {
		wantErr(t, "Delete", s.Consents.Delete(t.Context(), "sub", "c"), nil)
	}},
}

var sessionCases = []testCase{
	{"round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := &store.Session{Subject: "sub", AuthTime: base().Add(-time.Minute), ExpiresAt: base().Add(time.Hour)}
		wantErr(t, "Put", s.Sessions.Put(ctx, hash("sid"), want), nil)
		got, err := s.Sessions.Get(ctx, hash("sid"))
		wantErr(t, "Get", err, nil)
		diff(t, "session", want, got)
	}},
	{"get_missing", func(t *testing.T, s *store.Store) {
		_, err := s.Sessions.Get(t.Context(), hash("nothing"))
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"get_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Sessions.Put(ctx, hash("sid"), &store.Session{Subject: "sub", ExpiresAt: base().Add(-time.Second)}), nil)
		_, err := s.Sessions.Get(ctx, hash("sid"))
		wantErr(t, "Get", err, store.ErrNotFound)
	}},
	{"put_duplicate", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		first := &store.Session{Subject: "sub1", ExpiresAt: base().Add(time.Hour)}
		wantErr(t, "Put", s.Sessions.Put(ctx, hash("sid"), first), nil)
		wantErr(t, "Put duplicate", s.Sessions.Put(ctx, hash("sid"), &store.Session{Subject: "sub2", ExpiresAt: base().Add(time.Hour)}), store.ErrConflict)
		got, err := s.Sessions.Get(ctx, hash("sid"))
		wantErr(t, "Get", err, nil)
		diff(t, "session", first, got)
	}},
	{"put_over_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put expired", s.Sessions.Put(ctx, hash("sid"), &store.Session{Subject: "old", ExpiresAt: base().Add(-time.Second)}), nil)
		want := &store.Session{Subject: "new", AuthTime: base(), ExpiresAt: base().Add(time.Hour)}
		wantErr(t, "Put over expired", s.Sessions.Put(ctx, hash("sid"), want), nil)
		got, err := s.Sessions.Get(ctx, hash("sid"))
		wantErr(t, "Get", err, nil)
		diff(t, "session", want, got)
	}},
	{"delete", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.Sessions.Put(ctx, hash("sid"), &store.Session{Subject: "sub", ExpiresAt: base().Add(time.Hour)}), nil)
		wantErr(t, "Delete", s.Sessions.Delete(ctx, hash("sid")), nil)
		_, err := s.Sessions.Get(ctx, hash("sid"))
		wantErr(t, "Get after Delete", err, store.ErrNotFound)
		wantErr(t, "Delete again", s.Sessions.Delete(ctx, hash("sid")), nil)
	}},
}

var replayCases = []testCase{
	{"use_once", func(t *testing.T, s *store.Store) {
		wantErr(t, "Use", s.Replay.Use(t.Context(), "pkj:c:jti", base().Add(time.Minute)), nil)
	}},
	{"use_twice", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Use", s.Replay.Use(ctx, "pkj:c:jti", base().Add(time.Minute)), nil)
		wantErr(t, "Use again", s.Replay.Use(ctx, "pkj:c:jti", base().Add(time.Hour)), store.ErrReplayed)
		// The failed Use must not have extended the entry either.
		wantErr(t, "Use a third time", s.Replay.Use(ctx, "pkj:c:jti", base().Add(time.Hour)), store.ErrReplayed)
	}},
	{"keys_are_independent", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for _, k := range []string{"pkj:c1:j", "pkj:c2:j", "dpop:c1:j"} {
			wantErr(t, "Use "+k, s.Replay.Use(ctx, k, base().Add(time.Minute)), nil)
		}
	}},
	{"expired_key_reusable", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Use with past exp", s.Replay.Use(ctx, "k", base().Add(-time.Second)), nil)
		wantErr(t, "Use after expiry", s.Replay.Use(ctx, "k", base().Add(time.Minute)), nil)
		wantErr(t, "Use while live", s.Replay.Use(ctx, "k", base().Add(time.Minute)), store.ErrReplayed)
	}},
	{"expires_in_real_time", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		exp := time.Now().Add(150 * time.Millisecond).Truncate(time.Millisecond)
		wantErr(t, "Use", s.Replay.Use(ctx, "k", exp), nil)
		wantErr(t, "Use before expiry", s.Replay.Use(ctx, "k", exp.Add(time.Minute)), store.ErrReplayed)
		sleepUntil(exp)
		wantErr(t, "Use after expiry", s.Replay.Use(ctx, "k", time.Now().Add(time.Minute)), nil)
		wantErr(t, "Use while live again", s.Replay.Use(ctx, "k", time.Now().Add(time.Minute)), store.ErrReplayed)
	}},
	{"concurrent_use", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		errs := race(func(int) error { return s.Replay.Use(ctx, "pkj:c:raced", base().Add(time.Minute)) })
		exactlyOneWinner(t, errs)
	}},
	{"concurrent_use_after_expiry", func(t *testing.T, s *store.Store) {
		// Reclaiming an expired key is as contested as a first use.
		ctx := t.Context()
		wantErr(t, "Use with past exp", s.Replay.Use(ctx, "k", base().Add(-time.Second)), nil)
		errs := race(func(int) error { return s.Replay.Use(ctx, "k", base().Add(time.Minute)) })
		exactlyOneWinner(t, errs)
	}},
	{"concurrent_distinct_keys", func(t *testing.T, s *store.Store) {
		// Unrelated values never interfere: under contention for the back
		// end, every distinct key is accepted (no spurious failures).
		ctx := t.Context()
		errs := race(func(i int) error { return s.Replay.Use(ctx, fmt.Sprint("k", i), base().Add(time.Minute)) })
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
	}},
}
