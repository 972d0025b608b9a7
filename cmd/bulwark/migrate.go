package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/store/postgres"
	"github.com/bulwarkauth/bulwark/internal/store/sqlite"
)

// newMigrateCommand is "bulwark migrate": it applies the schema
// migrations of the configured storage and exits, so a deployment can
// migrate once before rolling out nodes with storage.migrate_on_start
// false. Running it while nodes start is safe (PostgreSQL migrations hold
// an advisory lock).
func newMigrateCommand(env config.Env) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations to the configured storage",
		Long: "Load the configuration, connect to storage.dsn and apply every pending\n" +
			"migration, printing what was applied. The memory driver has no schema.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := loadValid(path, env)
			if err != nil {
				return reportInvalid(cmd.ErrOrStderr(), err, exitInvalid)
			}
			out := cmd.OutOrStdout()
			var applied []string
			switch f.Storage.Driver {
			case config.DriverPostgres:
				if applied, err = postgres.Migrate(cmd.Context(), f.Storage.DSN); err != nil {
					return err
				}
			case config.DriverSQLite:
				// SQLite migrates in Open, in one transaction.
				st, err := sqlite.Open(cmd.Context(), f.Storage.DSN)
				if err != nil {
					return err
				}
				st.Close()
				fmt.Fprintln(out, "sqlite schema is current")
				return nil
			default:
				fmt.Fprintf(out, "storage driver %s has no schema to migrate\n", f.Storage.Driver)
				return nil
			}
			for _, m := range applied {
				fmt.Fprintf(out, "applied %s\n", m)
			}
			fmt.Fprintf(out, "%s schema is current (%d migrations applied now)\n", f.Storage.Driver, len(applied))
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML configuration `file` (default: built-in defaults)")
	return cmd
}
