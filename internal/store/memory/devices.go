package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// deviceCodes keeps device authorizations in t, alive until deviceRetention
// after expiry so Poll can report them expired, and indexes them by user
// code in byUser. Index entries may outlive their records; every lookup
// checks the record it lands on, and Put rebuilds the index when stale
// entries pile up.
type deviceCodes struct {
	t *table[store.DeviceCode]
	// byUser maps a UserCodeHash to the device-code hash; guarded by t.mu.
	byUser map[string]string
}

var _ store.DeviceCodes = (*deviceCodes)(nil)

func newDeviceCodes() *deviceCodes {
	return &deviceCodes{
		t:      newTable(func(d *store.DeviceCode) time.Time { return d.ExpiresAt.Add(deviceRetention) }),
		byUser: map[string]string{},
	}
}

func cloneDevice(d *store.DeviceCode) *store.DeviceCode {
	c := *d
	c.Params = slices.Clone(d.Params)
	return &c
}

// liveLocked returns the unexpired record under hash, or nil.
func (s *deviceCodes) liveLocked(hash string, now time.Time) *store.DeviceCode {
	d := s.t.getLocked(hash, now)
	if d == nil || !now.Before(d.ExpiresAt) {
		return nil
	}
	return d
}

// byUserLocked returns the device-code hash and unexpired record for
// userCodeHash, or "" and nil.
func (s *deviceCodes) byUserLocked(userCodeHash string, now time.Time) (string, *store.DeviceCode) {
	h, ok := s.byUser[userCodeHash]
	if !ok {
		return "", nil
	}
	d := s.liveLocked(h, now)
	if d == nil || d.UserCodeHash != userCodeHash {
		delete(s.byUser, userCodeHash)
		return "", nil
	}
	return h, d
}

func (s *deviceCodes) Put(ctx context.Context, hash string, d *store.DeviceCode) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.liveLocked(hash, now) != nil {
		return store.ErrConflict
	}
	if h, _ := s.byUserLocked(d.UserCodeHash, now); h != "" {
		return store.ErrConflict
	}
	s.t.putLocked(hash, cloneDevice(d), now)
	s.byUser[d.UserCodeHash] = hash
	if len(s.byUser) > 2*len(s.t.m)+minSweep {
		// The table's sweep dropped records the index still names.
		s.byUser = map[string]string{}
		for h, e := range s.t.m {
			if now.Before(e.ExpiresAt) {
				s.byUser[e.UserCodeHash] = h
			}
		}
	}
	return nil
}

func (s *deviceCodes) GetByUserCode(ctx context.Context, userCodeHash string) (string, *store.DeviceCode, error) {
	if err := checkCtx(ctx); err != nil {
		return "", nil, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	h, d := s.byUserLocked(userCodeHash, time.Now())
	if d == nil {
		return "", nil, store.ErrNotFound
	}
	return h, cloneDevice(d), nil
}

func (s *deviceCodes) Decide(ctx context.Context, hash string, status store.DeviceStatus, subject string, authTime time.Time) error {
	if status != store.DeviceApproved && status != store.DeviceDenied {
		return fmt.Errorf("memory store: decide: status %q is not a decision", status)
	}
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	d := s.liveLocked(hash, time.Now())
	switch {
	case d == nil:
		return store.ErrNotFound
	case d.Status != store.DevicePending:
		return store.ErrReplayed
	}
	d.Status, d.Subject, d.AuthTime = status, subject, authTime
	return nil
}

func (s *deviceCodes) Poll(ctx context.Context, hash string, at time.Time, step time.Duration) (*store.DeviceCode, bool, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, false, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	d := s.t.getLocked(hash, time.Now())
	if d == nil {
		return nil, false, store.ErrNotFound
	}
	tooFast := !d.PolledAt.IsZero() && at.Sub(d.PolledAt) < d.Interval
	if tooFast {
		d.Interval += step
	}
	d.PolledAt = at
	return cloneDevice(d), tooFast, nil
}

func (s *deviceCodes) Consume(ctx context.Context, hash string) (*store.DeviceCode, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	d := s.liveLocked(hash, time.Now())
	switch {
	case d == nil:
		return nil, store.ErrNotFound
	case d.Status == store.DeviceConsumed:
		return nil, store.ErrReplayed
	case d.Status != store.DeviceApproved:
		return nil, store.ErrNotFound
	}
	d.Status = store.DeviceConsumed
	return cloneDevice(d), nil
}
