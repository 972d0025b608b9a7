package httpx_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

const formType = "application/x-www-form-urlencoded"

type formCase struct {
	name        string
	contentType string
	body        string
	limit       int64
	want        url.Values
	wantStatus  int // for failures: the HTTP status the error renders with
}

// formCases is the ParseForm table; FuzzParseForm and FuzzParseQuery are
// seeded from it.
func formCases() []formCase {
	big := "a=" + strings.Repeat("x", httpx.MaxFormBytes-2)
	return []formCase{
		{name: "ok/token_request", contentType: formType, body: "grant_type=client_credentials&scope=accounts+payments", want: url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts payments"}}},
		{name: "ok/charset_param", contentType: formType + "; charset=UTF-8", body: "a=1", want: url.Values{"a": {"1"}}},
		{name: "ok/content_type_case", contentType: "Application/X-WWW-Form-Urlencoded", body: "a=1", want: url.Values{"a": {"1"}}},
		{name: "ok/percent_encoding", contentType: formType, body: "redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1", want: url.Values{"redirect_uri": {"https://app.example/cb?x=1"}}},
		{name: "ok/empty_value", contentType: formType, body: "state=", want: url.Values{"state": {""}}},
		{name: "ok/no_equals", contentType: formType, body: "a", want: url.Values{"a": {""}}},
		{name: "ok/empty_body", contentType: formType, body: "", want: url.Values{}},
		{name: "ok/empty_pairs_skipped", contentType: formType, body: "a=1&&b=2&", want: url.Values{"a": {"1"}, "b": {"2"}}},
		{name: "ok/names_case_sensitive", contentType: formType, body: "scope=a&Scope=b", want: url.Values{"scope": {"a"}, "Scope": {"b"}}},
		{name: "ok/at_limit", contentType: formType, body: "a=12345678", limit: 10, want: url.Values{"a": {"12345678"}}},
		{name: "ok/default_limit", contentType: formType, body: big, want: url.Values{"a": {big[2:]}}},

		// RFC 6749 §3.1: parameters MUST NOT be included more than once.
		{name: "fail/duplicate", contentType: formType, body: "client_id=a&client_id=b", wantStatus: 400},
		{name: "fail/duplicate_same_value", contentType: formType, body: "code=x&code=x", wantStatus: 400},
		{name: "fail/duplicate_empty", contentType: formType, body: "scope=&scope=", wantStatus: 400},
		{name: "fail/duplicate_encoded_name", contentType: formType, body: "code=x&%63ode=y", wantStatus: 400},
		{name: "fail/duplicate_plus_name", contentType: formType, body: "a+b=1&a%20b=2", wantStatus: 400},
		{name: "fail/duplicate_far_apart", contentType: formType, body: "a=1&b=2&c=3&a=4", wantStatus: 400},
		{name: "fail/empty_name", contentType: formType, body: "=x", wantStatus: 400},
		{name: "fail/bad_percent", contentType: formType, body: "a=%zz", wantStatus: 400},
		{name: "fail/truncated_percent", contentType: formType, body: "a=%4", wantStatus: 400},
		{name: "fail/semicolon", contentType: formType, body: "a=1;b=2", wantStatus: 400},
		{name: "fail/json", contentType: "application/json", body: `{"a":1}`, wantStatus: 400},
		{name: "fail/multipart", contentType: "multipart/form-data; boundary=x", body: "a=1", wantStatus: 400},
		{name: "fail/text_plain", contentType: "text/plain", body: "a=1", wantStatus: 400},
		{name: "fail/no_content_type", contentType: "", body: "a=1", wantStatus: 400},
		{name: "fail/content_type_garbage", contentType: formType + "; ;", body: "a=1", wantStatus: 400},
		{name: "fail/content_type_prefix", contentType: formType + "x", body: "a=1", wantStatus: 400},
		{name: "fail/over_limit", contentType: formType, body: "a=123456789", limit: 10, wantStatus: 413},
		{name: "fail/over_default_limit", contentType: formType, body: big + "x", wantStatus: 413},
	}
}

// TestParseForm checks bounded form parsing: the content type, the body
// bound (413), and RFC 6749 §3.1's ban on repeated parameters.
func TestParseForm(t *testing.T) {
	for _, tc := range formCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			v, err := httpx.ParseForm(httptest.NewRecorder(), r, tc.limit)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("ParseForm: %v", err)
				}
				if diff := cmp.Diff(tc.want, v); diff != "" {
					t.Errorf("values (-want +got):\n%s", diff)
				}
				return
			}
			if v != nil {
				t.Errorf("values returned with an error: %v", v)
			}
			checkInvalidRequest(t, err, tc.wantStatus)
			if got := errors.Is(err, httpx.ErrBodyTooLarge); got != (tc.wantStatus == http.StatusRequestEntityTooLarge) {
				t.Errorf("errors.Is(err, ErrBodyTooLarge) = %v", got)
			}
		})
	}
}

func checkInvalidRequest(t *testing.T, err error, status int) {
	t.Helper()
	oe, ok := oauth.As(err)
	if !ok {
		t.Fatalf("error %v is not an *oauth.Error", err)
	}
	if oe.Code != oauth.ErrInvalidRequest || oe.HTTPStatus() != status {
		t.Fatalf("error = %s (%d), want invalid_request (%d)", oe.Code, oe.HTTPStatus(), status)
	}
}

// TestParseFormIgnoresQuery: parameters in the URL are neither read nor
// counted as duplicates of body parameters.
func TestParseFormIgnoresQuery(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/token?client_secret=leaked&grant_type=password", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", formType)
	v, err := httpx.ParseForm(httptest.NewRecorder(), r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(url.Values{"grant_type": {"client_credentials"}}, v); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestParseFormStopsReading: an oversized body is not read past the bound.
func TestParseFormStopsReading(t *testing.T) {
	body := &countingReader{}
	r := httptest.NewRequest(http.MethodPost, "/token", body)
	r.Header.Set("Content-Type", formType)
	_, err := httpx.ParseForm(httptest.NewRecorder(), r, 1024)
	checkInvalidRequest(t, err, http.StatusRequestEntityTooLarge)
	if body.n > 64<<10 {
		t.Errorf("read %d bytes of an endless body with a 1 KiB limit", body.n)
	}
}

// countingReader is an endless body of 'a's.
type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	c.n += len(p)
	return len(p), nil
}

type queryCase struct {
	name string
	in   string
	ok   bool
}

var queryCases = []queryCase{
	{"ok/pairs", "response_type=code&client_id=c1", true},
	{"ok/empty", "", true},
	{"ok/request_uri", "client_id=c1&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc", true},
	{"fail/duplicate", "client_id=c1&client_id=c2", false},
	{"fail/duplicate_request_uri", "request_uri=a&request_uri=b", false},
	{"fail/duplicate_encoded", "state=1&st%61te=2", false},
	{"fail/empty_name", "=1", false},
	{"fail/empty_name_encoded", "%3D=1&=2", false},
	{"fail/bad_escape", "a=%", false},
	{"fail/semicolon", "a=1;a=2", false},
}

func TestParseQuery(t *testing.T) {
	for _, tc := range queryCases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := httpx.ParseQuery(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ParseQuery(%q): %v", tc.in, err)
				}
				checkNoDuplicates(t, v)
				return
			}
			if v != nil {
				t.Errorf("values returned with an error: %v", v)
			}
			checkInvalidRequest(t, err, http.StatusBadRequest)
		})
	}
}

func checkNoDuplicates(t *testing.T, v url.Values) {
	t.Helper()
	for k, vals := range v {
		if k == "" || len(vals) != 1 {
			t.Fatalf("accepted parameter %q with %d values", k, len(vals))
		}
	}
}

// FuzzParseQuery: ParseQuery never panics; it accepts exactly what
// url.ParseQuery accepts without repeated or empty names, and returns the
// same values; every failure is invalid_request.
func FuzzParseQuery(f *testing.F) {
	for _, tc := range queryCases {
		f.Add(tc.in)
	}
	for _, tc := range formCases() {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := httpx.ParseQuery(s)
		ref, refErr := url.ParseQuery(s)
		wantOK := refErr == nil
		for k, vals := range ref {
			if k == "" || len(vals) > 1 {
				wantOK = false
			}
		}
		if (err == nil) != wantOK {
			t.Fatalf("ParseQuery(%q) error = %v, want ok = %v", s, err, wantOK)
		}
		if err != nil {
			checkInvalidRequest(t, err, http.StatusBadRequest)
			return
		}
		checkNoDuplicates(t, v)
		if !cmp.Equal(v, ref) {
			t.Fatalf("ParseQuery(%q) = %v, url.ParseQuery = %v", s, v, ref)
		}
	})
}

// FuzzParseForm: ParseForm never panics, never accepts a body over its
// limit or a repeated parameter, and fails only with invalid_request.
func FuzzParseForm(f *testing.F) {
	const limit = 512
	for _, tc := range formCases() {
		if len(tc.body) <= 2*limit {
			f.Add(tc.contentType, tc.body)
		}
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := httptest.NewRequest(http.MethodPost, "/par", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		v, err := httpx.ParseForm(httptest.NewRecorder(), r, limit)
		if err != nil {
			oe, ok := oauth.As(err)
			if !ok || oe.Code != oauth.ErrInvalidRequest {
				t.Fatalf("ParseForm error %v is not invalid_request", err)
			}
			return
		}
		if len(body) > limit {
			t.Fatalf("accepted a %d-byte body with limit %d", len(body), limit)
		}
		checkNoDuplicates(t, v)
	})
}

func BenchmarkParseForm(b *testing.B) {
	const body = "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJFUzI1NiJ9.e30.c2ln&scope=accounts"
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		r.Header.Set("Content-Type", formType)
		if _, err := httpx.ParseForm(httptest.NewRecorder(), r, 0); err != nil {
			b.Fatal(err)
		}
	}
}
