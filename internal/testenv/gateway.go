package testenv

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/gateway"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
)

// NewGateway builds Bulwark's gateway from a YAML configuration with a
// gateway section, through package config exactly as `bulwark gateway`
// does (every default and validation rule applies). st is the replay
// store; nil keeps proofs in the gateway's memory. Logs are discarded
// unless BULWARK_TEST_LOG is set. The caller serves gw.Handler().
func NewGateway(t testing.TB, yaml string, st *store.Store) *gateway.Gateway {
	t.Helper()
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Load(file, nil)
	if err != nil {
		t.Fatalf("gateway config:\n%v", err)
	}
	cfg, err := f.GatewayConfig()
	if err != nil {
		t.Fatalf("gateway config:\n%v", err)
	}
	// Discarded logs stay at Warn so that benchmarks do not format
	// debug records nobody reads.
	var w io.Writer = io.Discard
	level := slog.LevelWarn
	if os.Getenv("BULWARK_TEST_LOG") != "" {
		w, level = os.Stderr, slog.LevelDebug
	}
	gw, err := gateway.New(context.Background(), cfg, st, telemetry.NewLogger(w, level))
	if err != nil {
		t.Fatal(err)
	}
	return gw
}
