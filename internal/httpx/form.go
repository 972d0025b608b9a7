package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// MaxFormBytes is the default bound on form bodies at the OAuth endpoints.
// Real requests are a few kilobytes; the limit leaves room for long state
// and nonce values and a client assertion.
const MaxFormBytes = 64 << 10

// ParseForm reads an application/x-www-form-urlencoded POST body of at most
// limit bytes (MaxFormBytes when zero) and returns its parameters.
//
// RFC 6749 §3.1: "Request and response parameters MUST NOT be included more
// than once" (https://www.rfc-editor.org/rfc/rfc6749#section-3.1), so a
// repeated parameter is invalid_request. Query parameters are ignored: the
// OAuth endpoints that take a body never read credentials from the URL.
func ParseForm(w http.ResponseWriter, r *http.Request, limit int64) (url.Values, error) {
	if limit <= 0 {
		limit = MaxFormBytes
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, oauth.InvalidRequest("content type must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "request body too large", Status: http.StatusRequestEntityTooLarge, Cause: ErrBodyTooLarge}
		}
		return nil, oauth.InvalidRequest("unreadable request body").WithCause(err)
	}
	return ParseQuery(string(body))
}

// ParseQuery parses URL-encoded parameters, rejecting malformed encoding and
// repeated parameters (RFC 6749 §3.1) and empty names.
func ParseQuery(s string) (url.Values, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, oauth.InvalidRequest("malformed parameters")
	}
	for k, vals := range v {
		if k == "" {
			return nil, oauth.InvalidRequest("malformed parameters")
		}
		if len(vals) > 1 {
			return nil, oauth.InvalidRequest("parameter " + safeName(k) + " included more than once")
		}
	}
	return v, nil
}

// safeName trims a parameter name for use in a description.
func safeName(k string) string {
	if len(k) > 40 {
		k = k[:40]
	}
	return k
}

// DecodeJSON reads r's body, at most limit bytes, as one JSON value into
// v. A body over the limit, malformed JSON, or data after the value is
// an error the caller maps to its protocol's error code; the body is
// never echoed back.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ErrBodyTooLarge
		}
		return fmt.Errorf("httpx: decode JSON: %w", err)
	}
	if dec.More() {
		return errors.New("httpx: decode JSON: data after the value")
	}
	return nil
}
