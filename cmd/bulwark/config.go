package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/internal/config"
)

// newConfigCommand is "bulwark config" and its subcommands.
func newConfigCommand(env config.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with configuration files",
		Args:  noArgs,
	}
	cmd.AddCommand(newConfigCheckCommand(env))
	return cmd
}

// newConfigCheckCommand is "bulwark config check": it loads and validates
// exactly as serve would, without opening storage or the network, so a
// deployment can check a file before rolling it out.
func newConfigCheckCommand(env config.Env) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate a configuration and list every problem",
		Long: "Load the configuration file (if any) with the BULWARK_* environment applied,\n" +
			"validate it, and print every problem with its key. Exits 1 if there are any.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := loadValid(path, env); err != nil {
				return reportInvalid(cmd.ErrOrStderr(), err, exitFailure)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "configuration is valid")
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "YAML configuration `file` (default: built-in defaults)")
	return cmd
}

// loadValid loads the configuration at path (none when empty) with env
// applied and validates it, as every command that uses one does.
func loadValid(path string, env config.Env) (*config.File, error) {
	f, err := config.Load(path, env)
	if err == nil {
		err = f.Validate()
	}
	return f, err
}
