package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bulwark.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRun covers the commands that finish on their own: exit status and
// the number of reported problems, not their wording.
func TestRun(t *testing.T) {
	valid := writeConfig(t, "issuer: http://127.0.0.1:8080\nstorage: {driver: memory}\n")
	invalid := writeConfig(t, "issuer: http://auth.example.com/\ntokens: {par_ttl: 1h}\nusers: [{username: bob}]\n")
	unreadable := writeConfig(t, "tokens: {par_tll: 1m}\n")
	tests := []struct {
		name         string
		args         []string
		env          config.Env
		wantStatus   int
		wantStdout   string
		wantProblems int
	}{
		{name: "ok/version", args: []string{"version"}, wantStdout: "bulwark "},
		{name: "ok/config-check-defaults", args: []string{"config", "check"}, wantStdout: "configuration is valid"},
		{name: "ok/config-check-file", args: []string{"config", "check", "--config", valid}, wantStdout: "configuration is valid"},
		{name: "fail/config-check-invalid", args: []string{"config", "check", "--config", invalid}, wantStatus: 1, wantProblems: 4},
		{name: "fail/config-check-unknown-key", args: []string{"config", "check", "--config", unreadable}, wantStatus: 1, wantProblems: 1},
		{name: "fail/config-check-missing-file", args: []string{"config", "check", "--config", filepath.Join(t.TempDir(), "absent.yaml")}, wantStatus: 1, wantProblems: 1},
		{name: "fail/config-check-env", args: []string{"config", "check"}, env: config.Env{"BULWARK_ISUER": "x", "BULWARK_TOKENS_CLOCK_SKEW": "1s"}, wantStatus: 1, wantProblems: 1},
		{name: "fail/serve-invalid", args: []string{"serve", "--config", invalid}, wantStatus: 2, wantProblems: 4},
		{name: "fail/serve-dev-public-issuer", args: []string{"serve", "--dev"}, env: config.Env{"BULWARK_ISSUER": "https://auth.example.com"}, wantStatus: 2},
		{name: "fail/bff-no-section", args: []string{"bff", "--config", valid}, wantStatus: 2, wantProblems: 2},
		{name: "fail/bff-invalid", args: []string{"bff", "--config", valid}, env: config.Env{"BULWARK_BFF_BASE_URL": "http://app.example.com"}, wantStatus: 2, wantProblems: 3},
		{name: "fail/unknown-flag", args: []string{"serve", "--devv"}, wantStatus: 2},
		{name: "fail/stray-argument", args: []string{"version", "now"}, wantStatus: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(context.Background(), tc.args, tc.env, &stdout, &stderr)
			if status != tc.wantStatus {
				t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", status, tc.wantStatus, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantStdout, &stdout)
			}
			if tc.wantProblems > 0 {
				lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
				if lines[0] != "bulwark: invalid configuration:" || len(lines)-1 != tc.wantProblems {
					t.Errorf("want the header and %d problem lines, got:\n%s", tc.wantProblems, &stderr)
				}
			}
		})
	}
}

func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/bulwarkauth/bulwark", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	got := versionText(bi)
	for _, want := range []string{"bulwark v1.2.3\n", "go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH, "abc123 (modified)"} {
		if !strings.Contains(got, want) {
			t.Errorf("versionText lacks %q:\n%s", want, got)
		}
	}
	if got := versionText(nil); !strings.Contains(got, "bulwark unknown\n") || !strings.Contains(got, runtime.Version()) {
		t.Errorf("versionText(nil) = %q", got)
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeDev runs "serve --dev" on the memory store: the walkthrough is
// printed once the server answers, the demo key file is private and
// parses, and cancelling the context shuts the server down cleanly.
func TestServeDev(t *testing.T) {
	t.Chdir(t.TempDir()) // --dev writes ./bulwark-data/demo-fapi-key.json
	addr := freeAddr(t)
	issuer := "http://" + addr
	env := config.Env{"BULWARK_ISSUER": issuer, "BULWARK_LISTEN": addr, "BULWARK_STORAGE_DRIVER": "memory", "BULWARK_LOG_LEVEL": "warn"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev"}, env, stdoutW, &stderr)
		stdoutW.Close()
	}()

	// The walkthrough is written only after the listener is bound.
	var out strings.Builder
	sc := bufio.NewScanner(stdoutR)
	for sc.Scan() && !strings.Contains(out.String(), "client_credentials") {
		out.WriteString(sc.Text() + "\n")
	}
	go io.Copy(io.Discard, stdoutR)
	if !strings.Contains(out.String(), issuer+"/par") {
		t.Fatalf("no walkthrough on stdout:\n%s\nstderr:\n%s", out.String(), &stderr)
	}

	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if err != nil || md.Issuer != issuer {
		t.Errorf("discovery issuer = %q, %v; want %q", md.Issuer, err, issuer)
	}

	fi, err := os.Stat(demoKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", demoKeyFile, fi.Mode().Perm())
	}
	data, err := os.ReadFile(demoKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jose.ParsePrivateJWK(data); err != nil {
		t.Errorf("demo key file: %v", err)
	}

	cancel()
	select {
	case status := <-done:
		if status != 0 {
			t.Errorf("serve exited with %d after cancellation; stderr:\n%s", status, &stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down after cancellation")
	}
}

// TestCommandsListed keeps the root command's help and the package
// documentation (doc.go) listing every command.
func TestCommandsListed(t *testing.T) {
	root := newRootCommand(config.Env{}, clientDeps{})
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" {
			continue
		}
		if !strings.Contains(root.Long, "\n  "+c.Name()+" ") {
			t.Errorf("the root command's Long does not list %q", c.Name())
		}
		if !strings.Contains(string(doc), "//\tbulwark "+c.Name()+" ") {
			t.Errorf("doc.go's usage does not list %q", c.Name())
		}
	}
}
