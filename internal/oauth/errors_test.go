package oauth_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// TestHTTPStatus checks the status each error code maps to (RFC 6749 §5.2:
// 400 by default and 401 for invalid_client; RFC 6750 §3.1: 401
// invalid_token and 403 insufficient_scope), and that Status overrides it.
func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		name string
		err  *oauth.Error
		want int
	}{
		{"invalid_request", oauth.InvalidRequest("x"), http.StatusBadRequest},
		{"invalid_client", oauth.InvalidClient("x"), http.StatusUnauthorized},
		{"invalid_grant", oauth.InvalidGrant("x"), http.StatusBadRequest},
		{"unauthorized_client", oauth.New(oauth.ErrUnauthorizedClient, ""), http.StatusBadRequest},
		{"unsupported_grant_type", oauth.New(oauth.ErrUnsupportedGrantType, ""), http.StatusBadRequest},
		{"unsupported_response_type", oauth.New(oauth.ErrUnsupportedResponseType, ""), http.StatusBadRequest},
		{"invalid_scope", oauth.New(oauth.ErrInvalidScope, ""), http.StatusBadRequest},
		{"access_denied", oauth.New(oauth.ErrAccessDenied, ""), http.StatusForbidden},
		{"server_error", oauth.ServerError(errors.New("boom")), http.StatusInternalServerError},
		{"temporarily_unavailable", oauth.Unavailable(errors.New("db down")), http.StatusServiceUnavailable},
		{"invalid_token", oauth.New(oauth.ErrInvalidToken, ""), http.StatusUnauthorized},
		{"insufficient_scope", oauth.New(oauth.ErrInsufficientScope, ""), http.StatusForbidden},
		{"unsupported_token_type", oauth.New(oauth.ErrUnsupportedTokenType, ""), http.StatusBadRequest},
		{"invalid_request_uri", oauth.New(oauth.ErrInvalidRequestURI, ""), http.StatusBadRequest},
		{"invalid_request_object", oauth.New(oauth.ErrInvalidRequestObject, ""), http.StatusBadRequest},
		{"invalid_dpop_proof", oauth.New(oauth.ErrInvalidDPoPProof, ""), http.StatusBadRequest},
		{"use_dpop_nonce", oauth.New(oauth.ErrUseDPoPNonce, ""), http.StatusBadRequest},
		{"rate_limited", oauth.New(oauth.ErrRateLimited, ""), http.StatusTooManyRequests},
		{"unknown_code", oauth.New("made_up", ""), http.StatusBadRequest},
		{"empty_code", &oauth.Error{}, http.StatusBadRequest},
		{"override", &oauth.Error{Code: oauth.ErrInvalidRequest, Status: http.StatusRequestEntityTooLarge}, http.StatusRequestEntityTooLarge},
		{"override_401", &oauth.Error{Code: oauth.ErrInvalidDPoPProof, Status: http.StatusUnauthorized}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.HTTPStatus(); got != tc.want {
				t.Errorf("HTTPStatus() = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestErrorConstructors checks what each helper puts where: the client
// sees Code and Description; the cause stays in Cause.
func TestErrorConstructors(t *testing.T) {
	cause := errors.New("secret-bearing cause")
	tests := []struct {
		name  string
		err   *oauth.Error
		code  string
		desc  string
		cause error
	}{
		{"New", oauth.New(oauth.ErrInvalidScope, "d"), oauth.ErrInvalidScope, "d", nil},
		{"InvalidRequest", oauth.InvalidRequest("d"), oauth.ErrInvalidRequest, "d", nil},
		{"InvalidClient", oauth.InvalidClient("d"), oauth.ErrInvalidClient, "d", nil},
		{"InvalidGrant", oauth.InvalidGrant("d"), oauth.ErrInvalidGrant, "d", nil},
		{"ServerError", oauth.ServerError(cause), oauth.ErrServerError, "internal error", cause},
		{"Unavailable", oauth.Unavailable(cause), oauth.ErrTemporarilyUnavailable, "a required service is unavailable; retry later", cause},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err.Code != tc.code || tc.err.Description != tc.desc || tc.err.Cause != tc.cause {
				t.Errorf("got {%q %q %v}, want {%q %q %v}", tc.err.Code, tc.err.Description, tc.err.Cause, tc.code, tc.desc, tc.cause)
			}
			if strings.Contains(tc.err.Description, "secret") {
				t.Errorf("Description %q leaks the cause", tc.err.Description)
			}
			if tc.err.Status != 0 || tc.err.Scheme != "" || tc.err.Header != nil {
				t.Errorf("constructor set Status/Scheme/Header: %+v", tc.err)
			}
		})
	}
}

var errSentinel = errors.New("store: not found")

// TestErrorWrapping checks that errors.Is reaches a wrapped cause (store
// sentinels), that As finds an *Error through wrapping, and that
// WithCause copies instead of mutating shared error values.
func TestErrorWrapping(t *testing.T) {
	base := oauth.InvalidGrant("code expired")
	wrapped := base.WithCause(errSentinel)
	if base.Cause != nil {
		t.Fatal("WithCause modified its receiver")
	}
	if wrapped == base || wrapped.Code != base.Code || wrapped.Description != base.Description {
		t.Fatalf("WithCause = %+v", wrapped)
	}
	if !errors.Is(wrapped, errSentinel) {
		t.Error("errors.Is does not reach the cause")
	}
	if errors.Is(base, errSentinel) {
		t.Error("errors.Is found a cause that was never attached")
	}
	if !errors.Is(fmt.Errorf("token: %w", wrapped), errSentinel) {
		t.Error("errors.Is does not reach the cause through fmt.Errorf")
	}

	tests := []struct {
		name string
		err  error
		want *oauth.Error
	}{
		{"direct", wrapped, wrapped},
		{"wrapped", fmt.Errorf("authorize: %w", wrapped), wrapped},
		{"joined", errors.Join(errSentinel, base), base},
		{"plain", errSentinel, nil},
		{"nil", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := oauth.As(tc.err)
			if got != tc.want || ok != (tc.want != nil) {
				t.Errorf("As = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}
