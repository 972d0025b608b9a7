package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

func TestParseDSN(t *testing.T) {
	defaults := "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	tests := []struct {
		name, dsn  string
		wantDSN    string
		wantPath   string
		wantMemory bool
		wantErr    bool
	}{
		{name: "relative path", dsn: "./bulwark-data/bulwark.db", wantDSN: "./bulwark-data/bulwark.db?" + defaults, wantPath: "./bulwark-data/bulwark.db"},
		{name: "absolute path", dsn: "/var/lib/bulwark/b.db", wantDSN: "/var/lib/bulwark/b.db?" + defaults, wantPath: "/var/lib/bulwark/b.db"},
		{name: "path with query", dsn: "b.db?_pragma=cache_size(-8000)", wantDSN: "b.db?_pragma=cache_size(-8000)&" + defaults, wantPath: "b.db"},
		{name: "override busy timeout", dsn: "b.db?_pragma=busy_timeout(100)", wantPath: "b.db",
			wantDSN: "b.db?_pragma=busy_timeout(100)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"},
		{name: "override with equals", dsn: "b.db?_pragma=Journal_Mode%3DDELETE", wantPath: "b.db",
			wantDSN: "b.db?_pragma=Journal_Mode%3DDELETE&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"},
		{name: "memory", dsn: ":memory:", wantDSN: ":memory:?" + defaults, wantMemory: true},
		{name: "file URI relative", dsn: "file:data/b.db", wantDSN: "file:data/b.db?" + defaults, wantPath: "data/b.db"},
		{name: "file URI absolute", dsn: "file:/srv/b.db?mode=rwc", wantDSN: "file:/srv/b.db?mode=rwc&" + defaults, wantPath: "/srv/b.db"},
		{name: "file URI empty authority", dsn: "file:///srv/my%20db.db", wantDSN: "file:///srv/my%20db.db?" + defaults, wantPath: "/srv/my db.db"},
		{name: "file URI localhost", dsn: "file://localhost/srv/b.db", wantDSN: "file://localhost/srv/b.db?" + defaults, wantPath: "/srv/b.db"},
		{name: "file URI memory", dsn: "file::memory:", wantDSN: "file::memory:?" + defaults, wantMemory: true},
		{name: "file URI mode memory", dsn: "file:x?mode=memory&cache=shared", wantDSN: "file:x?mode=memory&cache=shared&" + defaults, wantMemory: true},
		{name: "file URI remote host", dsn: "file://db.example/srv/b.db", wantErr: true},
		{name: "empty", dsn: "", wantErr: true},
		{name: "bad query", dsn: "b.db?%zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDSN(tt.dsn)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseDSN(%q) = %+v, want an error", tt.dsn, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := dsnConfig{dsn: tt.wantDSN, path: tt.wantPath, memory: tt.wantMemory}
			if got != want {
				t.Errorf("parseDSN(%q)\n got %+v\nwant %+v", tt.dsn, got, want)
			}
		})
	}
}

func openTest(t *testing.T, dsn string) *DB {
	t.Helper()
	d, err := OpenDB(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestPragmasOnEveryConnection holds several pooled connections at once, so
// the pool must open new ones, and checks each has the settings: a pragma
// run once after Open would configure only the first connection.
func TestPragmasOnEveryConnection(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "b.db"))
	ctx := t.Context()
	want := map[string]string{"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1", "synchronous": "1"}
	check := func(pool string, c *sql.Conn) {
		for name, w := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
				t.Fatalf("%s: PRAGMA %s: %v", pool, name, err)
			}
			if !strings.EqualFold(got, w) {
				t.Errorf("%s: PRAGMA %s = %s, want %s", pool, name, got, w)
			}
		}
	}
	var conns []*sql.Conn
	for range 4 {
		c, err := d.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		check("reader", c)
		var qo string
		if err := c.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
			t.Errorf("reader: query_only = %q, %v; want 1", qo, err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	w, err := d.w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	check("writer", w)
}

func TestOpenCreatesParentDirectory(t *testing.T) {
	for _, form := range []string{"path", "uri"} {
		t.Run(form, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a", "b")
			file := filepath.Join(dir, "bulwark.db")
			dsn := file
			if form == "uri" {
				dsn = "file:" + file + "?mode=rwc"
			}
			d := openTest(t, dsn)
			if err := d.Ping(t.Context()); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
			}
			if _, err := os.Stat(file); err != nil {
				t.Errorf("database file not created: %v", err)
			}
		})
	}
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	ctx := t.Context()
	d, err := OpenDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Store().Clients.Put(ctx, &store.Client{ID: "c", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openTest(t, path)
	if _, err := d.Store().Clients.Get(ctx, "c"); err != nil {
		t.Fatalf("client lost across reopen: %v", err)
	}
	var n, version int
	if err := d.r.QueryRowContext(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &version); err != nil {
		t.Fatal(err)
	}
	steps, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if n != len(steps) || version != len(steps) {
		t.Errorf("schema_migrations has %d rows up to version %d, want %d", n, version, len(steps))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	d, err := OpenDB(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err := OpenDB(t.Context(), path); err == nil {
		d.Close()
		t.Fatal("Open accepted a database from a newer schema")
	}
}

// TestConcurrentOpen starts several processes' worth of Open on one new
// file: the migration transaction must let exactly one create the schema
// and the rest find it done.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			d, err := OpenDB(t.Context(), path)
			if err == nil {
				err = d.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
}

func TestInMemoryDSN(t *testing.T) {
	// One connection serves reads and writes: a read issued while a write
	// is waiting must not deadlock, and data must survive between calls.
	d := openTest(t, ":memory:")
	s := d.Store()
	ctx := t.Context()
	exp := time.Now().Add(time.Minute)
	if err := s.Codes.Put(ctx, "h", &store.AuthorizationCode{ClientID: "c", GrantID: "g", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Codes.Consume(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Codes.Consume(ctx, "h"); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("second Consume: %v, want ErrReplayed", err)
	}
	if err := s.RefreshTokens.Put(ctx, "old", &store.RefreshToken{GrantID: "g", ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.RefreshTokens.Rotate(ctx, "missing", time.Now(), "new", &store.RefreshToken{ExpiresAt: exp}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Rotate missing: %v, want ErrNotFound", err)
	}
	if err := s.RefreshTokens.Rotate(ctx, "old", time.Now(), "new", &store.RefreshToken{ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
}

// TestLockedByOtherProcess holds the write lock from a separate
// connection, as another process would, and checks that a write gives up
// with ErrUnavailable when the caller's deadline passes instead of
// hanging for the whole busy timeout or reporting success.
func TestLockedByOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	d := openTest(t, path)
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	if _, err := other.Exec(`BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer other.Exec(`ROLLBACK`)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = d.Store().Replay.Use(ctx, "k", time.Now().Add(time.Minute))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Replay.Use under another process's lock: %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Replay.Use took %v to give up, want about the 200ms deadline", el)
	}
	// Reads are not blocked by a writer in WAL mode.
	if _, err := d.Store().Revocations.IsRevoked(t.Context(), "jti"); err != nil {
		t.Errorf("read while another process writes: %v", err)
	}
}

func TestPurge(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "b.db"))
	s := d.Store()
	ctx := t.Context()
	now := time.Now()
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// A used code, consumed while live; it will be purged only once its
	// retention has passed.
	must(s.Codes.Put(ctx, "used", &store.AuthorizationCode{ClientID: "c", GrantID: "g", ExpiresAt: future}))
	_, err := s.Codes.Consume(ctx, "used")
	must(err)
	must(s.Codes.Put(ctx, "expired-unused", &store.AuthorizationCode{ClientID: "c", GrantID: "g", ExpiresAt: past}))
	must(s.Requests.Put(ctx, "req", &store.AuthorizationRequest{ClientID: "c", ExpiresAt: past}))
	must(s.Sessions.Put(ctx, "sess", &store.Session{Subject: "u", ExpiresAt: past}))
	must(s.RefreshTokens.Put(ctx, "rt", &store.RefreshToken{GrantID: "g", ExpiresAt: past}))
	must(s.Grants.Put(ctx, &store.Grant{ID: "g", ExpiresAt: past}))
	must(s.Revocations.Revoke(ctx, "jti", past))
	for i := range purgeBatch*2 + 7 { // several batches
		must(s.Replay.Use(ctx, fmt.Sprint("k", i), past))
	}
	must(s.Replay.Use(ctx, "live", future))
	must(s.Sessions.Put(ctx, "live", &store.Session{Subject: "u", ExpiresAt: future}))

	n, err := d.Purge(ctx, now)
	must(err)
	if want := int64(6 + purgeBatch*2 + 7); n != want {
		t.Errorf("Purge removed %d rows, want %d", n, want)
	}
	count := func(table string) int {
		var c int
		must(d.r.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&c))
		return c
	}
	for table, want := range map[string]int{"codes": 1, "requests": 0, "sessions": 1, "refresh_tokens": 0, "grants": 0, "revocations": 0, "replay": 1} {
		if got := count(table); got != want {
			t.Errorf("%s has %d rows after Purge, want %d", table, got, want)
		}
	}
	// After expiry but inside retention the used code stays, so a late
	// replay is still detected.
	_, err = d.Purge(ctx, future.Add(CodeRetention-time.Second))
	must(err)
	if count("codes") != 1 {
		t.Error("used code purged inside its retention window")
	}
	_, err = d.Purge(ctx, future.Add(CodeRetention))
	must(err)
	if count("codes") != 0 {
		t.Error("used code kept past its retention window")
	}
}

func TestRunJanitor(t *testing.T) {
	d := openTest(t, filepath.Join(t.TempDir(), "b.db"))
	if err := d.Store().Replay.Use(t.Context(), "k", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	runs := make(chan int64, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.RunJanitor(ctx, 10*time.Millisecond, func(n int64, err error) {
			if err != nil {
				t.Errorf("janitor run: %v", err)
			}
			select {
			case runs <- n:
			default:
			}
		})
	}()
	if n := <-runs; n != 1 {
		t.Errorf("first run purged %d rows, want 1", n)
	}
	<-runs // the ticker keeps it going
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunJanitor did not return after its context ended")
	}
}
