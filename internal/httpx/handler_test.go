package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestWriteError checks the one renderer of errors: status per code, the
// RFC 6749 §5.2 JSON body, WWW-Authenticate on 401 (Basic for
// invalid_client, Bearer or the error's scheme otherwise), extra headers,
// no-store caching, and that internal causes never reach the client.
func TestWriteError(t *testing.T) {
	long := strings.Repeat("d", 600)
	tests := []struct {
		name      string
		err       error
		status    int
		body      map[string]string
		challenge string // "" means no WWW-Authenticate
		header    map[string]string
		secret    string // part of the cause: logged, never sent
	}{
		{
			name: "invalid_client_basic", err: oauth.InvalidClient("client authentication failed"),
			status:    401,
			body:      map[string]string{"error": "invalid_client", "error_description": "client authentication failed"},
			challenge: `Basic realm="bulwark"`,
		},
		{
			name: "invalid_client_wrapped", err: fmt.Errorf("clients: %w", oauth.InvalidClient("x").WithCause(errors.New("argon2 mismatch"))),
			status:    401,
			body:      map[string]string{"error": "invalid_client", "error_description": "x"},
			challenge: `Basic realm="bulwark"`,
			secret:    "argon2 mismatch",
		},
		{
			name: "invalid_token_bearer", err: oauth.New(oauth.ErrInvalidToken, "token expired"),
			status:    401,
			body:      map[string]string{"error": "invalid_token", "error_description": "token expired"},
			challenge: `Bearer realm="bulwark", error="invalid_token", error_description="token expired"`,
		},
		{
			name: "invalid_token_dpop", err: &oauth.Error{Code: oauth.ErrInvalidToken, Scheme: "DPoP"},
			status:    401,
			body:      map[string]string{"error": "invalid_token"},
			challenge: `DPoP realm="bulwark", error="invalid_token"`,
		},
		{
			name: "use_dpop_nonce_resource", err: &oauth.Error{Code: oauth.ErrUseDPoPNonce, Description: "nonce required", Status: 401, Scheme: "DPoP", Header: map[string]string{"DPoP-Nonce": "n-1"}},
			status:    401,
			body:      map[string]string{"error": "use_dpop_nonce", "error_description": "nonce required"},
			challenge: `DPoP realm="bulwark", error="use_dpop_nonce", error_description="nonce required"`,
			header:    map[string]string{"DPoP-Nonce": "n-1"},
		},
		{
			name: "use_dpop_nonce_token_endpoint", err: &oauth.Error{Code: oauth.ErrUseDPoPNonce, Header: map[string]string{"DPoP-Nonce": "n-2"}},
			status: 400,
			body:   map[string]string{"error": "use_dpop_nonce"},
			header: map[string]string{"DPoP-Nonce": "n-2"},
		},
		{
			name: "insufficient_scope_scheme", err: &oauth.Error{Code: oauth.ErrInsufficientScope, Scheme: "Bearer"},
			status:    403,
			body:      map[string]string{"error": "insufficient_scope"},
			challenge: `Bearer realm="bulwark", error="insufficient_scope"`,
		},
		{
			name: "invalid_grant", err: oauth.InvalidGrant("code already used"),
			status: 400,
			body:   map[string]string{"error": "invalid_grant", "error_description": "code already used"},
		},
		{
			name: "no_description", err: oauth.New(oauth.ErrUnsupportedGrantType, ""),
			status: 400,
			body:   map[string]string{"error": "unsupported_grant_type"},
		},
		{
			name: "plain_error_is_server_error", err: errors.New("sqlite: password=hunter2 constraint failed"),
			status: 500,
			body:   map[string]string{"error": "server_error", "error_description": "internal error"},
			secret: "hunter2",
		},
		{
			name: "unavailable", err: oauth.Unavailable(errors.New("replay store down")),
			status: 503,
			body:   map[string]string{"error": "temporarily_unavailable", "error_description": "a required service is unavailable; retry later"},
			secret: "replay store down",
		},
		{
			name: "rate_limited", err: &oauth.Error{Code: oauth.ErrRateLimited, Description: "too many requests", Header: map[string]string{"Retry-After": "30"}},
			status: 429,
			body:   map[string]string{"error": "rate_limited", "error_description": "too many requests"},
			header: map[string]string{"Retry-After": "30"},
		},
		{
			name: "status_override", err: &oauth.Error{Code: oauth.ErrInvalidRequest, Status: 413},
			status: 413,
			body:   map[string]string{"error": "invalid_request"},
		},
		// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
		{
			name: "description_sanitised", err: &oauth.Error{Code: oauth.ErrInvalidToken, Description: "bad\r\nSet-Cookie: x=\"1\"\\\té"},
			status:    401,
			body:      map[string]string{"error": "invalid_token", "error_description": "bad  Set-Cookie: x= 1     "},
			challenge: `Bearer realm="bulwark", error="invalid_token", error_description="bad  Set-Cookie: x= 1     "`,
		},
		{
			name: "description_truncated", err: oauth.InvalidRequest(long),
			status: 400,
			body:   map[string]string{"error": "invalid_request", "error_description": long[:512]},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/token", nil)
			httpx.WriteError(w, r, log, tc.err)

			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			checkJSONHeaders(t, w)
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if diff := cmp.Diff(tc.body, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			for k, v := range tc.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			// Causes are for the log only.
			if tc.secret != "" {
				if strings.Contains(w.Body.String(), tc.secret) || strings.Contains(w.Header().Get("WWW-Authenticate"), tc.secret) {
					t.Errorf("response leaks the cause %q: %q", tc.secret, w.Body)
				}
				if !strings.Contains(logs.String(), tc.secret) {
					t.Errorf("log %q lacks the cause %q", logs.String(), tc.secret)
				}
			}
			var entry struct {
				Level  string
				Status int
				Error  string
			}
			if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
				t.Fatalf("log line %q: %v", logs.String(), err)
			}
			wantLevel := "INFO"
			if tc.status >= 500 {
				wantLevel = "ERROR"
			}
			if entry.Level != wantLevel || entry.Status != tc.status || entry.Error != body["error"] {
				t.Errorf("log = %+v, want level %s status %d error %s", entry, wantLevel, tc.status, body["error"])
			}
		})
	}
}

func checkJSONHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for k, v := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got, want := w.Header().Get("Content-Length"), fmt.Sprint(w.Body.Len()); got != want {
		t.Errorf("Content-Length = %s, body has %s bytes", got, want)
	}
}

// TestChallengeQuoting: a description can never break out of its quoted
// string in WWW-Authenticate, whatever it contains.
func TestChallengeQuoting(t *testing.T) {
	for _, desc := range []string{`a"b`, `a\"b`, "a\r\nb", `\`, `"`, "\x00", "ü"} {
		c := httpx.Challenge(&oauth.Error{Code: oauth.ErrInvalidToken, Description: desc})
		inner := strings.TrimSuffix(c[strings.Index(c, `error_description="`)+len(`error_description="`):], `"`)
		if strings.ContainsAny(inner, "\"\\\r\n\x00") || strings.ContainsFunc(inner, func(r rune) bool { return r > 0x7e }) {
			t.Errorf("Challenge(%q) = %q", desc, c)
		}
	}
}

// TestHandler checks the adapter: a nil error leaves the handler's own
// response alone and an error is rendered once, through WriteError.
func TestHandler(t *testing.T) {
	tests := []struct {
		name   string
		h      httpx.HandlerFunc
		status int
		body   string
	}{
		{"ok/handler_writes", func(w http.ResponseWriter, r *http.Request) error {
			httpx.WriteJSON(w, http.StatusCreated, map[string]string{"ok": "yes"})
			return nil
		}, 201, `{"ok":"yes"}` + "\n"},
		{"fail/oauth_error", func(w http.ResponseWriter, r *http.Request) error {
			return oauth.InvalidRequest("missing client_id")
		}, 400, `{"error":"invalid_request","error_description":"missing client_id"}` + "\n"},
		{"fail/internal_error", func(w http.ResponseWriter, r *http.Request) error {
			return errors.New("disk full")
		}, 500, `{"error":"server_error","error_description":"internal error"}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			httpx.Handler(discardLog(), tc.h).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/token", nil))
			if w.Code != tc.status || w.Body.String() != tc.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body, tc.status, tc.body)
			}
			checkJSONHeaders(t, w)
		})
	}
}

// TestWriteJSONUnencodable: a value that cannot be encoded becomes a 500
// server_error, not a half-written 200.
func TestWriteJSONUnencodable(t *testing.T) {
	w := httptest.NewRecorder()
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"f": func() {}})
	if w.Code != http.StatusInternalServerError || w.Body.String() != `{"error":"server_error"}`+"\n" {
		t.Errorf("got %d %q", w.Code, w.Body)
	}
	checkJSONHeaders(t, w)
}

// TestWriteErrorPage: a browser navigation (Accept: text/html) gets the
// page, with the status, headers and sanitised description of the JSON
// form, HTML-escaped; every other caller gets the JSON body; a template
// that fails falls back to JSON.
func TestWriteErrorPage(t *testing.T) {
	page := template.Must(template.New("p").Parse(`<p id="e">{{.Status}} {{.StatusText}} {{.Code}}: {{.Description}}</p>`))
	broken := template.Must(template.New("b").Parse(`{{.Missing.Field}}`))
	unauthorized := &oauth.Error{Code: oauth.ErrInvalidToken, Description: `bad <script>alert(1)</script> "token"`, Status: http.StatusUnauthorized}
	tests := []struct {
		name     string
		accept   string
		page     *template.Template
		err      error
		wantType string
		wantBody []string
		noBody   []string
	}{
		{"html/browser", "text/html,application/xhtml+xml,*/*;q=0.8", page, unauthorized, "text/html; charset=utf-8",
			[]string{`<p id="e">401 Unauthorized invalid_token: bad &lt;script&gt;alert(1)&lt;/script&gt;  token </p>`}, []string{"<script>"}},
		{"json/api-client", "application/json", page, unauthorized, "application/json", []string{`"error":"invalid_token"`}, []string{"<p"}},
		{"json/no-accept", "", page, unauthorized, "application/json", []string{`"error":"invalid_token"`}, nil},
		{"json/broken-template", "text/html", broken, unauthorized, "application/json", []string{`"error":"invalid_token"`}, nil},
		{"html/internal-error-hides-cause", "text/html", page, errors.New("db password=hunter2"), "text/html; charset=utf-8",
			[]string{"500 Internal Server Error server_error"}, []string{"hunter2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/oauth2/callback", nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			w := httptest.NewRecorder()
			httpx.WriteErrorPage(w, r, discardLog(), tc.err, tc.page)
			oe, _ := oauth.As(tc.err)
			wantStatus := http.StatusInternalServerError
			if oe != nil {
				wantStatus = oe.Status
			}
			if w.Code != wantStatus {
				t.Errorf("status %d, want %d", w.Code, wantStatus)
			}
			if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, tc.wantType) {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
			if wantStatus == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate on a 401 page")
			}
			body := w.Body.String()
			for _, s := range tc.wantBody {
				if !strings.Contains(body, s) {
					t.Errorf("body %q lacks %q", body, s)
				}
			}
			for _, s := range tc.noBody {
				if strings.Contains(body, s) {
					t.Errorf("body %q contains %q", body, s)
				}
			}
		})
	}
}
