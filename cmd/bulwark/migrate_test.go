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

// TestMigrate runs "bulwark migrate" twice on a fresh PostgreSQL schema
// (first run applies, second finds nothing) and on the other drivers.
func TestMigrate(t *testing.T) {
	pg := config.Env{"BULWARK_STORAGE_DRIVER": "postgres", "BULWARK_STORAGE_DSN": services.PostgresSchema(t)}
	tests := []struct {
		name       string
		env        config.Env
		wantStatus int
		wantOut    string
	}{
		{"ok/postgres-fresh", pg, 0, "applied 0001_init.sql"},
		{"ok/postgres-current", pg, 0, "(0 migrations applied now)"},
		{"ok/sqlite", config.Env{"BULWARK_STORAGE_DSN": filepath.Join(t.TempDir(), "b.db")}, 0, "sqlite schema is current"},
		{"ok/memory", config.Env{"BULWARK_STORAGE_DRIVER": "memory"}, 0, "no schema"},
		{"fail/invalid", config.Env{"BULWARK_STORAGE_DRIVER": "postgres"}, exitInvalid, ""},
		{"fail/unreachable", config.Env{"BULWARK_STORAGE_DRIVER": "postgres", "BULWARK_STORAGE_DSN": "postgres://postgres@127.0.0.1:1/test?connect_timeout=2"}, exitFailure, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(context.Background(), []string{"migrate"}, tc.env, &stdout, &stderr)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d; stderr:\n%s", status, tc.wantStatus, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantOut) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.wantOut)
			}
		})
	}
}
