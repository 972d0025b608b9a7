package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/internal/config"
)

func main() {
	// The heap of a running server is small (a few MiB of caches and
	// in-flight requests) while its allocation rate is high, so the default
	// GOGC=100 collects thousands of times a second. 400 trades a few MiB
	// for about a tenth of the token endpoint's CPU (docs/benchmarks.md).
	// An explicit GOGC in the environment wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	os.Exit(run(context.Background(), os.Args[1:], config.Environ(), os.Stdout, os.Stderr))
}

// Exit statuses beyond 0.
const (
	exitFailure = 1 // a runtime failure, or problems found by config check
	exitInvalid = 2 // serve refused its configuration or flags
)

// exitStatus is an error whose message was already written to stderr; it
// only sets the process's exit status.
type exitStatus int

func (e exitStatus) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// usageError is a command-line mistake (unknown flag, stray argument).
type usageError struct {
	err     error
	command string
}

func (e usageError) Error() string { return e.err.Error() }

// run executes the command line args with env as the BULWARK_*
// environment and returns the process exit status.
func run(ctx context.Context, args []string, env config.Env, stdout, stderr io.Writer) int {
	return execute(ctx, newRootCommand(env, clientDeps{}), args, stdout, stderr)
}

// execute runs root with args and returns the process exit status.
func execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var status exitStatus
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		return int(status)
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "bulwark: %v\nRun '%s --help' for usage.\n", usage.err, usage.command)
		return exitInvalid
	default:
		fmt.Fprintf(stderr, "bulwark: %v\n", err)
		return exitFailure
	}
}

// newRootCommand assembles the command tree. env is passed down rather
// than read where it is used, so tests control it; so are the client
// commands' deps (their env is set to env here).
func newRootCommand(env config.Env, deps clientDeps) *cobra.Command {
	root := &cobra.Command{
		Use:   "bulwark",
		Short: "Bulwark is a FAPI 2.0 authorization server, API gateway, BFF and OAuth client",
		Long: "Bulwark is a FAPI 2.0 authorization server, an API gateway in front of any HTTP API,\n" +
			"a Backend-for-Frontend that keeps single-page apps token-free,\n" +
			"and a command-line OAuth client with DPoP-bound tokens.\n\n" +
			"Server:\n" +
			"  serve         run the authorization server\n" +
			"  gateway       run the API gateway\n" +
			"  bff           run the Backend-for-Frontend for single-page apps\n" +
			"  config check  validate a configuration and list every problem\n" +
			"  migrate       apply pending schema migrations and exit\n" +
			"  keys          rotate and list signing keys\n" +
			"  admin         manage clients, users, consents, keys, sessions and the audit log over the admin API\n" +
			"  version       print the module and Go versions\n\n" +
			"Client (profiles in the user config dir, tokens in a file or Redis cache):\n" +
			"  login         log in (browser loopback flow, or --device) and cache the tokens\n" +
			"  token         print a valid access token, refreshing as needed (--json)\n" +
			"  curl          send a request with the bound token and a fresh proof\n" +
			"  logout        revoke the tokens and delete them from the cache",
		// Errors are printed once, by run, in one format.
		SilenceErrors: true,
		SilenceUsage:  true,
		// Without subcommand-specific completion there is nothing the
		// generated completion command adds.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{err: err, command: c.CommandPath()}
	})
	root.AddCommand(newServeCommand(env), newGatewayCommand(env), newBFFCommand(env), newConfigCommand(env), newMigrateCommand(env), newKeysCommand(env), newVersionCommand(), newAdminCommand(env))
	deps.env = env
	root.AddCommand(newLoginCommand(deps), newTokenCommand(deps), newCurlCommand(deps), newLogoutCommand(deps))
	return root
}

// noArgs rejects positional arguments as a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{err: fmt.Errorf("unexpected argument %q", args[0]), command: c.CommandPath()}
	}
	return nil
}

// reportInvalid writes a configuration failure to w, one problem per
// line, and returns the exit status to end with.
func reportInvalid(w io.Writer, err error, status int) error {
	fmt.Fprintln(w, "bulwark: invalid configuration:")
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintf(w, "  %v\n", p)
		}
	} else {
		fmt.Fprintf(w, "  %v\n", err)
	}
	return exitStatus(status)
}
