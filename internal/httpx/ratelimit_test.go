package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// fakeClock is a settable clock for the limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// checkLimited asserts that err is a 429 rate_limited error with the
// given Retry-After.
func checkLimited(t *testing.T, err error, retryAfter int) {
	t.Helper()
	oe, ok := oauth.As(err)
	if !ok {
		t.Fatalf("error = %v, want rate_limited", err)
	}
	if oe.Code != oauth.ErrRateLimited || oe.HTTPStatus() != http.StatusTooManyRequests {
		t.Fatalf("error = %s (%d), want rate_limited (429)", oe.Code, oe.HTTPStatus())
	}
	if got := oe.Header["Retry-After"]; got != strconv.Itoa(retryAfter) {
		t.Fatalf("Retry-After = %q, want %d", got, retryAfter)
	}
}

// TestRateLimiterAllow walks one key through fixed windows.
func TestRateLimiterAllow(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	rl := httpx.NewRateLimiter(3, time.Minute, clock.now)
	for i := range 3 {
		if err := rl.Allow("198.51.100.7"); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	checkLimited(t, rl.Allow("198.51.100.7"), 60)
	if err := rl.Allow("198.51.100.8"); err != nil {
		t.Fatalf("another key was limited: %v", err)
	}
	clock.advance(10 * time.Second)
	checkLimited(t, rl.Allow("198.51.100.7"), 50)
	clock.advance(49*time.Second + 500*time.Millisecond)
	checkLimited(t, rl.Allow("198.51.100.7"), 1) // 0.5 s left rounds up
	clock.advance(500 * time.Millisecond)
	for i := range 3 {
		if err := rl.Allow("198.51.100.7"); err != nil {
			t.Fatalf("new window, request %d: %v", i+1, err)
		}
	}
	checkLimited(t, rl.Allow("198.51.100.7"), 60)
	// Long after, the sweep has dropped the key and it starts afresh.
	clock.advance(time.Hour)
	if err := rl.Allow("198.51.100.7"); err != nil {
		t.Fatalf("after an hour: %v", err)
	}
}

// TestRateLimiterExceeded: Exceeded reports a used-up window without
// counting, so login can refuse early while counting only failures.
func TestRateLimiterExceeded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	rl := httpx.NewRateLimiter(2, time.Minute, clock.now)
	const key = "login:alice"
	if err := rl.Exceeded(key); err != nil {
		t.Fatalf("fresh key: %v", err)
	}
	if err := rl.Allow(key); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := rl.Exceeded(key); err != nil {
			t.Fatalf("after 1 of 2: %v", err)
		}
	}
	if err := rl.Allow(key); err != nil {
		t.Fatalf("Exceeded counted requests: %v", err)
	}
	clock.advance(15 * time.Second)
	checkLimited(t, rl.Exceeded(key), 45)
	checkLimited(t, rl.Allow(key), 45)
	clock.advance(45 * time.Second)
	if err := rl.Exceeded(key); err != nil {
		t.Fatalf("next window: %v", err)
	}
}

// TestRateLimiterDisabled: a limit of zero or less, or a nil limiter,
// limits nothing (documented opt-outs).
func TestRateLimiterDisabled(t *testing.T) {
	tests := []struct {
		name string
		rl   *httpx.RateLimiter
	}{
		{"zero", httpx.NewRateLimiter(0, time.Minute, nil)},
		{"negative", httpx.NewRateLimiter(-1, time.Minute, nil)},
		{"nil", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 100 {
				if err := tc.rl.Allow("k"); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.rl.Exceeded("k"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRateLimiterConcurrent: under contention exactly limit requests per
// key get through.
func TestRateLimiterConcurrent(t *testing.T) {
	const limit, workers, keys = 25, 200, 4
	rl := httpx.NewRateLimiter(limit, time.Hour, nil)
	var allowed [keys]atomic.Int32
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			k := i % keys
			if rl.Allow("key-"+strconv.Itoa(k)) == nil {
				allowed[k].Add(1)
			}
			_ = rl.Exceeded("key-" + strconv.Itoa(k))
		})
	}
	wg.Wait()
	for k := range allowed {
		if got := allowed[k].Load(); got != limit {
			t.Errorf("key %d: %d requests allowed, want %d", k, got, limit)
		}
	}
}

// TestRateLimitedResponse: a limiter error renders as 429 with Retry-After.
func TestRateLimitedResponse(t *testing.T) {
	rl := httpx.NewRateLimiter(1, time.Minute, nil)
	h := httpx.Handler(discardLog(), func(w http.ResponseWriter, r *http.Request) error {
		if err := rl.Allow(httpx.ClientIP(r)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	codes := []int{}
	var last *httptest.ResponseRecorder
	for range 2 {
		last = httptest.NewRecorder()
		h.ServeHTTP(last, httptest.NewRequest(http.MethodPost, "/login", nil))
		codes = append(codes, last.Code)
	}
	if codes[0] != 204 || codes[1] != 429 {
		t.Fatalf("statuses %v, want [204 429]", codes)
	}
	if ra, err := strconv.Atoi(last.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q", last.Header().Get("Retry-After"))
	}
	checkJSONHeaders(t, last)
}

// TestClientIP: the key is the peer address; forwarding headers, which
// any caller can set, are ignored.
func TestClientIP(t *testing.T) {
	tests := []struct {
		name, remote, want string
	}{
		{"ipv4", "192.0.2.1:54321", "192.0.2.1"},
		{"ipv6", "[2001:db8::1]:443", "2001:db8::1"},
		{"no_port", "192.0.2.1", "192.0.2.1"},
		{"unix", "@", "@"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Forwarded-For", "203.0.113.9")
			r.Header.Set("X-Real-Ip", "203.0.113.9")
			r.Header.Set("Forwarded", "for=203.0.113.9")
			if got := httpx.ClientIP(r); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func BenchmarkRateLimiterAllow(b *testing.B) {
	rl := httpx.NewRateLimiter(1<<30, time.Minute, nil)
	b.ReportAllocs()
	for b.Loop() {
		if err := rl.Allow("192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}
