package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// codeRetention is how long a used authorization code is remembered after
// it expires, so that a replay arriving late is still reported as
// ErrReplayed (and its grant revoked) instead of looking like an unknown
// code. It matches the SQLite store's purge grace.
const codeRetention = 10 * time.Minute

// deviceRetention is how long a device authorization is kept after it
// expires, so a device still polling is told expired_token rather than
// invalid_grant. It matches the SQLite store's purge grace.
const deviceRetention = 10 * time.Minute

// minSweep is the fewest writes between two sweeps of a table, so small
// tables are not rescanned on every write.
const minSweep = 64

// New returns an empty store. Close is nil: there is nothing to release.
func New() *store.Store {
	return &store.Store{
		Clients: &clients{m: map[string]*store.Client{}},
		Users:   &users{m: map[string]*store.User{}, byName: map[string]string{}},
		Keys:    &keys{m: map[string]*store.SigningKey{}},
		Requests: &requests{t: newTable(func(e *requestEntry) time.Time {
			return e.rec.ExpiresAt
		})},
		Codes: &codes{t: newTable(func(e *codeEntry) time.Time {
			if e.used {
				return e.rec.ExpiresAt.Add(codeRetention)
			}
			return e.rec.ExpiresAt
		})},
		Grants:        &grants{t: newTable(func(g *store.Grant) time.Time { return g.ExpiresAt })},
		RefreshTokens: &refreshTokens{t: newTable(func(r *store.RefreshToken) time.Time { return r.ExpiresAt })},
		Revocations:   &revocations{t: newTable(func(exp *time.Time) time.Time { return *exp })},
		Consents:      &consents{m: map[consentKey]*store.Consent{}},
		Sessions:      &sessions{t: newTable(func(s *store.Session) time.Time { return s.ExpiresAt })},
		Replay:        &replay{t: newTable(func(exp *time.Time) time.Time { return *exp })},
		DeviceCodes:   newDeviceCodes(),
		Audit:         &audit{},
		Ping:          checkCtx,
	}
}

// checkCtx fails closed for a caller whose context is already done: the
// contract promises ErrUnavailable when the store cannot vouch for an
// answer, and a canceled request must not consume a single-use value.
func checkCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// table is a mutex-protected map whose entries die at a time of their own,
// given by until. Dead entries are invisible to get and are deleted by an
// amortised sweep on put.
type table[V any] struct {
	mu     sync.Mutex
	m      map[string]*V
	until  func(*V) time.Time
	writes int
}

func newTable[V any](until func(*V) time.Time) *table[V] {
	return &table[V]{m: map[string]*V{}, until: until}
}

// getLocked returns the entry under k if it is alive at now, and forgets
// it if it is dead.
func (t *table[V]) getLocked(k string, now time.Time) *V {
	v, ok := t.m[k]
	if !ok {
		return nil
	}
	if !now.Before(t.until(v)) {
		delete(t.m, k)
		return nil
	}
	return v
}

// putLocked stores v under k. Every max(len, minSweep) writes it scans the
// table once, so the sweep costs O(1) per write and the table never holds
// more dead entries than it has had recent writes.
func (t *table[V]) putLocked(k string, v *V, now time.Time) {
	t.m[k] = v
	t.writes++
	if t.writes < max(len(t.m), minSweep) {
		return
	}
	t.writes = 0
	for key, e := range t.m {
		if !now.Before(t.until(e)) {
			delete(t.m, key)
		}
	}
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

type clients struct {
	mu sync.Mutex
	m  map[string]*store.Client
}

func cloneClient(c *store.Client) *store.Client {
	d := *c
	d.Metadata = slices.Clone(c.Metadata)
	return &d
}

func (s *clients) Get(ctx context.Context, id string) (*store.Client, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return cloneClient(c), nil
}

func (s *clients) Put(ctx context.Context, c *store.Client) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[c.ID] = cloneClient(c)
	return nil
}

func (s *clients) Delete(ctx context.Context, id string) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

func (s *clients) List(ctx context.Context, p store.Page) ([]*store.Client, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]*store.Client, 0, len(s.m))
	for id, c := range s.m {
		if id > p.After {
			out = append(out, cloneClient(c))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *store.Client) int { return cmp.Compare(a.ID, b.ID) })
	return out[:min(len(out), p.Size())], nil
}

type users struct {
	mu     sync.Mutex
	m      map[string]*store.User
	byName map[string]string // username → subject
}

func cloneUser(u *store.User) *store.User {
	d := *u
	d.Claims = slices.Clone(u.Claims)
	return &d
}

func (s *users) Get(ctx context.Context, subject string) (*store.User, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.m[subject]
	if !ok {
		return nil, store.ErrNotFound
	}
	return cloneUser(u), nil
}

func (s *users) GetByUsername(ctx context.Context, username string) (*store.User, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.byName[username]
	if !ok {
		return nil, store.ErrNotFound
	}
	return cloneUser(s.m[sub]), nil
}

func (s *users) Put(ctx context.Context, u *store.User) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.byName[u.Username]; ok && other != u.Subject {
		return store.ErrConflict
	}
	if old, ok := s.m[u.Subject]; ok {
		delete(s.byName, old.Username)
	}
	s.m[u.Subject] = cloneUser(u)
	s.byName[u.Username] = u.Subject
	return nil
}

type keys struct {
	mu sync.Mutex
	m  map[string]*store.SigningKey
}

func cloneKey(k *store.SigningKey) *store.SigningKey {
	d := *k
	d.Private = slices.Clone(k.Private)
	d.RetiredAt = cloneTime(k.RetiredAt)
	return &d
}

func (s *keys) List(ctx context.Context) ([]*store.SigningKey, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]*store.SigningKey, 0, len(s.m))
	for _, k := range s.m {
		out = append(out, cloneKey(k))
	}
	s.mu.Unlock()
	// Oldest first; the ID breaks ties so the order is stable across calls
	// and back ends.
	slices.SortFunc(out, func(a, b *store.SigningKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *keys) Add(ctx context.Context, k *store.SigningKey) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[k.ID]; ok {
		return store.ErrConflict
	}
	s.m[k.ID] = cloneKey(k)
	return nil
}

func (s *keys) Update(ctx context.Context, k *store.SigningKey) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[k.ID]
	if !ok {
		return store.ErrNotFound
	}
	cur.Active = k.Active
	cur.RetiredAt = cloneTime(k.RetiredAt)
	return nil
}

type requestEntry struct {
	rec  store.AuthorizationRequest
	used bool
}

type requests struct{ t *table[requestEntry] }

func cloneRequest(r *store.AuthorizationRequest) *store.AuthorizationRequest {
	d := *r
	d.Params = slices.Clone(r.Params)
	return &d
}

func (s *requests) Put(ctx context.Context, hash string, r *store.AuthorizationRequest) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.t.getLocked(hash, now) != nil {
		return store.ErrConflict
	}
	s.t.putLocked(hash, &requestEntry{rec: *cloneRequest(r)}, now)
	return nil
}

func (s *requests) Get(ctx context.Context, hash string) (*store.AuthorizationRequest, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	e := s.t.getLocked(hash, time.Now())
	if e == nil || e.used {
		return nil, store.ErrNotFound
	}
	return cloneRequest(&e.rec), nil
}

func (s *requests) Consume(ctx context.Context, hash string) (*store.AuthorizationRequest, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	e := s.t.getLocked(hash, time.Now())
	switch {
	case e == nil:
		return nil, store.ErrNotFound
	case e.used:
		return nil, store.ErrReplayed
	}
	e.used = true
	return cloneRequest(&e.rec), nil
}

type codeEntry struct {
	rec  store.AuthorizationCode
	used bool
}

type codes struct{ t *table[codeEntry] }

func cloneCode(c *store.AuthorizationCode) *store.AuthorizationCode {
	d := *c
	d.Params = slices.Clone(c.Params)
	return &d
}

func (s *codes) Put(ctx context.Context, hash string, c *store.AuthorizationCode) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	// A used code stays alive through its retention window, so its hash
	// cannot be reissued while replays of it are still being detected.
	if s.t.getLocked(hash, now) != nil {
		return store.ErrConflict
	}
	s.t.putLocked(hash, &codeEntry{rec: *cloneCode(c)}, now)
	return nil
}

func (s *codes) Consume(ctx context.Context, hash string) (*store.AuthorizationCode, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	e := s.t.getLocked(hash, time.Now())
	switch {
	case e == nil:
		return nil, store.ErrNotFound
	case e.used:
		return cloneCode(&e.rec), store.ErrReplayed
	}
	e.used = true
	return cloneCode(&e.rec), nil
}

type grants struct{ t *table[store.Grant] }

func cloneGrant(g *store.Grant) *store.Grant {
	d := *g
	d.Params = slices.Clone(g.Params)
	return &d
}

func (s *grants) Put(ctx context.Context, g *store.Grant) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.t.getLocked(g.ID, now) != nil {
		return store.ErrConflict
	}
	s.t.putLocked(g.ID, cloneGrant(g), now)
	return nil
}

func (s *grants) Get(ctx context.Context, id string) (*store.Grant, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	g := s.t.getLocked(id, time.Now())
	if g == nil {
		return nil, store.ErrNotFound
	}
	return cloneGrant(g), nil
}

func (s *grants) Revoke(ctx context.Context, id string) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if g := s.t.getLocked(id, time.Now()); g != nil {
		g.Revoked = true
	}
	return nil
}

type refreshTokens struct{ t *table[store.RefreshToken] }

func cloneRefresh(r *store.RefreshToken) *store.RefreshToken {
	d := *r
	d.Params = slices.Clone(r.Params)
	d.RotatedAt = cloneTime(r.RotatedAt)
	return &d
}

func (s *refreshTokens) Put(ctx context.Context, hash string, r *store.RefreshToken) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.t.getLocked(hash, now) != nil {
		return store.ErrConflict
	}
	s.t.putLocked(hash, cloneRefresh(r), now)
	return nil
}

func (s *refreshTokens) Get(ctx context.Context, hash string) (*store.RefreshToken, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	r := s.t.getLocked(hash, time.Now())
	if r == nil {
		return nil, store.ErrNotFound
	}
	return cloneRefresh(r), nil
}

func (s *refreshTokens) Rotate(ctx context.Context, oldHash string, at time.Time, newHash string, next *store.RefreshToken) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	old := s.t.getLocked(oldHash, now)
	switch {
	case old == nil:
		return store.ErrNotFound
	case old.RotatedAt != nil:
		return store.ErrReplayed
	case s.t.getLocked(newHash, now) != nil:
		// Checked before anything changes, so a failed Rotate leaves the
		// old token usable.
		return store.ErrConflict
	}
	old.RotatedAt = &at
	s.t.putLocked(newHash, cloneRefresh(next), now)
	return nil
}

func (s *refreshTokens) Delete(ctx context.Context, hash string) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	delete(s.t.m, hash)
	return nil
}

type revocations struct{ t *table[time.Time] }

func (s *revocations) Revoke(ctx context.Context, jti string, exp time.Time) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	// A revocation only ever lengthens: a later call with an earlier exp
	// must not make a revoked token valid again.
	if cur := s.t.getLocked(jti, now); cur != nil && !exp.After(*cur) {
		return nil
	}
	s.t.putLocked(jti, &exp, now)
	return nil
}

func (s *revocations) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if err := checkCtx(ctx); err != nil {
		return false, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	return s.t.getLocked(jti, time.Now()) != nil, nil
}

type consentKey struct{ subject, clientID string }

type consents struct {
	mu sync.Mutex
	m  map[consentKey]*store.Consent
}

func (s *consents) Get(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[consentKey{subject, clientID}]
	if !ok {
		return nil, store.ErrNotFound
	}
	d := *c
	return &d, nil
}

func (s *consents) Put(ctx context.Context, c *store.Consent) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := *c
	s.m[consentKey{c.Subject, c.ClientID}] = &d
	return nil
}

func (s *consents) Delete(ctx context.Context, subject, clientID string) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, consentKey{subject, clientID})
	return nil
}

type sessions struct{ t *table[store.Session] }

func (s *sessions) Put(ctx context.Context, hash string, sess *store.Session) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.t.getLocked(hash, now) != nil {
		return store.ErrConflict
	}
	d := *sess
	d.Hash = ""
	s.t.putLocked(hash, &d, now)
	return nil
}

func (s *sessions) Get(ctx context.Context, hash string) (*store.Session, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	sess := s.t.getLocked(hash, time.Now())
	if sess == nil {
		return nil, store.ErrNotFound
	}
	d := *sess
	return &d, nil
}

func (s *sessions) Delete(ctx context.Context, hash string) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	delete(s.t.m, hash)
	return nil
}

type replay struct{ t *table[time.Time] }

func (s *replay) Use(ctx context.Context, key string, exp time.Time) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if s.t.getLocked(key, now) != nil {
		return store.ErrReplayed
	}
	s.t.putLocked(key, &exp, now)
	return nil
}
