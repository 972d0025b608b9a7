package telemetry

import (
	"io"
	"log/slog"
	"strings"
)

// NewLogger returns a JSON slog logger writing to w at level, with secret
// redaction applied to every attribute.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: Redact,
	}))
}

// sensitive lists key fragments whose values are never logged.
var sensitive = []string{"password", "secret", "token", "assertion", "authorization", "cookie", "dpop", "code_verifier", "request_uri"}

// Redact is a slog ReplaceAttr that masks credential-bearing attributes.
// "code" alone is matched exactly (an authorization code) so that
// "error_code" style keys still log.
func Redact(groups []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	if k == "code" {
		return slog.String(a.Key, "[redacted]")
	}
	for _, s := range sensitive {
		if strings.Contains(k, s) {
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}
