package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// sampleDevice is a pending device authorization for user code u.
func sampleDevice(u string) *store.DeviceCode {
	return &store.DeviceCode{
		ClientID: "c", UserCodeHash: hash("user:" + u), Scopes: "openid profile",
		ExpiresAt: base().Add(10 * time.Minute), Interval: 5 * time.Second,
		Status: store.DevicePending, Params: []byte(`{"resource":["https://api.example"]}`),
	}
}

// getDevice reads a record back by its user code, failing the test when
// it is not there.
func getDevice(t *testing.T, s *store.Store, d *store.DeviceCode) *store.DeviceCode {
	t.Helper()
	_, got, err := s.DeviceCodes.GetByUserCode(t.Context(), d.UserCodeHash)
	wantErr(t, "GetByUserCode", err, nil)
	return got
}

var deviceCases = []testCase{
	{"round_trip", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := sampleDevice("u")
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), want), nil)
		h, got, err := s.DeviceCodes.GetByUserCode(ctx, want.UserCodeHash)
		wantErr(t, "GetByUserCode", err, nil)
		if h != hash("dc") {
			t.Errorf("GetByUserCode hash = %q, want %q", h, hash("dc"))
		}
		diff(t, "device code", want, got)
		if !got.PolledAt.IsZero() || !got.AuthTime.IsZero() {
			t.Errorf("unset times came back set: PolledAt %v, AuthTime %v", got.PolledAt, got.AuthTime)
		}
	}},
	{"put_duplicate_hash", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), sampleDevice("u1")), nil)
		wantErr(t, "Put same hash", s.DeviceCodes.Put(ctx, hash("dc"), sampleDevice("u2")), store.ErrConflict)
	}},
	{"put_duplicate_user_code", func(t *testing.T, s *store.Store) {
		// A live user code names exactly one authorization; the caller
		// draws a new code on ErrConflict.
		ctx := t.Context()
		first := sampleDevice("u")
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc1"), first), nil)
		wantErr(t, "Put same user code", s.DeviceCodes.Put(ctx, hash("dc2"), sampleDevice("u")), store.ErrConflict)
		h, _, err := s.DeviceCodes.GetByUserCode(ctx, first.UserCodeHash)
		wantErr(t, "GetByUserCode", err, nil)
		if h != hash("dc1") {
			t.Errorf("user code now names %q, want the first authorization", h)
		}
	}},
	{"put_over_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		old := sampleDevice("u")
		old.ExpiresAt = base().Add(-time.Second)
		wantErr(t, "Put expired", s.DeviceCodes.Put(ctx, hash("old"), old), nil)
		want := sampleDevice("u")
		want.ClientID = "new"
		wantErr(t, "Put over expired user code", s.DeviceCodes.Put(ctx, hash("new"), want), nil)
		h, got, err := s.DeviceCodes.GetByUserCode(ctx, want.UserCodeHash)
		wantErr(t, "GetByUserCode", err, nil)
		if h != hash("new") {
			t.Errorf("user code names %q, want the new authorization", h)
		}
		diff(t, "device code", want, got)
		wantErr(t, "Put over expired hash", s.DeviceCodes.Put(ctx, hash("old"), sampleDevice("other")), nil)
	}},
	{"get_missing", func(t *testing.T, s *store.Store) {
		_, _, err := s.DeviceCodes.GetByUserCode(t.Context(), hash("nothing"))
		wantErr(t, "GetByUserCode", err, store.ErrNotFound)
	}},
	{"get_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		d := sampleDevice("u")
		d.ExpiresAt = base().Add(-time.Second)
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), d), nil)
		_, _, err := s.DeviceCodes.GetByUserCode(ctx, d.UserCodeHash)
		wantErr(t, "GetByUserCode", err, store.ErrNotFound)
	}},
	{"decide", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for _, status := range []store.DeviceStatus{store.DeviceApproved, store.DeviceDenied} {
			want := sampleDevice(string(status))
			key := hash("dc:" + string(status))
			wantErr(t, "Put", s.DeviceCodes.Put(ctx, key, want), nil)
			auth := base().Add(-time.Minute)
			wantErr(t, "Decide "+string(status), s.DeviceCodes.Decide(ctx, key, status, "alice", auth), nil)
			want.Status, want.Subject, want.AuthTime = status, "alice", auth
			diff(t, "decided device code", want, getDevice(t, s, want))
			// The first answer stands.
			err := s.DeviceCodes.Decide(ctx, key, store.DeviceApproved, "mallory", base())
			wantErr(t, "second Decide", err, store.ErrReplayed)
			diff(t, "device code after second Decide", want, getDevice(t, s, want))
		}
	}},
	{"decide_missing_or_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		wantErr(t, "Decide missing", s.DeviceCodes.Decide(ctx, hash("nothing"), store.DeviceApproved, "alice", base()), store.ErrNotFound)
		d := sampleDevice("u")
		d.ExpiresAt = base().Add(-time.Second)
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), d), nil)
		wantErr(t, "Decide expired", s.DeviceCodes.Decide(ctx, hash("dc"), store.DeviceApproved, "alice", base()), store.ErrNotFound)
	}},
	{"decide_refuses_non_decisions", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := sampleDevice("u")
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), want), nil)
		for _, status := range []store.DeviceStatus{store.DevicePending, store.DeviceConsumed, "bogus"} {
			if err := s.DeviceCodes.Decide(ctx, hash("dc"), status, "alice", base()); err == nil {
				t.Errorf("Decide(%q) succeeded; only approved and denied are decisions", status)
			}
		}
		diff(t, "device code", want, getDevice(t, s, want))
	}},
	{"concurrent_decide", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		d := sampleDevice("u")
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), d), nil)
		errs := race(func(i int) error {
			status := store.DeviceApproved
			if i%2 == 1 {
				status = store.DeviceDenied
			}
			return s.DeviceCodes.Decide(ctx, hash("dc"), status, fmt.Sprint("user", i), base())
		})
		w := exactlyOneWinner(t, errs)
		got := getDevice(t, s, d)
		if got.Subject != fmt.Sprint("user", w) {
			t.Errorf("Subject = %q, want the winner's user%d", got.Subject, w)
		}
	}},
	{"poll_interval", func(t *testing.T, s *store.Store) {
		// RFC 8628 §3.5: after slow_down "the interval MUST be increased
		// by 5 seconds for this and all subsequent requests".
		ctx := t.Context()
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), sampleDevice("u")), nil)
		t0 := base()
		for i, step := range []struct {
			at           time.Duration
			tooFast      bool
			wantInterval time.Duration
		}{
			{0, false, 5 * time.Second},                                 // first poll
			{1 * time.Second, true, 10 * time.Second},                   // 1 s after the last
			{6 * time.Second, true, 15 * time.Second},                   // 5 s after, but the interval is 10 s now
			{21 * time.Second, false, 15 * time.Second},                 // 15 s after: fine, and the interval stays
			{36*time.Second - time.Millisecond, true, 20 * time.Second}, // a millisecond early
		} {
			got, tooFast, err := s.DeviceCodes.Poll(ctx, hash("dc"), t0.Add(step.at), 5*time.Second)
			wantErr(t, fmt.Sprintf("Poll #%d", i), err, nil)
			if tooFast != step.tooFast || got.Interval != step.wantInterval {
				t.Errorf("Poll #%d at +%v: tooFast %v, Interval %v; want %v, %v", i, step.at, tooFast, got.Interval, step.tooFast, step.wantInterval)
			}
			if !got.PolledAt.Equal(t0.Add(step.at)) {
				t.Errorf("Poll #%d: PolledAt = %v, want %v", i, got.PolledAt, t0.Add(step.at))
			}
		}
	}},
	{"poll_missing", func(t *testing.T, s *store.Store) {
		_, _, err := s.DeviceCodes.Poll(t.Context(), hash("nothing"), base(), 5*time.Second)
		wantErr(t, "Poll", err, store.ErrNotFound)
	}},
	{"poll_expired", func(t *testing.T, s *store.Store) {
		// Poll still answers for an expired authorization, so the token
		// endpoint can say expired_token instead of invalid_grant.
		ctx := t.Context()
		want := sampleDevice("u")
		want.ExpiresAt = base().Add(-time.Second)
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), want), nil)
		got, _, err := s.DeviceCodes.Poll(ctx, hash("dc"), base(), 5*time.Second)
		wantErr(t, "Poll expired", err, nil)
		want.PolledAt = base()
		diff(t, "expired device code", want, got)
	}},
	{"consume", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := sampleDevice("u")
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), want), nil)
		_, err := s.DeviceCodes.Consume(ctx, hash("dc"))
		wantErr(t, "Consume pending", err, store.ErrNotFound)
		auth := base().Add(-time.Minute)
		wantErr(t, "Decide", s.DeviceCodes.Decide(ctx, hash("dc"), store.DeviceApproved, "alice", auth), nil)
		got, err := s.DeviceCodes.Consume(ctx, hash("dc"))
		wantErr(t, "Consume approved", err, nil)
		want.Status, want.Subject, want.AuthTime = store.DeviceConsumed, "alice", auth
		diff(t, "consumed device code", want, got)
		for i := range 2 {
			_, err = s.DeviceCodes.Consume(ctx, hash("dc"))
			wantErr(t, fmt.Sprintf("Consume again #%d", i+1), err, store.ErrReplayed)
		}
		polled, _, err := s.DeviceCodes.Poll(ctx, hash("dc"), base(), 5*time.Second)
		wantErr(t, "Poll consumed", err, nil)
		if polled.Status != store.DeviceConsumed {
			t.Errorf("Poll after Consume: Status = %q, want consumed", polled.Status)
		}
	}},
	{"consume_denied_missing_expired", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		_, err := s.DeviceCodes.Consume(ctx, hash("nothing"))
		wantErr(t, "Consume missing", err, store.ErrNotFound)
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("denied"), sampleDevice("d")), nil)
		wantErr(t, "Decide", s.DeviceCodes.Decide(ctx, hash("denied"), store.DeviceDenied, "alice", base()), nil)
		_, err = s.DeviceCodes.Consume(ctx, hash("denied"))
		wantErr(t, "Consume denied", err, store.ErrNotFound)

		exp := time.Now().Add(150 * time.Millisecond).Truncate(time.Millisecond)
		d := sampleDevice("e")
		d.ExpiresAt = exp
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("expiring"), d), nil)
		wantErr(t, "Decide", s.DeviceCodes.Decide(ctx, hash("expiring"), store.DeviceApproved, "alice", base()), nil)
		sleepUntil(exp)
		_, err = s.DeviceCodes.Consume(ctx, hash("expiring"))
		wantErr(t, "Consume expired", err, store.ErrNotFound)
	}},
	{"concurrent_consume", func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := sampleDevice("u")
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), want), nil)
		wantErr(t, "Decide", s.DeviceCodes.Decide(ctx, hash("dc"), store.DeviceApproved, "alice", base()), nil)
		got := make([]*store.DeviceCode, Racers)
		errs := race(func(i int) error {
			var err error
			got[i], err = s.DeviceCodes.Consume(ctx, hash("dc"))
			return err
		})
		w := exactlyOneWinner(t, errs)
		want.Status, want.Subject, want.AuthTime = store.DeviceConsumed, "alice", base()
		diff(t, "winner's device code", want, got[w])
	}},
	{"concurrent_poll", func(t *testing.T, s *store.Store) {
		// Polls at the same instant: exactly one is on time, and every
		// other one raised the interval once. A read-then-write poll
		// loses updates here.
		ctx := t.Context()
		wantErr(t, "Put", s.DeviceCodes.Put(ctx, hash("dc"), sampleDevice("u")), nil)
		fast := make([]bool, Racers)
		errs := race(func(i int) error {
			var err error
			_, fast[i], err = s.DeviceCodes.Poll(ctx, hash("dc"), base(), time.Second)
			return err
		})
		onTime := 0
		for i, err := range errs {
			wantErr(t, fmt.Sprintf("racer %d", i), err, nil)
			if !fast[i] {
				onTime++
			}
		}
		if onTime != 1 {
			t.Errorf("%d polls were on time, want exactly 1", onTime)
		}
		got, _, err := s.DeviceCodes.Poll(ctx, hash("dc"), base().Add(time.Hour), time.Second)
		wantErr(t, "Poll", err, nil)
		if want := 5*time.Second + (Racers-1)*time.Second; got.Interval != want {
			t.Errorf("Interval = %v after %d early polls, want %v", got.Interval, Racers-1, want)
		}
	}},
}
