package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/admin"
	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// TestAdminCLI drives "bulwark admin" against a real test server: list,
// create (the secret printed once), get with --json, paging, consents,
// keys, the audit log, and the failures of a missing or wrong token.
func TestAdminCLI(t *testing.T) {
	const tok = "cli-admin-token-0123456789abcdefghij"
	srv := testenv.Start(t, testenv.Options{Config: func(c *authserver.Config) {
		c.Admin.TokenHashes = append(c.Admin.TokenHashes, admin.HashToken(tok))
	}})
	env := config.Env{"BULWARK_ADMIN_TOKEN": tok, "BULWARK_ADMIN_SERVER": srv.URL}
	cli := func(t *testing.T, env config.Env, stdin string, args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := newRootCommand(env, clientDeps{})
		cmd.SetArgs(args)
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetOut(&stdout)
		cmd.SetErr(&stderr)
		status := 0
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			status = 1
			stderr.WriteString(err.Error())
		}
		return status, stdout.String(), stderr.String()
	}
	ok := func(t *testing.T, stdin string, args ...string) string {
		t.Helper()
		status, out, errOut := cli(t, env, stdin, args...)
		if status != 0 {
			t.Fatalf("%v: status %d: %s", args, status, errOut)
		}
		return out
	}

	out := ok(t, "", "admin", "clients", "list")
	if !strings.Contains(out, "CLIENT_ID") || !strings.Contains(out, testenv.PublicClient) {
		t.Errorf("clients list:\n%s", out)
	}
	md := `{"client_id":"cli-robot","token_endpoint_auth_method":"client_secret_basic","grant_types":["client_credentials"],"scopes":["api"]}`
	out = ok(t, md, "admin", "clients", "create", "--file", "-", "--json")
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil || created["client_secret"] == nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	out = ok(t, "", "admin", "clients", "get", "cli-robot")
	if !strings.Contains(out, "client_secret_basic") || strings.Contains(out, created["client_secret"].(string)) {
		t.Errorf("get:\n%s", out)
	}
	out = ok(t, "", "admin", "clients", "list", "--limit", "2")
	if !strings.Contains(out, "next page: --after") {
		t.Errorf("paged list:\n%s", out)
	}
	ok(t, "", "admin", "clients", "rotate-secret", "cli-robot")
	if out := ok(t, "", "admin", "clients", "delete", "cli-robot"); !strings.Contains(out, "done") {
		t.Errorf("delete: %s", out)
	}
	out = ok(t, "bob-password-123\n", "admin", "users", "create", "--username", "bob")
	if !strings.Contains(out, "bob") {
		t.Errorf("users create:\n%s", out)
	}
	out = ok(t, "", "admin", "users", "list")
	if !strings.Contains(out, "USERNAME") || !strings.Contains(out, "bob") || !strings.Contains(out, testenv.UserName) {
		t.Errorf("users list:\n%s", out)
	}
	ok(t, "", "admin", "consents", "list", "--client", testenv.PublicClient)
	if out := ok(t, "", "admin", "keys", "list"); !strings.Contains(out, "ES256") {
		t.Errorf("keys list:\n%s", out)
	}
	if out := ok(t, "", "admin", "keys", "rotate", "--publish-ahead", "1m"); !strings.Contains(out, "added") {
		t.Errorf("keys rotate:\n%s", out)
	}
	out = ok(t, "", "admin", "audit", "--action", "client.create")
	if !strings.Contains(out, "client:cli-robot") || !strings.Contains(out, "admin-token") {
		t.Errorf("audit:\n%s", out)
	}

	// Failures: no token, a wrong one, a missing record.
	if status, _, errOut := cli(t, config.Env{"BULWARK_ADMIN_SERVER": srv.URL}, "", "admin", "clients", "list"); status == 0 || !strings.Contains(errOut, "no admin token") {
		t.Errorf("without a token: %d %s", status, errOut)
	}
	if status, _, errOut := cli(t, env, "", "admin", "clients", "list", "--token", "wrong-token"); status == 0 || !strings.Contains(errOut, "invalid_token") {
		t.Errorf("wrong token: %d %s", status, errOut)
	}
	if status, _, errOut := cli(t, env, "", "admin", "clients", "get", "nobody"); status == 0 || !strings.Contains(errOut, "not_found") {
		t.Errorf("missing client: %d %s", status, errOut)
	}
}
