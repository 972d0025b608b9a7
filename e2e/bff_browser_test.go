package e2e_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bulwarkauth/bulwark/internal/bff"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// spaPage is the test single-page app: it only needs to load.
const spaPage = `<!doctype html><title>SPA</title><main><h1 id="app">the app</h1></main>`

// TestBFFBrowser signs in through the BFF in headless Chromium, calls the
// API from page JavaScript with fetch, checks that no token or session ID
// is reachable from JavaScript, calls again past the access token's
// lifetime (a refresh), and signs out.
func TestBFFBrowser(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "index.html"), []byte(spaPage), 0o644); err != nil {
		t.Fatal(err)
	}
	f := startBFF(t, bffOptions{atTTL: time.Minute, config: func(c *bff.Config) { c.StaticDir = dir }})
	// The BFF's certificate is from the test CA, which Chromium does not
	// know; nothing else about TLS is under test here.
	ctx := startBrowser(t, chromedp.Flag("ignore-certificate-errors", true))

	// An unauthenticated page redirects to sign in, through to the AS.
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(f.url+"/app/"))
	must(t, "open the app", err)
	if resp.Status != http.StatusOK || !strings.Contains(pageText(t, ctx), "Sign in") {
		t.Fatalf("expected the AS login page, got %d at %s", resp.Status, resp.URL)
	}
	resp = submitLogin(t, ctx, testenv.UserName, testenv.UserPassword)
	if resp.Status == http.StatusOK && strings.Contains(pageText(t, ctx), "Allow access?") {
		resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="approve"]`)))
		must(t, "approve", err)
	}
	if !strings.HasPrefix(resp.URL, f.url+"/app/") {
		t.Fatalf("browser ended at %s, want the app", resp.URL)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "the app") {
		t.Fatalf("app page: %q", text)
	}

	fetchAPI := func(method string) string {
		t.Helper()
		js := `fetch("/api/things", {method: "` + method + `", headers: {"X-CSRF": "1"}}).then(r => r.status + " " + r.headers.get("content-type"))`
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		must(t, "fetch", err)
		return s
	}
	if got := fetchAPI("GET"); !strings.HasPrefix(got, "200 ") {
		t.Errorf("GET /api from the page: %s", got)
	}
	if got := fetchAPI("POST"); !strings.HasPrefix(got, "200 ") {
		t.Errorf("POST /api from the page: %s", got)
	}
	call := f.lastCall(t)
	if call.Method != http.MethodPost || call.Binding != "dpop" || call.Cookie != "" {
		t.Errorf("upstream saw %+v", call)
	}

	// Nothing for a script to steal: the session cookie is HttpOnly, no
	// other cookie exists, and storage is empty.
	for js, want := range map[string]string{
		`document.cookie`: ``,
		`String(localStorage.length) + "/" + String(sessionStorage.length)`: `0/0`,
	} {
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js)); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", js, got, err, want)
		}
	}

	// Past the access token's lifetime: the BFF refreshes on the next call.
	f.clock.Advance(2 * time.Minute)
	if got := fetchAPI("GET"); !strings.HasPrefix(got, "200 ") {
		t.Errorf("GET /api after the token expired: %s", got)
	}
	if n := refreshCount(t, f); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}

	// Sign out, landing on a page that answers without a redirect.
	_, err = chromedp.Run(ctx, chromedp.NavigateResponse(f.url+bff.PathSignOut+"?rd="+bff.PathUserinfo))
	must(t, "sign out", err)
	if got := fetchAPI("GET"); !strings.HasPrefix(got, "401 application/json") {
		t.Errorf("GET /api after sign-out: %s", got)
	}
}
