package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// TestKeysRotate runs "bulwark keys rotate" and "bulwark keys list"
// against SQLite and PostgreSQL: a rotation adds a key that signs later and
// schedules the old one's retirement.
func TestKeysRotate(t *testing.T) {
	backends := map[string]config.Env{
		"sqlite":   {"BULWARK_STORAGE_DSN": filepath.Join(t.TempDir(), "b.db")},
		"postgres": {"BULWARK_STORAGE_DRIVER": "postgres", "BULWARK_STORAGE_DSN": services.PostgresSchema(t)},
	}
	for name, env := range backends {
		t.Run(name, func(t *testing.T) {
			steps := []struct {
				args       []string
				wantStatus int
				wantOut    []string
			}{
				// On an empty store: new keys, nothing to retire.
				{[]string{"keys", "rotate", "--alg", "ES256", "--publish-ahead", "0s"}, 0, []string{"added ES256"}},
				{[]string{"keys", "rotate", "--alg", "ES256", "--publish-ahead", "10m", "--retire-after", "1h"}, 0, []string{"added ES256", "retiring ES256"}},
				{[]string{"keys", "list"}, 0, []string{"SIGNS FROM", "ES256"}},
				{[]string{"keys", "rotate", "--alg", "HS256"}, exitFailure, nil},
			}
			for _, st := range steps {
				var stdout, stderr bytes.Buffer
				status := run(context.Background(), st.args, env, &stdout, &stderr)
				if status != st.wantStatus {
					t.Fatalf("%v: status %d, want %d; stderr:\n%s", st.args, status, st.wantStatus, stderr.String())
				}
				for _, w := range st.wantOut {
					if !strings.Contains(stdout.String(), w) {
						t.Errorf("%v: stdout %q lacks %q", st.args, stdout.String(), w)
					}
				}
			}
		})
	}
}
