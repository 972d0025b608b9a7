package authserver

import (
	"context"
	"encoding/base64"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
)

func TestPlan(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	ptr := func(d time.Duration) *time.Time { t := at(d); return &t }
	key := func(id, alg string, created time.Duration, mut func(*store.SigningKey)) *store.SigningKey {
		k := &store.SigningKey{ID: id, Algorithm: alg, Active: true, CreatedAt: at(created)}
		if mut != nil {
			mut(k)
		}
		return k
	}
	tests := []struct {
		name          string
		recs          []*store.SigningKey
		wantSigning   []string
		wantPublished []string
		wantNext      time.Time
	}{
		{
			name:          "ok/newest_signs",
			recs:          []*store.SigningKey{key("old", "ES256", -2*time.Hour, nil), key("new", "ES256", -time.Hour, nil)},
			wantSigning:   []string{"new"},
			wantPublished: []string{"new", "old"},
		},
		{
			name: "ok/published_ahead_not_signing",
			recs: []*store.SigningKey{
				key("old", "ES256", -time.Hour, func(k *store.SigningKey) { k.RetiredAt = ptr(time.Hour) }),
				key("next", "ES256", 0, func(k *store.SigningKey) { k.ActiveFrom = at(10 * time.Minute) }),
			},
			wantSigning:   []string{"old"},
			wantPublished: []string{"next", "old"},
			wantNext:      at(10 * time.Minute),
		},
		{
			name: "ok/after_activation",
			recs: []*store.SigningKey{
				key("old", "ES256", -time.Hour, func(k *store.SigningKey) { k.RetiredAt = ptr(time.Hour) }),
				key("next", "ES256", -20*time.Minute, func(k *store.SigningKey) { k.ActiveFrom = at(-10 * time.Minute) }),
			},
			wantSigning:   []string{"next"},
			wantPublished: []string{"next", "old"},
			wantNext:      at(time.Hour),
		},
		{
			name: "ok/retired_dropped",
			recs: []*store.SigningKey{
				key("old", "ES256", -3*time.Hour, func(k *store.SigningKey) { k.RetiredAt = ptr(-time.Hour) }),
				key("cur", "ES256", -2*time.Hour, nil),
			},
			wantSigning:   []string{"cur"},
			wantPublished: []string{"cur"},
		},
		{
			name: "ok/inactive_published_only",
			recs: []*store.SigningKey{
				key("off", "ES256", -time.Minute, func(k *store.SigningKey) { k.Active = false }),
				key("cur", "ES256", -time.Hour, nil),
			},
			wantSigning:   []string{"cur"},
			wantPublished: []string{"off", "cur"},
		},
		{
			name: "ok/one_per_algorithm",
			recs: []*store.SigningKey{
				key("es", "ES256", -time.Hour, nil), key("ps", "PS256", -time.Hour, nil), key("ed", "EdDSA", -time.Hour, nil),
			},
			// Equal times: ordered by ID, greatest first.
			wantSigning:   []string{"ps", "es", "ed"},
			wantPublished: []string{"ps", "es", "ed"},
		},
		{
			name:          "ok/tie_broken_by_id",
			recs:          []*store.SigningKey{key("a", "ES256", 0, nil), key("b", "ES256", 0, nil)},
			wantSigning:   []string{"b"},
			wantPublished: []string{"b", "a"},
		},
	}
	ids := func(ks []*store.SigningKey) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.ID)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plan(tt.recs, now)
			if d := cmp.Diff(tt.wantSigning, ids(got.signing)); d != "" {
				t.Errorf("signing (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantPublished, ids(got.published)); d != "" {
				t.Errorf("published (-want +got):\n%s", d)
			}
			if !got.next.Equal(tt.wantNext) {
				t.Errorf("next = %v, want %v", got.next, tt.wantNext)
			}
			// The records' order must not matter: every node lists them
			// from its own back end.
			rev := make([]*store.SigningKey, len(tt.recs))
			for i, k := range tt.recs {
				rev[len(rev)-1-i] = k
			}
			if d := cmp.Diff(ids(got.signing), ids(plan(rev, now).signing)); d != "" {
				t.Errorf("signing depends on record order:\n%s", d)
			}
		})
	}
}

// TestKeyRefreshLoop checks that a serving node picks up a rotation by
// itself: the new key appears in its view within KeyRefresh and starts
// signing at its ActiveFrom without anyone calling RefreshKeys.
func TestKeyRefreshLoop(t *testing.T) {
	st := memory.New()
	srv, err := New(t.Context(), Config{Issuer: "http://127.0.0.1:1", KeyRefresh: 50 * time.Millisecond}, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { srv.runKeyRefresh(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	r, err := RotateKeys(t.Context(), st.Keys, []string{jose.ES256}, 300*time.Millisecond, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kid := r.Added[0].ID
	has := func() bool {
		return slices.ContainsFunc(srv.keys.Load().public.Keys(), func(k *jose.PublicKey) bool { return k.KeyID() == kid })
	}
	signs := func() bool {
		tok, err := srv.keys.Load().signer.Sign(jose.ES256, "", map[string]any{"x": 1})
		return err == nil && strings.Contains(headerOf(tok), kid)
	}
	waitFor(t, "new key published", has)
	if signs() {
		t.Fatal("new key signs before its ActiveFrom")
	}
	waitFor(t, "new key signing", signs)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// headerOf returns a compact JWS's decoded protected header.
func headerOf(jws string) string {
	h, _, _ := strings.Cut(jws, ".")
	b, _ := base64.RawURLEncoding.DecodeString(h)
	return string(b)
}
