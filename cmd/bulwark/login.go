package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/client"
)

// newLoginCommand is "bulwark login".
func newLoginCommand(deps clientDeps) *cobra.Command {
	var (
		noBrowser, device, save bool
		timeout                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in and cache the tokens for a profile",
		Long: "Log in to the profile's authorization server and cache the tokens.\n\n" +
			"By default the browser opens on the authorization page (PAR, PKCE and a loopback\n" +
			"redirect); with --no-browser the URL is printed instead. With --device the device\n" +
			"authorization grant is used: a code to enter on another device is printed.\n" +
			"In dpop mode (the default) the tokens are bound to the profile's DPoP key, which is\n" +
			"created on first use and kept. --save writes the settings to the profile.",
		Args: noArgs,
	}
	pf := addProfileFlags(cmd)
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "print the authorization URL instead of opening a browser")
	cmd.Flags().BoolVar(&device, "device", false, "use the device authorization grant (RFC 8628)")
	cmd.Flags().BoolVar(&save, "save", false, "write the profile with the flags given")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the login to complete")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		s, err := pf.resolve(deps)
		if err != nil {
			return err
		}
		c, err := s.clientConfig(deps)
		if err != nil {
			return err
		}
		stderr := cmd.ErrOrStderr()
		ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
		defer cancel()
		cache, closeCache, err := s.openCache(ctx)
		if err != nil {
			return err
		}
		defer closeCache()
		var fetch func(context.Context) (*oauth2.Token, error)
		if device {
			c.Sleep = progressSleep(stderr, c.Sleep)
			fetch = func(ctx context.Context) (*oauth2.Token, error) {
				return c.DeviceLogin(ctx, func(da *client.DeviceAuthResponse) error {
					showDeviceCode(stderr, da)
					return nil
				})
			}
		} else {
			c.OpenBrowser = browserOpener(stderr, noBrowser, deps.openBrowser)
			fetch = c.Login
		}
		// The old entry is hidden, not deleted, so a failed login leaves
		// the previous tokens in place.
		ts := c.CachedTokenSource(ctx, freshCache{cache}, s.cacheKey(), fetch)
		tok, err := ts.Token()
		if device {
			fmt.Fprintln(stderr)
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("login to %s: no answer within %s: run `bulwark login` again, or give more --timeout", s.Issuer, timeout)
		}
		if err != nil {
			return fmt.Errorf("login to %s: %w", s.Issuer, s.describe(err))
		}
		fmt.Fprintf(stderr, "Logged in to %s as client %s: %s token%s, cached for profile %q.\n",
			s.Issuer, s.ClientID, tok.Type(), expiresIn(tok), s.name)
		if save {
			if err := s.save(); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "Saved profile %q to %s.\n", s.name, s.path)
		}
		return nil
	}
	return cmd
}

func expiresIn(t *oauth2.Token) string {
	if t.Expiry.IsZero() {
		return ""
	}
	return fmt.Sprintf(" valid for %s", time.Until(t.Expiry).Round(time.Second))
}

// browserOpener returns the OpenBrowser of Login: it always prints the URL
// (a browser may open on another screen, or not at all), and unless
// noBrowser starts open (nil: the system's opener). A browser that fails
// to start is reported, not fatal: the user can still use the URL.
func browserOpener(w io.Writer, noBrowser bool, open func(context.Context, string) error) func(context.Context, string) error {
	return func(ctx context.Context, url string) error {
		if noBrowser {
			fmt.Fprintf(w, "Open this URL in a browser to log in:\n\n  %s\n\nWaiting for the login to complete...\n", url)
			return nil
		}
		fmt.Fprintf(w, "Opening the browser to log in. If it does not open, visit:\n\n  %s\n\nWaiting for the login to complete...\n", url)
		if open == nil {
			open = systemOpen
		}
		if err := open(ctx, url); err != nil {
			fmt.Fprintf(w, "bulwark: could not open a browser (%v); open the URL above yourself\n", err)
		}
		return nil
	}
}

// systemOpen starts the platform's URL opener and does not wait for it.
func systemOpen(ctx context.Context, url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // reap it; its exit status does not matter
	return nil
}

// showDeviceCode tells the user where to approve the device.
func showDeviceCode(w io.Writer, da *client.DeviceAuthResponse) {
	fmt.Fprintf(w, "To log in, visit\n\n  %s\n\nand enter the code\n\n  %s\n\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(w, "or open %s\n\n", da.VerificationURIComplete)
	}
	if !da.Expiry.IsZero() {
		fmt.Fprintf(w, "The code expires at %s. ", da.Expiry.Local().Format(time.Kitchen))
	}
	fmt.Fprint(w, "Waiting for approval")
}

// progressSleep wraps the device-flow wait to print a dot per poll.
func progressSleep(w io.Writer, sleep func(context.Context, time.Duration) error) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		var err error
		if sleep != nil {
			err = sleep(ctx, d)
		} else {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				err = ctx.Err()
			}
		}
		fmt.Fprint(w, ".")
		return err
	}
}
