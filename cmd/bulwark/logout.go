package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// newLogoutCommand is "bulwark logout".
func newLogoutCommand(deps clientDeps) *cobra.Command {
	var forgetKey bool
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Revoke a profile's tokens and delete them from the cache",
		Long: "Revoke the profile's refresh token (which ends the grant and its access tokens) at\n" +
			"the server's revocation endpoint, when it has one, then delete the cached tokens.\n" +
			"The DPoP key stays, unless --forget-key.",
		Args: noArgs,
	}
	pf := addProfileFlags(cmd)
	cmd.Flags().BoolVar(&forgetKey, "forget-key", false, "also delete the profile's DPoP key")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		s, err := pf.resolve(deps)
		if err != nil {
			return err
		}
		c, err := s.clientConfig(deps)
		if err != nil {
			return err
		}
		ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
		cache, closeCache, err := s.openCache(ctx)
		if err != nil {
			return err
		}
		defer closeCache()
		tok, err := c.CachedTokenSource(ctx, cache, s.cacheKey(), nil).Token()
		var revokeErr error
		switch {
		case errors.Is(err, client.ErrLoginRequired):
			fmt.Fprintf(stderr, "Profile %q was not logged in.\n", s.name)
		case err != nil:
			// The cached tokens could not be read or refreshed: they
			// are deleted all the same, but the user is told that the
			// server may still honour them.
			revokeErr = s.describe(err)
		default:
			t, hint := tok.RefreshToken, oauth.HintRefreshToken
			if t == "" {
				t, hint = tok.AccessToken, "access_token"
			}
			err := c.Revoke(ctx, t, hint)
			switch {
			case errors.Is(err, client.ErrNotSupported):
				fmt.Fprintf(stderr, "%s has no revocation endpoint: the tokens stay valid at the server until they expire.\n", s.Issuer)
			case err != nil:
				revokeErr = s.describe(err)
			default:
				fmt.Fprintf(stderr, "Revoked the tokens of profile %q at %s.\n", s.name, s.Issuer)
			}
		}
		if err := cache.Delete(ctx, s.cacheKey()); err != nil {
			return err
		}
		if forgetKey {
			if err := os.Remove(s.dpopKeyPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			fmt.Fprintf(stderr, "Deleted the DPoP key %s.\n", s.dpopKeyPath())
		}
		if revokeErr != nil {
			return fmt.Errorf("deleted the cached tokens of profile %q, but could not revoke them, so the server may still accept them until they expire: %w", s.name, revokeErr)
		}
		return nil
	}
	return cmd
}
