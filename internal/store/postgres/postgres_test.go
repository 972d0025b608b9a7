package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/postgres"
	"github.com/bulwarkauth/bulwark/internal/store/storetest"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// TestStore runs the conformance suite on a real PostgreSQL: one schema
// for the run, emptied before each case, and a new pool per case (the
// suite closes stores).
func TestStore(t *testing.T) {
	dsn := services.PostgresSchema(t)
	storetest.RunTests(t, func(t *testing.T) *store.Store {
		d, err := postgres.Open(t.Context(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if err := d.Truncate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return d.Store()
	})
}

// TestConcurrentMigrate opens the store from several goroutines on one
// fresh schema at once, as nodes of a deployment starting together do:
// all must succeed and every migration must be recorded exactly once.
func TestConcurrentMigrate(t *testing.T) {
	dsn := services.PostgresSchema(t)
	const nodes = 5
	dbs := make([]*postgres.DB, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = postgres.Open(t.Context(), dsn, postgres.Options{})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: Open: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	ctx := t.Context()
	rows, err := dbs[0].QueryInt(ctx, `SELECT count(*) FROM schema_migrations`)
	if err != nil {
		t.Fatal(err)
	}
	distinct, err := dbs[0].QueryInt(ctx, `SELECT count(DISTINCT version) FROM schema_migrations`)
	if err != nil {
		t.Fatal(err)
	}
	if rows != distinct || rows == 0 {
		t.Fatalf("schema_migrations has %d rows for %d versions, want each version once", rows, distinct)
	}
	// Every node works on the one schema.
	for i, d := range dbs {
		if err := d.Store().Replay.Use(ctx, "node", time.Now().Add(time.Minute)); i == 0 && err != nil {
			t.Fatalf("node 0: Use: %v", err)
		} else if i > 0 && !errors.Is(err, store.ErrReplayed) {
			t.Fatalf("node %d: Use of a key node 0 used: got %v, want ErrReplayed", i, err)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dsn string)
		opts    postgres.Options
		wantErr bool
	}{
		{"ok/migrates_fresh_schema", nil, postgres.Options{}, false},
		{"fail/skip_migrations_on_fresh_schema", nil, postgres.Options{SkipMigrations: true}, true},
		{"ok/skip_migrations_on_current_schema", func(t *testing.T, dsn string) {
			d, err := postgres.Open(t.Context(), dsn, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
		}, postgres.Options{SkipMigrations: true}, false},
		{"fail/newer_schema", func(t *testing.T, dsn string) {
			d, err := postgres.Open(t.Context(), dsn, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := d.Exec(t.Context(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
				t.Fatal(err)
			}
		}, postgres.Options{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := services.PostgresSchema(t)
			if tt.prepare != nil {
				tt.prepare(t, dsn)
			}
			d, err := postgres.Open(t.Context(), dsn, tt.opts)
			if err == nil {
				d.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Open: err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestUnreachable points the store at a closed port: Open fails with
// ErrUnavailable rather than hanging or succeeding.
func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", postgres.Options{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open on a closed port: got %v, want ErrUnavailable", err)
	}
}

func TestPurge(t *testing.T) {
	d := services.OpenPostgres(t)
	s := d.Store()
	ctx := t.Context()
	now := time.Now()
	if err := s.Replay.Use(ctx, "k", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Codes.Put(ctx, store.Hash("c"), &store.AuthorizationCode{ClientID: "c", GrantID: "g", ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Codes.Consume(ctx, store.Hash("c")); err != nil {
		t.Fatal(err)
	}
	// Within retention the used code survives a purge; past it, it goes.
	n, err := d.Purge(ctx, now.Add(2*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Purge after expiry: %d, %v; want the replay row only", n, err)
	}
	n, err = d.Purge(ctx, now.Add(time.Minute+postgres.CodeRetention+time.Second))
	if err != nil || n != 1 {
		t.Fatalf("Purge after retention: %d, %v; want the used code", n, err)
	}
}
