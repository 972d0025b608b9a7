package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/jose"
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
		cache := s.cache()
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
			revoked, err := revoke(ctx, c, s, t, hint)
			switch {
			case err != nil:
				revokeErr = err
			case revoked:
				fmt.Fprintf(stderr, "Revoked the tokens of profile %q at %s.\n", s.name, s.Issuer)
			default:
				fmt.Fprintf(stderr, "%s has no revocation endpoint: the tokens stay valid at the server until they expire.\n", s.Issuer)
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

// revoke sends an RFC 7009 revocation request for tok with the client's
// authentication. It reports false when the server advertises no
// revocation endpoint.
//
// This belongs in package client (a Config.Revoke that reuses its client
// authentication); until it is there, this is the minimal version of the
// four authentication methods, without DPoP (RFC 7009 asks for none).
func revoke(ctx context.Context, c *client.Config, s *settings, tok, hint string) (bool, error) {
	md, err := c.Discover(ctx)
	if err != nil {
		return false, s.describe(err)
	}
	// The same choice as client.Config makes for an empty AuthMethod.
	method := c.AuthMethod
	switch {
	case method != "":
	case c.Key != nil:
		method = client.AuthPrivateKeyJWT
	case c.Certificate != nil:
		method = client.AuthTLSClientAuth
	case c.ClientSecret != "":
		method = client.AuthClientSecretBasic
	default:
		method = client.AuthNone
	}
	endpoint := md.RevocationEndpoint
	// RFC 8705 §5: a client that uses its certificate uses the alias.
	if a := md.MTLSEndpointAliases["revocation_endpoint"]; a != "" && (method == client.AuthTLSClientAuth || c.Mode == client.ModeMTLS) {
		endpoint = a
	}
	if endpoint == "" {
		return false, nil
	}
	form := url.Values{"token": {tok}, "token_type_hint": {hint}}
	header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	switch method {
	case client.AuthPrivateKeyJWT:
		a, err := clientAssertion(c)
		if err != nil {
			return false, err
		}
		form.Set("client_id", c.ClientID)
		form.Set("client_assertion_type", oauth.ClientAssertionTypeJWT)
		form.Set("client_assertion", a)
	case client.AuthClientSecretBasic:
		// RFC 6749 §2.3.1: form-encoded before they go into Basic.
		r := http.Request{Header: header}
		r.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	default: // none and tls_client_auth
		form.Set("client_id", c.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("revocation: %w", err)
	}
	req.Header = header
	hc := *c.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Certificate != nil {
		if t, ok := hc.Transport.(*http.Transport); ok {
			t = t.Clone()
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			t.TLSClientConfig.Certificates = []tls.Certificate{*c.Certificate}
			hc.Transport = t
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("revocation: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		re := &client.RetrieveError{Response: resp, Body: b}
		var eb struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		if json.Unmarshal(b, &eb) == nil {
			re.ErrorCode, re.ErrorDescription = eb.Error, eb.ErrorDescription
		}
		return false, s.describe(re)
	}
	return true, nil
}

// clientAssertion signs an RFC 7523 private_key_jwt assertion like
// package client does (aud = the issuer, FAPI 2.0 SP §5.3.2.1-8).
func clientAssertion(c *client.Config) (string, error) {
	var alg string
	switch c.Key.Public().(type) {
	case *ecdsa.PublicKey:
		alg = jose.ES256
	case *rsa.PublicKey:
		alg = jose.PS256
	case ed25519.PublicKey:
		alg = jose.EdDSA
	}
	k, err := jose.NewExternalKey(c.Key, alg, c.KeyID)
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	now := time.Now()
	return jose.SignWithKey(k, "", false, map[string]any{
		"iss": c.ClientID, "sub": c.ClientID, "aud": c.Issuer,
		"jti": base64.RawURLEncoding.EncodeToString(jti),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
}
