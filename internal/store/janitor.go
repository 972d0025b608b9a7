package store

import (
	"context"
	"time"
)

// RunJanitor calls purge with the current time now and then every
// interval until ctx ends; the SQL back ends' RunJanitor methods are this
// loop over their own Purge. It blocks, so a server runs it in a
// goroutine it owns and stops it through ctx. report, if not nil,
// receives each run's outcome (for logs and metrics); a failed run does
// not stop the loop, since the next one may succeed.
func RunJanitor(ctx context.Context, interval time.Duration, purge func(ctx context.Context, now time.Time) (int64, error), report func(purged int64, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := purge(ctx, time.Now())
		if ctx.Err() != nil {
			return
		}
		if report != nil {
			report(n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
