package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// TestBrowserAccountPage signs in at the self-service page in a real
// headless Chromium, sees the application alice authorised, revokes it
// with the page's form (CSRF token and all, no JavaScript), and checks
// that the grant's refresh token then fails.
func TestBrowserAccountPage(t *testing.T) {
	env := startAdmin(t, "")
	tb, _ := publicLogin(t, env, testenv.PublicClient, testenv.LoopbackURI)
	ctx := startBrowser(t)

	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(env.URL+"/account"))
	must(t, "open the account page", err)
	if resp.Status != http.StatusOK || !strings.Contains(pageText(t, ctx), "Sign in") {
		t.Fatalf("account page without a session: %d\n%s", resp.Status, pageText(t, ctx))
	}
	if r := submitLogin(t, ctx, testenv.UserName, "wrong-password"); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.Status)
	}
	submitLogin(t, ctx, testenv.UserName, testenv.UserPassword)
	text := pageText(t, ctx)
	if !strings.Contains(text, "Your applications") || !strings.Contains(text, "Public Agent") || !strings.Contains(text, "Keep access while you are away") {
		t.Fatalf("account page:\n%s", text)
	}
	r, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`section[data-client-id="`+testenv.PublicClient+`"] button`)))
	must(t, "revoke", err)
	if r.Status != http.StatusOK {
		t.Fatalf("after revoking: status %d", r.Status)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "You have not authorised any application") {
		t.Fatalf("after revoking:\n%s", text)
	}
	wantError(t, refreshPublic(t, env, testenv.PublicClient, tb.RefreshToken), 400, oauth.ErrInvalidGrant)
}
