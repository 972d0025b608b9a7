package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// errPages marks a device page that did not look as expected: the pages
// belong to the server, so the test skips rather than blame the client.
var errPages = errors.New("device pages changed")

// hidden returns a page's hidden form fields.
func hidden(resp *http.Response) (url.Values, error) {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(b), -1) {
		v.Set(m[1], htmlUnescape(m[2]))
	}
	if resp.StatusCode != http.StatusOK || v.Get("csrf_token") == "" {
		return nil, fmt.Errorf("%w: status %d, fields %v: %.300s", errPages, resp.StatusCode, v, b)
	}
	return v, nil
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// approveDevice plays the user at the verification URI: enter the code,
// sign in as alice, and answer the consent page with decision.
func approveDevice(env *testenv.Env, da *client.DeviceAuthResponse, decision string) error {
	b := testenv.NewBrowser()
	b.Transport = env.Transport(nil)
	resp, err := b.Get(da.VerificationURI + "?" + url.Values{"user_code": {da.UserCode}}.Encode())
	if err != nil {
		return err
	}
	steps := []url.Values{
		{"user_code": {da.UserCode}},
		{"username": {testenv.UserName}, "password": {testenv.UserPassword}},
		{"decision": {decision}},
	}
	for _, extra := range steps {
		form, err := hidden(resp)
		if err != nil {
			return err
		}
		for k, v := range extra {
			form[k] = v
		}
		if resp, err = b.PostForm(da.VerificationURI, form); err != nil {
			return err
		}
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: decision page status %d", errPages, resp.StatusCode)
	}
	return nil
}

// TestDeviceFlowBulwark runs the device grant against the real server's
// device_authorization_endpoint, the user approving or denying through
// the /device pages from the show callback.
func TestDeviceFlowBulwark(t *testing.T) {
	env := start(t, testenv.Options{})
	tests := []struct {
		decision string
		wantErr  error
	}{
		{decision: "approve"},
		{decision: "deny", wantErr: client.ErrAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.decision, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			hc, rec := httpClient(env)
			key, err := client.NewDPoPKey("")
			if err != nil {
				t.Fatal(err)
			}
			cfg := publicConfig(env, hc, key)
			md, err := cfg.Discover(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if md.DeviceAuthorizationEndpoint == "" {
				t.Fatal("the server does not advertise device_authorization_endpoint")
			}
			var slept []time.Duration
			// The user has answered before the first poll, so no real
			// wait is needed.
			cfg.Sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }
			var pageErr error
			tok, err := cfg.DeviceLogin(ctx, func(da *client.DeviceAuthResponse) error {
				pageErr = approveDevice(env, da, tt.decision)
				return pageErr
			})
			if errors.Is(pageErr, errPages) {
				t.Fatalf("device pages: %v", pageErr)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("DeviceLogin = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "DPoP" {
				t.Errorf("token_type = %q", tok.TokenType)
			}
			if cnf, _ := testenv.Claims(t, tok.AccessToken)["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
				t.Errorf("cnf = %v, want jkt %s", cnf, key.Thumbprint())
			}
			if len(slept) != 1 || slept[0] <= 0 {
				t.Errorf("slept %v before polling, want one interval", slept)
			}
			polls := rec.to("/token")
			if len(polls) == 0 || polls[len(polls)-1].Header.Get("DPoP") == "" {
				t.Error("the poll carried no DPoP proof")
			}
		})
	}
}
