package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/store/postgres"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
	"github.com/bulwarkauth/bulwark/internal/store/sqlite"
)

// janitorInterval is how often a server purges dead rows from a SQL store.
const janitorInterval = 5 * time.Minute

// backends is what openBackends opened for a server.
type backends struct {
	// store is what the server uses: the durable store, with the cache's
	// aggregates laid over it when a cache is configured.
	store *store.Store
	// counter holds shared rate-limit counts; nil without a cache.
	counter httpx.Counter
	// purge deletes dead rows of the durable store; nil when it has
	// nothing to purge.
	purge func(ctx context.Context, now time.Time) (int64, error)
}

// openBackends opens the configured storage and cache.
func openBackends(ctx context.Context, s config.Storage, c config.Cache) (*backends, error) {
	b := &backends{}
	var name string
	switch s.Driver {
	case config.DriverMemory:
		b.store, name = memory.New(), "memory"
	case config.DriverSQLite:
		// The default DSN lives in ./bulwark-data, which a first start
		// has to create. URI DSNs (file:…) are left to the driver.
		if !strings.HasPrefix(s.DSN, "file:") && s.DSN != ":memory:" {
			if err := os.MkdirAll(filepath.Dir(s.DSN), 0o700); err != nil {
				return nil, fmt.Errorf("storage: %w", err)
			}
		}
		d, err := sqlite.OpenDB(ctx, s.DSN)
		if err != nil {
			return nil, err
		}
		b.store, b.purge, name = d.Store(), d.Purge, "sqlite"
	case config.DriverPostgres:
		d, err := postgres.Open(ctx, s.DSN, postgres.Options{SkipMigrations: !s.MigrateOnStart})
		if err != nil {
			return nil, err
		}
		b.store, b.purge, name = d.Store(), d.Purge, "postgres"
	default:
		// Unreachable: Validate accepts only the drivers above.
		return nil, fmt.Errorf("storage: unknown driver %q", s.Driver)
	}
	if c.Driver != config.CacheRedis {
		return b, nil
	}
	rc, err := redis.Open(ctx, c.URL, redis.Options{Prefix: c.Prefix})
	if err != nil {
		b.close()
		return nil, err
	}
	b.store = store.Overlay(b.store, name, rc.Store(), "redis")
	b.counter = rc
	return b, nil
}

// close closes every back end.
func (b *backends) close() {
	if b.store.Close != nil {
		b.store.Close()
	}
}

// runJanitor purges dead rows until ctx ends, logging failures; it
// returns at once when the store has nothing to purge.
func (b *backends) runJanitor(ctx context.Context, log *slog.Logger) {
	if b.purge == nil {
		return
	}
	store.RunJanitor(ctx, janitorInterval, b.purge, func(n int64, err error) {
		if err != nil {
			log.WarnContext(ctx, "purge of expired records failed", slog.Any("cause", err))
		} else if n > 0 {
			log.DebugContext(ctx, "purged expired records", slog.Int64("rows", n))
		}
	})
}
