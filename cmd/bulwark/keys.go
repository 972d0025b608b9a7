package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/config"
)

// newKeysCommand is "bulwark keys" and its subcommands, which work on the
// signing keys in the configured storage; running servers pick changes
// up within their key refresh interval.
func newKeysCommand(env config.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the server's signing keys in storage",
		Args:  noArgs,
	}
	cmd.AddCommand(newKeysRotateCommand(env), newKeysListCommand(env))
	return cmd
}

// newKeysRotateCommand is "bulwark keys rotate".
func newKeysRotateCommand(env config.Env) *cobra.Command {
	var (
		path                      string
		algs                      []string
		publishAhead, retireAfter time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Add new signing keys, published now and signing after --publish-ahead",
		Long: "Add a new signing key per algorithm. Every node publishes it in JWKS at its next key\n" +
			"refresh, and every node starts signing with it at the same moment, --publish-ahead\n" +
			"from now; the key it replaces keeps signing until then and stays published for\n" +
			"--retire-after more, so tokens it signed still verify.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := openKeyStore(cmd, path, env)
			if err != nil {
				return err
			}
			defer b.close()
			r, err := authserver.RotateKeys(cmd.Context(), b.store.Keys, algs, publishAhead, retireAfter, time.Now())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, k := range r.Added {
				fmt.Fprintf(out, "added %s %s: published now, signing from %s\n", k.Algorithm, k.ID, k.ActiveFrom.UTC().Format(time.RFC3339))
			}
			for _, k := range r.Retiring {
				fmt.Fprintf(out, "retiring %s %s at %s\n", k.Algorithm, k.ID, k.RetiredAt.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML configuration `file` (default: built-in defaults)")
	cmd.Flags().StringSliceVar(&algs, "alg", nil, "algorithms to rotate (default: all of ES256, PS256, EdDSA)")
	cmd.Flags().DurationVar(&publishAhead, "publish-ahead", 10*time.Minute, "how long the new key is published before it signs (more than JWKS caching plus key refresh)")
	cmd.Flags().DurationVar(&retireAfter, "retire-after", time.Hour, "how long the old key stays published once the new one signs (more than the longest token lifetime it signed)")
	return cmd
}

// newKeysListCommand is "bulwark keys list".
func newKeysListCommand(env config.Env) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys with their schedule",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := openKeyStore(cmd, path, env)
			if err != nil {
				return err
			}
			defer b.close()
			recs, err := b.store.Keys.List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tALG\tACTIVE\tCREATED\tSIGNS FROM\tRETIRES")
			ts := func(t *time.Time) string {
				if t == nil || t.IsZero() {
					return "-"
				}
				return t.UTC().Format(time.RFC3339)
			}
			for _, k := range recs {
				from := k.ActiveFrom
				if from.IsZero() {
					from = k.CreatedAt
				}
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.Active, ts(&k.CreatedAt), ts(&from), ts(k.RetiredAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML configuration `file` (default: built-in defaults)")
	return cmd
}

// openKeyStore opens the configured storage for a keys subcommand; the
// keys live in the durable store, so no cache is opened.
func openKeyStore(cmd *cobra.Command, path string, env config.Env) (*backends, error) {
	f, err := loadValid(path, env)
	if err != nil {
		return nil, reportInvalid(cmd.ErrOrStderr(), err, exitInvalid)
	}
	return openBackends(cmd.Context(), f.Storage, config.Cache{Driver: config.CacheNone})
}
