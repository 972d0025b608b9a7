package resource

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// MaxTokenSize bounds the access token read from the Authorization
// header; longer values are refused before any parsing.
const MaxTokenSize = 16 << 10

// maxFormPeek is how much of a form body tokenOutsideHeader reads.
const maxFormPeek = 64 << 10

// authorization is a parsed Authorization header.
type authorization struct {
	scheme string // schemeBearer or schemeDPoP
	token  string
}

// parseAuthorization reads the access token from the Authorization header
// values: exactly one header, scheme Bearer or DPoP compared
// case-insensitively (RFC 9110 §11.1), then one token68 (RFC 9110 §11.2,
// RFC 6750 §2.1 b64token, RFC 9449 §7.1).
func (v *Verifier) parseAuthorization(values []string) (authorization, *Error) {
	switch len(values) {
	case 0:
		// RFC 6750 §3.1: "If the request lacks any authentication
		// information ... the resource server SHOULD NOT include an
		// error code or other error information."
		return authorization{}, v.refuse(http.StatusUnauthorized, "", "", ReasonNoCredentials, "", nil)
	case 1:
	default:
		// RFC 9449 §7.2: a request with more than one authentication
		// method gets 400 invalid_request.
		return authorization{}, v.refuse(http.StatusBadRequest, CodeInvalidRequest, "more than one Authorization header", ReasonMultipleAuth, "", nil)
	}
	a, reason := splitAuthorization(values[0])
	switch reason {
	case "":
		return a, nil
	case ReasonNoCredentials:
		return authorization{}, v.refuse(http.StatusUnauthorized, "", "", ReasonNoCredentials, "", nil)
	case ReasonMultipleAuth:
		return authorization{}, v.refuse(http.StatusBadRequest, CodeInvalidRequest, "more than one authentication method", ReasonMultipleAuth, "", nil)
	}
	return authorization{}, v.refuse(http.StatusBadRequest, CodeInvalidRequest, "malformed Authorization header", ReasonMalformedAuth, a.scheme, nil)
}

// splitAuthorization parses one Authorization value. It returns the
// scheme and token, or the reason it cannot: ReasonNoCredentials for
// another scheme (Basic, …), ReasonMultipleAuth for a comma-joined list of
// credentials (a proxy folding two headers), ReasonMalformedAuth for
// anything else; then a.scheme still names the scheme when it was known.
func splitAuthorization(value string) (a authorization, reason string) {
	value = strings.Trim(value, " \t")
	scheme, rest, _ := strings.Cut(value, " ")
	switch {
	case strings.EqualFold(scheme, schemeBearer):
		a.scheme = schemeBearer
	case strings.EqualFold(scheme, schemeDPoP):
		a.scheme = schemeDPoP
	case scheme == "":
		return a, ReasonMalformedAuth
	default:
		return a, ReasonNoCredentials
	}
	tok := strings.TrimLeft(rest, " \t")
	if strings.IndexByte(tok, ',') >= 0 {
		return a, ReasonMultipleAuth
	}
	if tok == "" || len(tok) > MaxTokenSize || !isToken68(tok) {
		return a, ReasonMalformedAuth
	}
	a.token = tok
	return a, ""
}

// isToken68 reports whether s matches RFC 9110 §11.2:
// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// tokenOutsideHeader reports whether r carries access_token in its query
// (RFC 6750 §2.3) or its form-encoded body (§2.2). The body is read up to
// maxFormPeek bytes and put back, so the next handler sees it unchanged; a
// token beyond that prefix is not found (it is never accepted anyway: only
// the Authorization header is read).
func tokenOutsideHeader(r *http.Request) bool {
	if q, _ := url.ParseQuery(r.URL.RawQuery); q.Has("access_token") {
		return true
	}
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return false
	}
	buf, _ := io.ReadAll(io.LimitReader(r.Body, maxFormPeek))
	r.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(buf), r.Body), Closer: r.Body}
	form, _ := url.ParseQuery(string(buf))
	return form.Has("access_token")
}

// replayBody is a request body whose first bytes were read and are served
// again.
type replayBody struct {
	io.Reader
	io.Closer
}
