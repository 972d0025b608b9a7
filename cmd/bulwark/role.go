package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

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

// roleCommand is the cobra command of a server role (gateway, bff): one
// --config flag naming a file with the role's section, and run, which
// serves until SIGINT or SIGTERM cancels its context and then shuts down
// gracefully.
func roleCommand(env config.Env, use, short, long string, run func(ctx context.Context, env config.Env, path string, stderr io.Writer) error) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, env, path, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML configuration `file` with a "+use+" section")
	return cmd
}
