package oauth

import (
	"errors"
	"net/http"
)

// Error codes from RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009,
// RFC 8628 §3.5, RFC 9126 and RFC 9449.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrInvalidScope            = "invalid_scope"
	ErrAccessDenied            = "access_denied"
	ErrServerError             = "server_error"
	ErrTemporarilyUnavailable  = "temporarily_unavailable"
	ErrInvalidToken            = "invalid_token"
	ErrInsufficientScope       = "insufficient_scope"
	ErrUnsupportedTokenType    = "unsupported_token_type"
	ErrInvalidRequestURI       = "invalid_request_uri"
	ErrInvalidRequestObject    = "invalid_request_object"
	ErrInvalidDPoPProof        = "invalid_dpop_proof"
	ErrUseDPoPNonce            = "use_dpop_nonce"
	ErrSlowDown                = "slow_down"
	ErrLoginRequired           = "login_required"
	ErrConsentRequired         = "consent_required"
	// ErrAuthorizationPending and ErrExpiredToken answer device
	// authorization polls (RFC 8628 §3.5), with ErrSlowDown and
	// ErrAccessDenied.
	ErrAuthorizationPending = "authorization_pending"
	ErrExpiredToken         = "expired_token"
	// ErrRateLimited is not an RFC code; it pairs with HTTP 429 and keeps
	// the JSON error shape so clients can treat it like any other failure.
	ErrRateLimited = "rate_limited"
)

// Error is an OAuth protocol failure. Code and Description go to the client;
// Cause stays server-side and is only logged. A nil *Error is not valid.
//
// Status overrides the status the renderer would pick from Code; zero means
// "the status the RFC names for Code". Scheme names the WWW-Authenticate
// challenge for 401 responses ("Basic", "Bearer", "DPoP"); empty means the
// renderer's default for Code.
type Error struct {
	Code        string
	Description string
	Status      int
	Scheme      string
	// Header carries extra response headers the error requires, such as
	// Retry-After on 429 or DPoP-Nonce on use_dpop_nonce.
	Header map[string]string
	// Params are extra auth-params of the WWW-Authenticate challenge, such
	// as algs for DPoP (RFC 9449 §7.1).
	Params map[string]string
	Cause  error
}

// Error implements error. It never includes secrets: Description is written
// for the client and Cause is expected to be free of credential material.
func (e *Error) Error() string {
	s := "oauth: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the internal cause so errors.Is reaches store sentinels.
func (e *Error) Unwrap() error { return e.Cause }

// WithCause returns a copy of e that wraps cause.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// HTTPStatus is the status RFC 6749 §5.2, RFC 6750 §3.1 and RFC 9449 name
// for the error's code, unless Status overrides it.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Code {
	case ErrInvalidClient, ErrInvalidToken:
		return http.StatusUnauthorized
	case ErrInsufficientScope, ErrAccessDenied:
		return http.StatusForbidden
	case ErrServerError:
		return http.StatusInternalServerError
	case ErrTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	case ErrRateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusBadRequest
	}
}

// New returns an Error with the given code and client-facing description.
func New(code, description string) *Error {
	return &Error{Code: code, Description: description}
}

// InvalidRequest is shorthand for New(ErrInvalidRequest, description).
func InvalidRequest(description string) *Error { return New(ErrInvalidRequest, description) }

// InvalidClient is shorthand for New(ErrInvalidClient, description).
func InvalidClient(description string) *Error { return New(ErrInvalidClient, description) }

// InvalidGrant is shorthand for New(ErrInvalidGrant, description).
func InvalidGrant(description string) *Error { return New(ErrInvalidGrant, description) }

// ServerError wraps an unexpected internal failure. The cause is logged and
// the client sees only "server_error".
func ServerError(cause error) *Error {
	return &Error{Code: ErrServerError, Description: "internal error", Cause: cause}
}

// Unavailable reports that a dependency the request needs (a replay guard,
// the database) cannot answer. Requests fail closed with 503.
func Unavailable(cause error) *Error {
	return &Error{Code: ErrTemporarilyUnavailable, Description: "a required service is unavailable; retry later", Cause: cause}
}

// As returns err as an *Error if it is one (or wraps one).
func As(err error) (*Error, bool) {
	var oe *Error
	if errors.As(err, &oe) {
		return oe, true
	}
	return nil, false
}
