package memory

import (
	"fmt"
	"testing"
	"time"
)

// TestSweepBoundsDeadEntries checks that keys written once and never read
// again (the normal life of a replay-guard jti) do not accumulate: lazy
// expiry alone would keep them forever.
func TestSweepBoundsDeadEntries(t *testing.T) {
	tb := newTable(func(exp *time.Time) time.Time { return *exp })
	now := time.Now()
	past := now.Add(-time.Second)
	for i := range 10_000 {
		tb.putLocked(fmt.Sprint("dead", i), &past, now)
	}
	if n := len(tb.m); n > 2*minSweep {
		t.Fatalf("%d dead entries retained after 10000 writes, want at most %d", n, 2*minSweep)
	}
	future := now.Add(time.Hour)
	for i := range 1_000 {
		tb.putLocked(fmt.Sprint("live", i), &future, now)
	}
	live := 0
	for k := range tb.m {
		if k[:4] == "live" {
			live++
		}
	}
	if live != 1_000 {
		t.Fatalf("sweep dropped live entries: %d of 1000 left", live)
	}
}

// TestCodeRetention checks that a used code outlives its expiry by the
// retention window (for replay detection) and an unused one does not.
func TestCodeRetention(t *testing.T) {
	c := New().Codes.(*codes)
	now := time.Now()
	exp := now.Add(-time.Minute)
	c.t.m["used"] = &codeEntry{used: true}
	c.t.m["used"].rec.ExpiresAt = exp
	c.t.m["unused"] = &codeEntry{}
	c.t.m["unused"].rec.ExpiresAt = exp
	if c.t.getLocked("used", now) == nil {
		t.Error("used code forgotten inside its retention window")
	}
	if c.t.getLocked("unused", now) != nil {
		t.Error("expired unused code still visible")
	}
	if c.t.getLocked("used", exp.Add(codeRetention)) != nil {
		t.Error("used code still visible after its retention window")
	}
}
