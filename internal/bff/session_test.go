package bff

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// TestSealer checks that sealed session data opens only under its own
// session hash and secret, and that tampering is detected.
func TestSealer(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	d := &sessionData{AccessToken: "at", RefreshToken: "rt", RefreshedAt: time.Unix(1, 0)}
	b, err := s.seal("hash-a", d)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`"rt":"rt"`)) {
		t.Error("the sealed data holds the plain JSON")
	}
	if got, err := s.open("hash-a", b); err != nil || got.RefreshToken != "rt" {
		t.Fatalf("open: %+v, %v", got, err)
	}
	if _, err := s.open("hash-b", b); err == nil {
		t.Error("data sealed for one session opened under another's hash")
	}
	other, _ := newSealer(bytes.Repeat([]byte("x"), 32))
	if _, err := other.open("hash-a", b); err == nil {
		t.Error("data opened with another secret")
	}
	b[len(b)-1] ^= 1
	if _, err := s.open("hash-a", b); err == nil {
		t.Error("tampered data opened")
	}
	if _, err := s.open("hash-a", b[:3]); err == nil {
		t.Error("truncated data opened")
	}
	if _, err := newSealer([]byte("short")); err == nil {
		t.Error("a short secret was accepted")
	}
}

// TestFlight runs 50 concurrent calls of one key: one runs, all share
// its result, each with its own copy.
func TestFlight(t *testing.T) {
	var f flight
	var runs atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]*session, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := f.do("k", func() (*session, error) {
				runs.Add(1)
				<-release
				return &session{hash: "k", rec: &store.WebSession{}, data: &sessionData{AccessToken: "at"}}, nil
			})
			if err != nil {
				t.Error(err)
			}
			results[i] = s
		}()
	}
	// Let every caller pile up behind the first, then finish it.
	for {
		f.mu.Lock()
		c := f.calls["k"]
		n := 0
		if c != nil {
			n = c.waiters
		}
		f.mu.Unlock()
		if n == len(results)-1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if runs.Load() != 1 {
		t.Errorf("%d runs for %d concurrent callers, want 1", runs.Load(), len(results))
	}
	if results[0] == nil || results[1] == nil || results[0].data == results[1].data {
		t.Error("callers share one mutable session value")
	}
}

// TestGroups renders groups claims for X-Auth-Request-Groups.
func TestGroups(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{[]any{"a", "b"}, "a,b"}, {"solo", "solo"}, {nil, ""}, {[]any{"a,b", "c\n", 7, "d"}, "d"}, {42, ""},
	} {
		if got := groups(tc.in); got != tc.want {
			t.Errorf("groups(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
