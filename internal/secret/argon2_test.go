package secret

import (
	"errors"
	"testing"
	"time"
)

var fastParams = Params{MemoryKiB: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse", fastParams)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		secret string
		phc    string
		want   error
	}{
		{"ok/match", "correct horse", h, nil},
		{"fail/mismatch", "correct horsf", h, ErrMismatch},
		{"fail/empty", "", h, ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(tt.secret, tt.phc); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$!!"} {
		if err := Verify("x", bad); err == nil {
			t.Errorf("Verify(%q) accepted a malformed hash", bad)
		}
	}
}

func TestVerifierCachesOnlySuccess(t *testing.T) {
	now := time.Unix(1000, 0)
	v := NewVerifier(time.Minute, 10, func() time.Time { return now })
	h, _ := Hash("s3cret", fastParams)
	if err := v.Verify("wrong", h); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := v.Verify("s3cret", h); err != nil {
		t.Fatal(err)
	}
	if len(v.ok) != 1 {
		t.Fatalf("cache has %d entries, want 1", len(v.ok))
	}
	// A different stored hash for the same secret must not hit the entry.
	h2, _ := Hash("other", fastParams)
	if err := v.Verify("s3cret", h2); !errors.Is(err, ErrMismatch) {
		t.Fatalf("cache leaked across hashes: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if err := v.Verify("s3cret", h); err != nil {
		t.Fatal(err)
	}
}

func FuzzVerify(f *testing.F) {
	h, _ := Hash("seed", fastParams)
	f.Add("seed", h)
	f.Add("x", "$argon2id$v=19$m=64,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s, phc string) {
		_ = Verify(s, phc)
	})
}

func BenchmarkVerifierCached(b *testing.B) {
	v := NewVerifier(time.Minute, 1000, nil)
	h, _ := Hash("s3cret", DefaultParams)
	v.Verify("s3cret", h)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify("s3cret", h); err != nil {
			b.Fatal(err)
		}
	}
}
