package testclock

import (
	"sync"
	"time"
)

// Clock is a settable test clock. It starts at the current second so that
// stores which judge expiry by the real time agree with it. It is safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time // guarded by mu
}

// New returns a clock set to the current time, truncated to the second.
func New() *Clock { return &Clock{t: time.Now().Truncate(time.Second)} }

// Now returns the clock's time; pass it where a Now func() time.Time is
// wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
