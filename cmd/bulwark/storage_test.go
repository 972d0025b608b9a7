package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// TestOpenBackends opens each configured combination the way serve does
// and checks what the server gets: the named dependencies for /readyz,
// a shared rate counter only with Redis, and a janitor for SQL stores.
func TestOpenBackends(t *testing.T) {
	redisCache := config.Cache{Driver: config.CacheRedis, URL: services.RedisURL, Prefix: services.RedisPrefix(t)}
	tests := []struct {
		name        string
		storage     config.Storage
		cache       config.Cache
		wantChecks  []string
		wantCounter bool
		wantPurge   bool
	}{
		{"ok/memory", config.Storage{Driver: config.DriverMemory}, config.Cache{Driver: config.CacheNone}, nil, false, false},
		{"ok/postgres", config.Storage{Driver: config.DriverPostgres, DSN: services.PostgresSchema(t), MigrateOnStart: true}, config.Cache{Driver: config.CacheNone}, nil, false, true},
		{"ok/postgres_redis", config.Storage{Driver: config.DriverPostgres, DSN: services.PostgresSchema(t), MigrateOnStart: true}, redisCache, []string{"postgres", "redis"}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b, err := openBackends(ctx, tc.storage, tc.cache)
			if err != nil {
				t.Fatal(err)
			}
			defer b.close()
			var names []string
			for _, c := range b.store.Checks {
				names = append(names, c.Name)
			}
			if !slices.Equal(names, tc.wantChecks) {
				t.Errorf("checks = %v, want %v", names, tc.wantChecks)
			}
			if (b.counter != nil) != tc.wantCounter || (b.purge != nil) != tc.wantPurge {
				t.Errorf("counter %v, purge %v; want %v, %v", b.counter != nil, b.purge != nil, tc.wantCounter, tc.wantPurge)
			}
			if err := b.store.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
	t.Run("fail/postgres_schema_not_migrated", func(t *testing.T) {
		_, err := openBackends(context.Background(), config.Storage{Driver: config.DriverPostgres, DSN: services.PostgresSchema(t)}, config.Cache{Driver: config.CacheNone})
		if err == nil {
			t.Fatal("opened an unmigrated schema with migrate_on_start false")
		}
	})
	t.Run("fail/redis_unreachable", func(t *testing.T) {
		_, err := openBackends(context.Background(), config.Storage{Driver: config.DriverMemory},
			config.Cache{Driver: config.CacheRedis, URL: "redis://127.0.0.1:1/0", Prefix: "x:"})
		if err == nil {
			t.Fatal("opened an unreachable Redis")
		}
	})
}
