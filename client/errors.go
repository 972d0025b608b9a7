package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// RetrieveError is the error returned when the authorization server answers
// a token, PAR or device authorization request with a non-2xx status, in
// the shape of oauth2.RetrieveError. ErrorCode, ErrorDescription and
// ErrorURI come from the RFC 6749 §5.2 error body when the server sent one.
type RetrieveError struct {
	// Response is the HTTP response; its Body has been read and closed.
	Response *http.Response
	// Body is the response body, at most maxResponseSize bytes.
	Body []byte
	// ErrorCode is the RFC 6749 §5.2 error code, such as "invalid_grant".
	ErrorCode string
	// ErrorDescription is the server's human-readable description.
	ErrorDescription string
	// ErrorURI is the server's error_uri.
	ErrorURI string
}

// Error implements error.
func (e *RetrieveError) Error() string {
	if e.ErrorCode != "" {
		s := fmt.Sprintf("client: %q", e.ErrorCode)
		if e.ErrorDescription != "" {
			s += fmt.Sprintf(" %q", e.ErrorDescription)
		}
		if e.Response != nil {
			s += fmt.Sprintf(" (HTTP %d)", e.Response.StatusCode)
		}
		return s
	}
	status := 0
	if e.Response != nil {
		status = e.Response.StatusCode
	}
	return fmt.Sprintf("client: server response (HTTP %d): %.200s", status, e.Body)
}

// newRetrieveError builds a RetrieveError from a failed response.
func newRetrieveError(resp *http.Response, body []byte) *RetrieveError {
	e := &RetrieveError{Response: resp, Body: body}
	var eb struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorURI         string `json:"error_uri"`
	}
	if json.Unmarshal(body, &eb) == nil {
		e.ErrorCode, e.ErrorDescription, e.ErrorURI = eb.Error, eb.ErrorDescription, eb.ErrorURI
	}
	return e
}

// Sentinel errors, matched with errors.Is.
var (
	// ErrIssuerMismatch reports a metadata document whose issuer is not
	// exactly the configured issuer (RFC 8414 §3.3, FAPI 2.0 SP
	// §5.3.3.1-11). Nothing from such a document is used.
	ErrIssuerMismatch = errors.New("client: metadata issuer does not match the configured issuer")
	// ErrNotSupported reports a feature the server's metadata does not
	// advertise (an endpoint, a grant type).
	ErrNotSupported = errors.New("client: not supported by the authorization server")
	// ErrTokenType reports a token response whose token_type does not
	// match the sender constraint asked for: in ModeDPoP a Bearer token,
	// which means the server ignored the proof (RFC 9449 §5; FAPI 2.0
	// never accepts it).
	ErrTokenType = errors.New("client: unexpected token_type")
	// ErrAuthorizationResponse reports a rejected authorization response:
	// a wrong or missing iss (RFC 9207 §2.4), a wrong state, or an
	// error the authorization server redirected with.
	ErrAuthorizationResponse = errors.New("client: authorization response rejected")
	// ErrCacheMiss is what Cache.Load returns when it holds no entry for
	// the key.
	ErrCacheMiss = errors.New("client: cache miss")
	// ErrLoginRequired reports that a CachedTokenSource has neither a
	// usable cached token nor a refresh token, and no fetch function to
	// get a new one.
	ErrLoginRequired = errors.New("client: login required")
	// ErrDeviceExpired reports that the device code expired before the
	// user approved (RFC 8628 §3.5 expired_token).
	ErrDeviceExpired = errors.New("client: device code expired")
	// ErrAccessDenied reports that the user denied the request (RFC 8628
	// §3.5, RFC 6749 §4.1.2.1 access_denied).
	ErrAccessDenied = errors.New("client: access denied")
)
