package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
)

// demoKeyFile receives the demo-fapi client's private JWK in --dev mode,
// for use with any private_key_jwt client library.
const demoKeyFile = "bulwark-data/demo-fapi-key.json"

// newServeCommand is "bulwark serve".
func newServeCommand(env config.Env) *cobra.Command {
	var (
		path string
		dev  bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the authorization server",
		Long: "Run the authorization server until SIGINT or SIGTERM, then shut down gracefully.\n\n" +
			"With --dev, a demo user and demo clients are added and a curl walkthrough of the\n" +
			"authorization code flow is printed; --dev refuses a non-loopback issuer.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), env, path, dev, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML configuration `file` (default: built-in defaults)")
	cmd.Flags().BoolVar(&dev, "dev", false, "add demo identities and print a curl walkthrough (loopback issuer only)")
	return cmd
}

// serve loads and checks the configuration, opens storage, and runs the
// server until ctx is cancelled or a signal arrives. The walkthrough is
// printed only once the listener is bound, so its commands work when read.
func serve(ctx context.Context, env config.Env, path string, dev bool, stdout, stderr io.Writer) error {
	f, err := config.Load(path, env)
	if err != nil {
		return reportInvalid(stderr, err, exitInvalid)
	}
	var demoKey *jose.PrivateKey
	if dev {
		if demoKey, err = jose.GenerateKey(jose.ES256); err != nil {
			return err
		}
		pub, err := demoKey.Public().MarshalJSON()
		if err != nil {
			return err
		}
		f, err = f.WithDemo(pub)
		if errors.Is(err, config.ErrDemoNotLoopback) {
			fmt.Fprintln(stderr, "bulwark: --dev needs a loopback issuer (127.0.0.1, [::1] or localhost): the demo credentials are public")
			return exitStatus(exitInvalid)
		} else if err != nil {
			return err
		}
	}
	cfg, err := f.AuthServer()
	if err != nil {
		return reportInvalid(stderr, err, exitInvalid)
	}
	level, err := f.LogLevel()
	if err != nil {
		return reportInvalid(stderr, err, exitInvalid)
	}
	logger := telemetry.NewLogger(stderr, level)
	if dev {
		if err := writePrivateFile(demoKeyFile, demoKey); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// Once shutdown has begun, restore the default handlers so a
		// second signal ends a shutdown that hangs.
		<-ctx.Done()
		stop()
	}()
	b, err := openBackends(ctx, f.Storage, f.Cache)
	if err != nil {
		return err
	}
	defer b.close()
	go b.runJanitor(ctx, logger)
	cfg.RateCounter = b.counter
	srv, err := authserver.New(ctx, cfg, b.store, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if dev {
		verifier, challenge, err := newPKCE()
		if err != nil {
			ln.Close()
			return err
		}
		fmt.Fprint(stdout, walkthrough(cfg.Issuer, verifier, challenge))
	}
	return srv.Serve(ctx, ln)
}

// writePrivateFile writes key's private JWK to path with mode 0600,
// through a temporary file and a rename, so the key is never readable by
// others, not even briefly or when path existed with a wider mode.
func writePrivateFile(path string, key *jose.PrivateKey) error {
	data, err := key.MarshalJSON()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*") // created with mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
