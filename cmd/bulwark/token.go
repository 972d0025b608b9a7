package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
)

// newTokenCommand is "bulwark token".
func newTokenCommand(deps clientDeps) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a valid access token for a profile",
		Long: "Print the profile's access token, refreshing it first when it has expired.\n" +
			"It never logs in: without a cached token it fails and says how to log in.\n" +
			"--json prints the token response instead (the refresh token stays in the cache).",
		Args: noArgs,
	}
	pf := addProfileFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print access_token, token_type, expiry, expires_in, scope and id_token as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		s, err := pf.resolve(deps)
		if err != nil {
			return err
		}
		c, err := s.clientConfig(deps)
		if err != nil {
			return err
		}
		cache, closeCache, err := s.openCache(cmd.Context())
		if err != nil {
			return err
		}
		defer closeCache()
		tok, err := c.CachedTokenSource(cmd.Context(), cache, s.cacheKey(), nil).Token()
		if err != nil {
			return s.describe(err)
		}
		if !asJSON {
			fmt.Fprintln(cmd.OutOrStdout(), tok.AccessToken)
			return nil
		}
		b, err := json.MarshalIndent(tokenJSON(tok, time.Now()), "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
		return nil
	}
	return cmd
}

// tokenOutput is what token --json prints: the RFC 6749 §5.1 members
// except refresh_token, which never leaves the cache, plus the absolute
// expiry.
type tokenOutput struct {
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	Expiry      time.Time `json:"expiry,omitzero"`
	ExpiresIn   int64     `json:"expires_in,omitempty"`
	Scope       string    `json:"scope,omitempty"`
	IDToken     string    `json:"id_token,omitempty"`
}

func tokenJSON(t *oauth2.Token, now time.Time) tokenOutput {
	out := tokenOutput{AccessToken: t.AccessToken, TokenType: t.Type(), Expiry: t.Expiry}
	if !t.Expiry.IsZero() {
		out.ExpiresIn = max(int64(t.Expiry.Sub(now).Seconds()), 0)
	}
	out.Scope, _ = t.Extra("scope").(string)
	out.IDToken, _ = t.Extra("id_token").(string)
	return out
}
