package main

import (
	"io"
	"log/slog"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
)

// loadRole loads the configuration of a role command (gateway, bff): the
// file, the role's typed section and a logger at the configured level.
// Every problem is reported on stderr by key, and the returned error
// carries the exit code for an invalid configuration.
func loadRole[T any](env config.Env, path string, stderr io.Writer, section func(*config.File) (T, error)) (*config.File, T, *slog.Logger, error) {
	var zero T
	f, err := config.Load(path, env)
	if err != nil {
		return nil, zero, nil, reportInvalid(stderr, err, exitInvalid)
	}
	cfg, err := section(f)
	if err != nil {
		return nil, zero, nil, reportInvalid(stderr, err, exitInvalid)
	}
	level, err := f.LogLevel()
	if err != nil {
		return nil, zero, nil, reportInvalid(stderr, err, exitInvalid)
	}
	return f, cfg, telemetry.NewLogger(stderr, level), nil
}
