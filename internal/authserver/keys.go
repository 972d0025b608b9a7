package authserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/bulwarkauth/bulwark/internal/discovery"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/token"
)

// signingAlgorithms are the key types created on first start. ES256 signs
// access tokens and, by default, ID tokens; PS256 and EdDSA serve clients
// that ask for them.
var signingAlgorithms = []string{jose.ES256, jose.PS256, jose.EdDSA}

// keyView is the server's signing keys as of one load from the store: the
// handlers that sign (token endpoint) or publish (JWKS) with them, and
// when the view next changes by itself because a stored key starts
// signing or retires. Views are immutable; Server swaps them whole.
type keyView struct {
	signer *jose.Signer
	public *jose.KeySet
	tokens *token.Handler
	// mtlsTokens serves the mutual-TLS listener; nil without one.
	mtlsTokens *token.Handler
	jwks       http.Handler
	next       time.Time // zero: nothing scheduled
}

// schedule is the outcome of applying the key rules to the stored records
// at one moment.
type schedule struct {
	// signing holds, per algorithm, the key that signs: of the Active,
	// unretired keys whose ActiveFrom has come, the latest ActiveFrom
	// (then the latest CreatedAt, then the greater ID, so every node
	// picks the same one).
	signing []*store.SigningKey
	// published are the unretired keys, newest first, in JWKS.
	published []*store.SigningKey
	// next is the earliest future ActiveFrom or RetiredAt; zero if none.
	next time.Time
}

// activeFrom is when k may start signing.
func activeFrom(k *store.SigningKey) time.Time {
	if k.ActiveFrom.IsZero() {
		return k.CreatedAt
	}
	return k.ActiveFrom
}

// retired reports whether k is retired at now.
func retired(k *store.SigningKey, now time.Time) bool {
	return k.RetiredAt != nil && !now.Before(*k.RetiredAt)
}

// newer orders keys by signing precedence, most preferred first.
func newer(a, b *store.SigningKey) int {
	if c := activeFrom(b).Compare(activeFrom(a)); c != 0 {
		return c
	}
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	switch {
	case a.ID > b.ID:
		return -1
	case a.ID < b.ID:
		return 1
	}
	return 0
}

// plan applies the key rules to recs at now. It depends only on its
// arguments, so every node with the same records and clock agrees.
func plan(recs []*store.SigningKey, now time.Time) schedule {
	var s schedule
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, newer)
	later := func(t time.Time) {
		if t.After(now) && (s.next.IsZero() || t.Before(s.next)) {
			s.next = t
		}
	}
	have := map[string]bool{}
	for _, k := range sorted {
		if k.RetiredAt != nil {
			later(*k.RetiredAt)
		}
		if retired(k, now) {
			continue
		}
		s.published = append(s.published, k)
		if !k.Active {
			continue
		}
		if from := activeFrom(k); from.After(now) {
			later(from)
			continue
		}
		if !have[k.Algorithm] {
			have[k.Algorithm] = true
			s.signing = append(s.signing, k)
		}
	}
	return s
}

// ensureKeys creates one key for each algorithm in signingAlgorithms that
// has no key able to sign now (Active, unretired, ActiveFrom come),
// signing at once; it runs at every start,
// so the first start of a deployment creates the keys every node then
// shares. It returns the records as they stand.
func ensureKeys(ctx context.Context, ks store.Keys, now time.Time) ([]*store.SigningKey, error) {
	recs, err := ks.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("authserver: list signing keys: %w", err)
	}
	have := map[string]bool{}
	for _, r := range recs {
		if r.Active && !retired(r, now) && !activeFrom(r).After(now) {
			have[r.Algorithm] = true
		}
	}
	for _, alg := range signingAlgorithms {
		if have[alg] {
			continue
		}
		rec, err := newKeyRecord(alg, now, now)
		if err != nil {
			return nil, err
		}
		if err := ks.Add(ctx, rec); err != nil {
			return nil, fmt.Errorf("authserver: store signing key: %w", err)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// newKeyRecord generates a key of alg, created at now, signing from from.
func newKeyRecord(alg string, now, from time.Time) (*store.SigningKey, error) {
	k, err := jose.GenerateKey(alg)
	if err != nil {
		return nil, err
	}
	priv, err := k.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{ID: k.KeyID(), Algorithm: alg, Private: priv, Active: true, CreatedAt: now, ActiveFrom: from}, nil
}

// buildKeys parses the keys a schedule names into a signer (one key per
// algorithm) and the public set.
func buildKeys(s schedule) (*jose.Signer, *jose.KeySet, error) {
	parsed := map[string]*jose.PrivateKey{}
	parse := func(r *store.SigningKey) (*jose.PrivateKey, error) {
		if k, ok := parsed[r.ID]; ok {
			return k, nil
		}
		k, err := jose.ParsePrivateJWK(r.Private)
		if err != nil {
			return nil, fmt.Errorf("authserver: signing key %s: %w", r.ID, err)
		}
		parsed[r.ID] = k
		return k, nil
	}
	var public []*jose.PublicKey
	for _, r := range s.published {
		k, err := parse(r)
		if err != nil {
			return nil, nil, err
		}
		public = append(public, k.Public())
	}
	var signing []*jose.PrivateKey
	for _, r := range s.signing {
		k, err := parse(r)
		if err != nil {
			return nil, nil, err
		}
		signing = append(signing, k)
	}
	return jose.NewSigner(signing...), jose.NewKeySet(public...), nil
}

// RefreshKeys reloads the signing keys from the store and switches the
// token and JWKS endpoints to them: keys added by `bulwark keys rotate`
// on any node are published here, and start or stop signing on schedule.
// Serve calls it every Config.KeyRefresh and at each scheduled change;
// tests call it directly. On failure the current keys stay in use.
func (s *Server) RefreshKeys(ctx context.Context) error {
	recs, err := s.store.Keys.List(ctx)
	if err != nil {
		return fmt.Errorf("authserver: list signing keys: %w", err)
	}
	v, err := s.newKeyView(plan(recs, s.now()))
	if err != nil {
		return err
	}
	s.keys.Store(v)
	return nil
}

// newKeyView builds the handlers for a schedule.
func (s *Server) newKeyView(sc schedule) (*keyView, error) {
	signer, public, err := buildKeys(sc)
	if err != nil {
		return nil, err
	}
	jwks, err := discovery.JWKSHandler(public)
	if err != nil {
		return nil, err
	}
	svc := *s.tokenTemplate // copied: views share nothing mutable
	svc.Signer, svc.Keys = signer, public
	v := &keyView{signer: signer, public: public, jwks: jwks, next: sc.next}
	h := *s.tokenHandler
	h.Service = &svc
	v.tokens = &h
	if s.mtlsTokenHandler != nil {
		m := *s.mtlsTokenHandler
		m.Service = &svc
		v.mtlsTokens = &m
	}
	return v, nil
}

// jwks serves the JWKS of the key view current when the request arrives.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) { s.keys.Load().jwks.ServeHTTP(w, r) }

// runKeyRefresh calls RefreshKeys every KeyRefresh, and at the moment a
// key is scheduled to start signing or to retire, until ctx ends.
func (s *Server) runKeyRefresh(ctx context.Context) {
	for {
		wait := s.cfg.KeyRefresh
		if next := s.keys.Load().next; !next.IsZero() {
			wait = min(wait, max(0, next.Sub(s.now())))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := s.RefreshKeys(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "signing key refresh failed; keeping the current keys", slog.Any("cause", err))
		}
	}
}

func (s *Server) now() time.Time { return s.cfg.now() }

// Rotation is what RotateKeys did.
type Rotation struct {
	// Added are the new keys, one per algorithm, published now and
	// signing from their ActiveFrom.
	Added []*store.SigningKey
	// Retiring are the keys they replace, with the RetiredAt now set.
	Retiring []*store.SigningKey
}

// RotateKeys adds a new key for each of algs (all of signingAlgorithms
// when empty), published at once and signing from now+publishAhead, and
// schedules every key it replaces to retire retireAfter after that. The
// old key keeps signing until the new one starts, so there is no moment
// without a signing key; and it stays published for retireAfter more, so
// tokens it signed still verify. publishAhead must exceed how long
// verifiers cache the JWKS (discovery sets max-age 300 s) plus
// Config.KeyRefresh; retireAfter must exceed the lifetime of the tokens
// the old key signed.
func RotateKeys(ctx context.Context, ks store.Keys, algs []string, publishAhead, retireAfter time.Duration, now time.Time) (*Rotation, error) {
	if len(algs) == 0 {
		algs = signingAlgorithms
	}
	for _, a := range algs {
		if !slices.Contains(signingAlgorithms, a) {
			return nil, fmt.Errorf("authserver: cannot rotate %q: algorithms are %v", a, signingAlgorithms)
		}
	}
	recs, err := ks.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("authserver: list signing keys: %w", err)
	}
	from := now.Add(publishAhead)
	retire := from.Add(retireAfter)
	var r Rotation
	for _, alg := range algs {
		k, err := newKeyRecord(alg, now, from)
		if err != nil {
			return nil, err
		}
		if err := ks.Add(ctx, k); err != nil {
			return nil, fmt.Errorf("authserver: store signing key: %w", err)
		}
		r.Added = append(r.Added, k)
		for _, old := range recs {
			if old.Algorithm != alg || !old.Active || retired(old, now) || (old.RetiredAt != nil && !old.RetiredAt.After(retire)) {
				continue
			}
			upd := *old
			upd.RetiredAt = &retire
			if err := ks.Update(ctx, &upd); err != nil {
				return nil, fmt.Errorf("authserver: retire signing key %s: %w", old.ID, err)
			}
			r.Retiring = append(r.Retiring, &upd)
		}
	}
	return &r, nil
}
