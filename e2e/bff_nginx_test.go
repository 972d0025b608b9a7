package e2e_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/bff"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
)

// nginxPath is the nginx binary (Debian's nginx package, installed by
// .ci/run); without it the test fails, never skips.
func nginxPath() string {
	if p := os.Getenv("NGINX"); p != "" {
		return p
	}
	return "/usr/sbin/nginx"
}

// nginxConf puts the BFF's /oauth2/auth in front of an upstream with
// auth_request, passing the identity headers on, as the README shows.
const nginxConf = `daemon off;
master_process off;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path {{dir}}/body;
  proxy_temp_path {{dir}}/proxy;
  fastcgi_temp_path {{dir}}/fastcgi;
  uwsgi_temp_path {{dir}}/uwsgi;
  scgi_temp_path {{dir}}/scgi;
  server {
    listen 127.0.0.1:{{port}} ssl;
    ssl_certificate {{dir}}/tls.crt;
    ssl_certificate_key {{dir}}/tls.key;

    location /oauth2/ {
      proxy_pass {{bff}};
      proxy_ssl_trusted_certificate {{dir}}/ca.pem;
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
    }
    location = /oauth2/auth {
      internal;
      proxy_pass {{bff}};
      proxy_ssl_trusted_certificate {{dir}}/ca.pem;
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
    location /app/ {
      auth_request /oauth2/auth;
      auth_request_set $user   $upstream_http_x_auth_request_user;
      auth_request_set $email  $upstream_http_x_auth_request_email;
      auth_request_set $groups $upstream_http_x_auth_request_groups;
      proxy_set_header X-User   $user;
      proxy_set_header X-Email  $email;
      proxy_set_header X-Groups $groups;
      proxy_pass {{upstream}};
    }
  }
}
`

// startNginx writes the configuration into a temporary prefix and runs
// nginx in the foreground on a free port until the test ends.
func startNginx(t *testing.T, ca *testca.CA, bffURL, upstreamURL string) string {
	t.Helper()
	if _, err := exec.LookPath(nginxPath()); err != nil {
		t.Fatalf("no nginx at %s (%v): apt-get install nginx", nginxPath(), err)
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	leaf := ca.Issue(testca.Options{Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	for name, b := range map[string][]byte{"tls.crt": leaf.CertPEM(), "tls.key": leaf.KeyPEM(), "ca.pem": ca.PEM()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{port}}", port, "{{bff}}", bffURL, "{{upstream}}", upstreamURL).Replace(nginxConf)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nginxPath(), "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), log)
		}
	})
	addr := "127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("nginx exited: %s", out.String())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "https://" + addr
		}
	}
	t.Fatalf("nginx did not listen on %s: %s", addr, out.String())
	return ""
}

// TestBFFNginxAuthRequest puts a real nginx with auth_request in front of
// an upstream: without a session nginx answers 401 and the upstream sees
// nothing; with one, the upstream gets the identity headers.
func TestBFFNginxAuthRequest(t *testing.T) {
	f := startBFF(t, bffOptions{})
	app, seenBy := recordingUpstream(t, "app")
	front := startNginx(t, f.env.CA, f.url, app.URL)
	browser := f.browser()

	resp := get(t, browser, front+"/app/page")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a session: %d, want 401", resp.StatusCode)
	}
	if seen := seenBy(); len(seen) != 0 {
		t.Error("the upstream was reached without a session")
	}

	// Sign in through nginx's /oauth2/ location: cookies are per host, not
	// per port, so the BFF's cookie also goes to nginx's origin.
	f.signIn(t, browser, "/app/page")
	resp = get(t, browser, front+"/app/page")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with a session: %d", resp.StatusCode)
	}
	seen := seenBy()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests", len(seen))
	}
	h := seen[0]
	if h.Get("X-User") == "" || h.Get("X-Email") != testenv.UserEmail {
		t.Errorf("identity headers at the upstream: user %q email %q", h.Get("X-User"), h.Get("X-Email"))
	}
	_ = bff.PathAuth
}
