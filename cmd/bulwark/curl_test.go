package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestCurlRequest checks the curl flags' translation into a request.
func TestCurlRequest(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "body.txt")
	os.WriteFile(file, []byte("a=1\r\nb=2\n"), 0o600)
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantMethod string
		wantBody   string
		wantHeader map[string]string
		wantErr    bool
	}{
		{name: "ok/get", wantMethod: "GET"},
		{name: "ok/data-posts-a-form", args: []string{"-d", "a=1", "-d", "b=2"}, wantMethod: "POST", wantBody: "a=1&b=2",
			wantHeader: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		{name: "ok/data-from-file", args: []string{"--data", "@" + file}, wantMethod: "POST", wantBody: "a=1b=2"},
		{name: "ok/data-from-stdin", args: []string{"-d", "@-", "-X", "PUT"}, stdin: `{"x":1}`, wantMethod: "PUT", wantBody: `{"x":1}`},
		{name: "ok/data-urlencode", args: []string{"--data-urlencode", "q=a b&c", "--data-urlencode", "plain text", "--data-urlencode", "f@" + file},
			wantMethod: "POST", wantBody: "q=a+b%26c&plain+text&f=a%3D1%0D%0Ab%3D2%0A"},
		{name: "ok/headers", args: []string{"-H", "Accept: application/json", "-H", "X-Trace:  abc ", "-H", "Content-Type: application/json", "-d", "{}"},
			wantMethod: "POST", wantBody: "{}", wantHeader: map[string]string{"Accept": "application/json", "X-Trace": "abc", "Content-Type": "application/json"}},
		{name: "ok/explicit-method", args: []string{"--request", "DELETE"}, wantMethod: "DELETE"},
		{name: "fail/malformed-header", args: []string{"-H", "NoColon"}, wantErr: true},
		{name: "fail/dpop-header", args: []string{"-H", "DPoP: x"}, wantErr: true},
		{name: "fail/missing-file", args: []string{"-d", "@" + filepath.Join(dir, "absent")}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f curlFlags
			cmd := &cobra.Command{Use: "curl"}
			fl := cmd.Flags()
			fl.StringVarP(&f.method, "request", "X", "", "")
			fl.StringArrayVarP(&f.headers, "header", "H", nil, "")
			fl.StringArrayVarP(&f.data, "data", "d", nil, "")
			fl.StringArrayVar(&f.dataURLEncode, "data-urlencode", nil, "")
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			cmd.SetIn(strings.NewReader(tc.stdin))
			cmd.SetContext(context.Background())
			req, err := f.request(cmd, "https://api.example/x?y=1", false)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var body []byte
			if req.Body != nil {
				body, _ = io.ReadAll(req.Body)
			}
			if req.Method != tc.wantMethod || string(body) != tc.wantBody {
				t.Errorf("%s with body %q, want %s %q", req.Method, body, tc.wantMethod, tc.wantBody)
			}
			if req.Body != nil && req.GetBody == nil {
				t.Error("the body cannot be resent (no GetBody): a DPoP nonce retry would fail")
			}
			for k, v := range tc.wantHeader {
				if got := req.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestCurlWrite checks -i, -o and -f on responses.
func TestCurlWrite(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/denied" {
			w.Header().Set("WWW-Authenticate", `DPoP error="invalid_token", error_description="token expired"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "denied")
			return
		}
		w.Header().Set("X-Test", "1")
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "out.txt")
	tests := []struct {
		name                   string
		flags                  curlFlags
		path                   string
		wantStdout, wantStderr string
		wantFile               string
		wantStatus             error
	}{
		{name: "ok/body", path: "/", wantStdout: "hello"},
		{name: "ok/include", flags: curlFlags{include: true}, path: "/", wantStdout: "HTTP/1.1 200 OK\r\n"},
		{name: "ok/output", flags: curlFlags{output: out}, path: "/", wantFile: "hello"},
		{name: "ok/401-without-fail", path: "/denied", wantStdout: "denied", wantStderr: "invalid_token: token expired"},
		{name: "fail/401-with-fail", flags: curlFlags{fail: true}, path: "/denied", wantStderr: "401", wantStatus: exitStatus(22)},
		{name: "fail/401-with-fail-silent", flags: curlFlags{fail: true, silent: true}, path: "/denied", wantStatus: exitStatus(22)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var stdout, stderr bytes.Buffer
			cmd := &cobra.Command{}
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			if err := tc.flags.write(cmd, resp); err != tc.wantStatus {
				t.Fatalf("write = %v, want %v", err, tc.wantStatus)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) || (tc.wantStdout == "" && stdout.Len() > 0) {
				t.Errorf("stdout %q, want %q", &stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) || (tc.wantStderr == "" && stderr.Len() > 0) {
				t.Errorf("stderr %q, want %q", &stderr, tc.wantStderr)
			}
			if tc.wantFile != "" {
				if b, _ := os.ReadFile(out); string(b) != tc.wantFile {
					t.Errorf("file holds %q, want %q", b, tc.wantFile)
				}
			}
		})
	}
}
