package client

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// defaultRedirectURL is the loopback redirect Login uses when
// Config.RedirectURL is empty.
const defaultRedirectURL = "http://127.0.0.1/callback"

// callbackResult is what the loopback listener received.
type callbackResult struct {
	query url.Values
}

// Login runs the authorization code grant for a native app (RFC 8252):
//
//  1. it listens on a random port of the loopback interface (RFC 8252
//     §7.3) for the redirect;
//  2. StartAuth pushes the authorization request (RFC 9126, required
//     here) with client authentication, PKCE S256 with a fresh verifier
//     (RFC 7636, FAPI 2.0 SP §5.3.3.2), a random state and nonce, and in
//     ModeDPoP a DPoP proof (or dpop_jkt, see DPoPJKTAtPAR), which binds
//     the code to the DPoP key (RFC 9449 §10);
//  3. it calls OpenBrowser with an authorization URL that carries only
//     client_id and request_uri (FAPI 2.0 SP §5.3.3.2-6);
//  4. FinishAuth checks the redirect's state, and its iss against the
//     issuer (RFC 9207 §2.4), before it redeems the code at the token
//     endpoint, and validates the ID token when openid was asked for.
//
// The returned token's ID token is in Extra("id_token"). Login returns
// when the flow completes, fails, or ctx is done: give ctx a deadline,
// since a user may never come back. Web applications use StartAuth and
// FinishAuth directly, as the Bulwark BFF does.
func (c *Config) Login(ctx context.Context) (*oauth2.Token, error) {
	if c.OpenBrowser == nil {
		return nil, errors.New("client: Login needs Config.OpenBrowser")
	}
	if _, err := c.Discover(ctx); err != nil {
		return nil, err
	}
	ru := c.RedirectURL
	if ru == "" {
		ru = defaultRedirectURL
	}
	redirect, err := url.Parse(ru)
	if err != nil || redirect.Scheme != "http" || !slices.Contains([]string{"127.0.0.1", "[::1]"}, hostOnly(redirect.Host)) {
		return nil, fmt.Errorf("client: RedirectURL %q must be http://127.0.0.1/... or http://[::1]/... (RFC 8252 §7.3)", ru)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(strings.Trim(hostOnly(redirect.Host), "[]"), "0"))
	if err != nil {
		return nil, fmt.Errorf("client: loopback listener: %w", err)
	}
	defer ln.Close()
	// The listener's address is "127.0.0.1:port" or "[::1]:port".
	redirect.Host = ln.Addr().String()
	if redirect.Path == "" {
		redirect.Path = "/"
	}
	ar, err := c.StartAuth(ctx, AuthOptions{RedirectURI: redirect.String(), RequirePAR: true})
	if err != nil {
		return nil, err
	}

	results := make(chan callbackResult, 1)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != redirect.Path {
				http.NotFound(w, r)
				return
			}
			q := r.URL.Query()
			// Ignore stray requests (favicon, a stale tab) that are not
			// answers to this flow.
			if q.Get("state") == "" && q.Get("code") == "" && q.Get("error") == "" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			msg := "Login complete. You can close this window."
			if q.Get("error") != "" {
				msg = "Login failed: " + q.Get("error")
			}
			fmt.Fprintf(w, "<!doctype html><title>Login</title><p>%s</p>\n", html.EscapeString(msg))
			// Answer the browser before handing over: Login closes the
			// listener as soon as it returns.
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			select {
			case results <- callbackResult{query: q}:
			default:
			}
		}),
	}
	go srv.Serve(ln)
	defer srv.Close()

	browserErr := make(chan error, 1)
	go func() { browserErr <- c.OpenBrowser(ctx, ar.URL) }()
	var res callbackResult
	for res.query == nil {
		select {
		case res = <-results:
		case err := <-browserErr:
			if err != nil {
				return nil, fmt.Errorf("client: open browser: %w", err)
			}
			browserErr = nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	tok, _, err := c.FinishAuth(ctx, ar, res.query)
	return tok, err
}

// checkAuthorizationResponse validates the redirect's parameters and
// returns the code.
func (c *Config) checkAuthorizationResponse(md *Metadata, q url.Values, state string) (string, error) {
	// RFC 9207 §2.4 (https://www.rfc-editor.org/rfc/rfc9207#section-2.4):
	// "Clients that support this specification MUST extract the value of
	// the iss parameter from authorization responses they receive if the
	// parameter is present", compare it with the issuer the request was
	// sent to, and on a mismatch "MUST reject the authorization response".
	// When the server advertises the parameter in its metadata, §2.4
	// also has the client reject a response that lacks it.
	iss, hasISS := q["iss"]
	switch {
	case hasISS && (len(iss) != 1 || iss[0] != md.Issuer):
		return "", fmt.Errorf("%w: iss %q is not the issuer", ErrAuthorizationResponse, iss)
	case !hasISS && md.AuthorizationResponseISSParameterSupported:
		return "", fmt.Errorf("%w: no iss parameter", ErrAuthorizationResponse)
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return "", fmt.Errorf("%w: state does not match", ErrAuthorizationResponse)
	}
	if e := q.Get("error"); e != "" {
		err := ErrAuthorizationResponse
		if e == oauth.ErrAccessDenied {
			err = ErrAccessDenied
		}
		return "", fmt.Errorf("%w: %s: %s", err, e, q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" {
		return "", fmt.Errorf("%w: no code", ErrAuthorizationResponse)
	}
	return code, nil
}

// hostOnly returns host without its port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return hostport
}
