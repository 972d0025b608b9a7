package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// HandlerFunc is an HTTP handler that returns its failure instead of
// writing it, so that exactly one place renders errors.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler adapts HandlerFunc to http.Handler, rendering a returned error
// with WriteError. Log must not be nil.
func Handler(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, log, err)
		}
	})
}

// WriteError renders err. An *oauth.Error becomes the RFC 6749 §5.2 JSON
// body with the status its code calls for, plus WWW-Authenticate on 401
// (RFC 6749 §5.2, RFC 6750 §3, RFC 9449 §7.1). Any other error is an
// internal failure: it is logged and the client sees server_error.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	writeError(w, r, log, err, nil)
}

// ErrorPage is what an error page template is given: the same status,
// code and description as the JSON body of WriteError.
type ErrorPage struct {
	Status      int
	StatusText  string
	Code        string
	Description string
}

// WriteErrorPage renders err like WriteError, except that a browser
// navigation (Accept naming text/html) gets page, executed with an
// ErrorPage, instead of the JSON body: the person who followed a link
// sees what went wrong. Status and headers are the same either way.
func WriteErrorPage(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, page *template.Template) {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		page = nil
	}
	writeError(w, r, log, err, page)
}

func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, page *template.Template) {
	oe, ok := oauth.As(err)
	if !ok {
		oe = oauth.ServerError(err)
	}
	status := oe.HTTPStatus()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	log.LogAttrs(r.Context(), level, "request failed",
		slog.String("path", r.URL.Path),
		slog.String("error", oe.Code),
		slog.Int("status", status),
		slog.Any("cause", causeString(oe)),
		slog.String("request_id", RequestID(r.Context())),
	)
	h := w.Header()
	for k, v := range oe.Header {
		h.Set(k, v)
	}
	if (status == http.StatusUnauthorized || oe.Scheme != "") && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", Challenge(oe))
	}
	desc := ""
	if oe.Description != "" {
		desc = sanitizeDescription(oe.Description)
	}
	if page != nil {
		var buf bytes.Buffer
		if err := page.Execute(&buf, ErrorPage{Status: status, StatusText: http.StatusText(status), Code: oe.Code, Description: desc}); err == nil {
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			_, _ = w.Write(buf.Bytes())
			return
		}
		// A broken template falls back to JSON, never to an empty page.
	}
	body := map[string]string{"error": oe.Code}
	if desc != "" {
		body["error_description"] = desc
	}
	WriteJSON(w, status, body)
}

func causeString(oe *oauth.Error) string {
	if oe.Cause == nil {
		return ""
	}
	return oe.Cause.Error()
}

// Challenge builds the WWW-Authenticate value for oe. The scheme is the
// error's Scheme, or Basic for invalid_client (RFC 6749 §5.2) and Bearer
// otherwise.
func Challenge(oe *oauth.Error) string {
	scheme := oe.Scheme
	if scheme == "" {
		scheme = "Bearer"
		if oe.Code == oauth.ErrInvalidClient {
			scheme = "Basic"
		}
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString(` realm="bulwark"`)
	if scheme != "Basic" {
		b.WriteString(`, error="`)
		b.WriteString(oe.Code)
		b.WriteString(`"`)
		if oe.Description != "" {
			b.WriteString(`, error_description="`)
			b.WriteString(quoteSafe(sanitizeDescription(oe.Description)))
			b.WriteString(`"`)
		}
	}
	keys := make([]string, 0, len(oe.Params))
	for k := range oe.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(", ")
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(quoteSafe(sanitizeDescription(oe.Params[k])))
		b.WriteString(`"`)
	}
	return b.String()
}

// sanitizeDescription keeps error_description inside the RFC 6749 §5.2
// character set (%x20-21 / %x23-5B / %x5D-7E): no CR, LF, TAB, quote or
// backslash ever reaches a client.
func sanitizeDescription(s string) string {
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

func quoteSafe(s string) string { return strings.ReplaceAll(s, `"`, "'") }

// WriteJSON writes v as JSON with the no-store caching headers RFC 6749
// §5.1 requires of token responses (harmless elsewhere).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// ErrBodyTooLarge is the cause attached when a request body exceeds its
// limit.
var ErrBodyTooLarge = errors.New("httpx: request body too large")
