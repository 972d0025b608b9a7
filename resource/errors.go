package resource

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Error codes of RFC 6750 §3.1, RFC 6749 §5.2 and RFC 9449 §7.1, the
// values of Error.Code.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidToken           = "invalid_token"
	CodeInsufficientScope      = "insufficient_scope"
	CodeInvalidDPoPProof       = "invalid_dpop_proof"
	CodeUseDPoPNonce           = "use_dpop_nonce"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	CodeServerError            = "server_error"
)

// Reasons are the values of Error.Reason: short, stable labels for metrics
// and logs, finer than Code. New reasons may be added.
const (
	ReasonNoCredentials     = "no_credentials" // no Authorization header, or another scheme
	ReasonTokenInQuery      = "token_in_query" // access_token in the query or form body
	ReasonMultipleAuth      = "multiple_authorization"
	ReasonMalformedAuth     = "malformed_authorization"
	ReasonInvalidToken      = "invalid_token" // signature, typ, format, unknown key
	ReasonExpired           = "token_expired" // exp passed or nbf/iat in the future
	ReasonIssuer            = "wrong_issuer"
	ReasonAudience          = "wrong_audience"
	ReasonInactive          = "token_inactive"      // introspection said active:false (revoked, expired, unknown)
	ReasonUnboundToken      = "unbound_token"       // no cnf and Bearer not allowed
	ReasonBindingScheme     = "binding_scheme"      // DPoP-bound as Bearer, or unbound/cert-bound as DPoP
	ReasonBinding           = "unsupported_binding" // cnf this package cannot check, or mTLS refused by RequireDPoP
	ReasonDPoPProof         = "dpop_proof"          // a failed RFC 9449 §4.3 check
	ReasonDPoPReplay        = "dpop_replay"
	ReasonDPoPNonce         = "dpop_nonce"
	ReasonDPoPKey           = "dpop_key_mismatch" // proof key is not cnf.jkt
	ReasonCertificate       = "certificate_mismatch"
	ReasonInsufficientScope = "insufficient_scope"
	ReasonUnavailable       = "unavailable" // replay cache, JWKS or introspection down
	ReasonConfig            = "misconfigured"
)

// Error is a refused request. Code and Description go to the client; Err
// is the internal cause, for logs only. Header holds the response headers
// the failure needs (WWW-Authenticate challenges, DPoP-Nonce), already
// rendered for the Verifier that produced it. Write it with ServeHTTP or
// WriteError.
type Error struct {
	// Status is the HTTP status: 400, 401, 403, 500 or 503.
	Status int
	// Code is the OAuth error code (Code… constants); empty for a request
	// that carried no credentials, whose challenges carry no error
	// (RFC 6750 §3.1).
	Code string
	// Description is the client-facing error_description. It never holds
	// token or proof contents.
	Description string
	// Scope lists, space-separated, the scopes an insufficient_scope
	// failure needs.
	Scope string
	// Reason is one of the Reason… labels.
	Reason string
	// Header holds the response headers to send.
	Header http.Header
	// Err is the internal cause; it may be nil.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	s := "resource: " + e.Reason
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, so errors.Is reaches sentinels such as
// ErrReplayed.
func (e *Error) Unwrap() error { return e.Err }

// ServeHTTP writes the failure: e.Header, the status, and unless Code is
// empty a JSON body {"error", "error_description"} marked no-store. r may
// be nil.
func (e *Error) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = append([]string(nil), vs...)
	}
	h.Set("Cache-Control", "no-store")
	status := e.Status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	if e.Code == "" {
		h.Set("Content-Length", "0")
		w.WriteHeader(status)
		return
	}
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = sanitize(e.Description)
	}
	b, _ := json.Marshal(body)
	b = append(b, '\n')
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// WriteError writes err as Handler would: an *Error (or an error wrapping
// one) with its ServeHTTP, anything else as 500 server_error without
// details.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: CodeServerError, Description: "internal error", Reason: ReasonConfig, Err: err}
	}
	e.ServeHTTP(w, nil)
}

// sanitize keeps a description or auth-param value inside the RFC 6749
// §5.2 character set (%x20-21 / %x23-5B / %x5D-7E), so no quote,
// backslash or line break reaches a header.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && i < 512; i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			c = ' '
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Authentication schemes of challenges.
const (
	schemeBearer = "Bearer"
	schemeDPoP   = "DPoP"
)

// challenge renders one WWW-Authenticate challenge. params are name/value
// pairs, written in order, empty values skipped.
func challenge(scheme string, params ...string) string {
	var b strings.Builder
	b.WriteString(scheme)
	first := true
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] == "" {
			continue
		}
		if first {
			b.WriteByte(' ')
			first = false
		} else {
			b.WriteString(", ")
		}
		b.WriteString(params[i])
		b.WriteString(`="`)
		b.WriteString(sanitize(params[i+1]))
		b.WriteByte('"')
	}
	return b.String()
}
