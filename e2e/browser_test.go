package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// The browser tests drive the login and consent pages in a real headless
// Chromium over the DevTools protocol. They need the Debian package
// chromium (/usr/bin/chromium, or the path in $CHROMIUM); without it they
// fail, never skip.

// browserTimeout bounds each browser test, start of the browser included,
// so a hang fails the test instead of stalling the run.
const browserTimeout = 30 * time.Second

// chromiumPath is the browser binary the tests run.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// startBrowser starts a fresh headless Chromium for the test and returns a
// context for its one tab. The context ends after browserTimeout; the
// browser and its temporary profile are gone when the test ends. extra
// are further allocator options (flags).
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := chromiumPath()
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("no Chromium at %s (%v): install chromium: apt-get install chromium", path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	// No user-data-dir flag: the allocator then makes a fresh temporary
	// profile for each browser, and removes it, with any leftover child
	// process, when the browser exits.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// This machine's network is closed: no QUIC, and none of the
		// background connections Chromium makes on its own.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	opts = append(opts, extra...)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	tctx, tcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		tcancel()
		acancel() // waits for the browser to exit
		cancel()
	})
	// Start the browser now, so a missing library or a crash is reported
	// as such.
	if err := chromedp.Do(tctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	return tctx
}

// interceptClient answers the browser's requests to the client's redirect
// URI, whose host does not exist, with a small page, and sends each
// requested URL on the returned channel.
func interceptClient(t *testing.T, ctx context.Context) <-chan *url.URL {
	t.Helper()
	got := make(chan *url.URL, 8)
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if u, err := url.Parse(ev.Request.URL); err == nil {
				select {
				case got <- u:
				default:
				}
			}
			// A failure here leaves the page loading, and the test's
			// timeout reports it.
			chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID:       ev.RequestID,
				ResponseCode:    200,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}},
				Body:            []byte(`<!doctype html><title>Client</title><h1 id="client">client callback</h1>`),
			})
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: testenv.RedirectURI + "*"}},
	}); err != nil {
		t.Fatalf("Fetch.enable: %v", err)
	}
	return got
}

// awaitCallback returns the client callback the browser requested.
func awaitCallback(t *testing.T, ctx context.Context, got <-chan *url.URL) *url.URL {
	t.Helper()
	select {
	case u := <-got:
		if base := u.Scheme + "://" + u.Host + u.Path; base != testenv.RedirectURI {
			t.Fatalf("browser went to %s, want the redirect URI %s", u, testenv.RedirectURI)
		}
		return u
	case <-ctx.Done():
		t.Fatalf("no redirect to the client: %v", ctx.Err())
		return nil
	}
}

// must fails the test on a browser error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// pageText is the visible text of the page's main element.
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	must(t, "read the page", err)
	return s
}

// openLogin navigates to the authorization URL of a pushed request and
// checks that the login page is shown.
func openLogin(t *testing.T, ctx context.Context, env *testenv.Env, f *flow) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(authorizeURL(env, testenv.FAPIClient, f.RequestURI)))
	must(t, "open the authorization URL", err)
	if resp.Status != http.StatusOK {
		t.Fatalf("authorize: status %d", resp.Status)
	}
	text := pageText(t, ctx)
	if !strings.Contains(text, "Sign in") || !strings.Contains(text, "Test "+testenv.FAPIClient) {
		t.Fatalf("login page text:\n%s", text)
	}
}

// submitLogin types the credentials and presses the sign-in button, and
// returns the response to the form post.
func submitLogin(t *testing.T, ctx context.Context, username, password string) *network.Response {
	t.Helper()
	must(t, "type the credentials", chromedp.Do(ctx,
		chromedp.Clear(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
	))
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	must(t, "submit the login form", err)
	return resp
}

// pushFAPI pushes an authorization request for the fapi2 client with
// private_key_jwt and PKCE, asking for scope.
func pushFAPI(t *testing.T, env *testenv.Env, scope string) *flow {
	t.Helper()
	f, resp, body := push(t, env, testenv.FAPIClient, func(v url.Values) { v.Set("scope", scope) })
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PAR: %d %v", resp.StatusCode, body)
	}
	return f
}

// TestBrowserCodeFlow runs the FAPI 2.0 code flow with a real browser on
// the front channel: PAR, login page, consent page, redirect to the client
// with code, state and iss, then the code is redeemed over HTTP. It also
// checks the session cookie as the browser stored it.
func TestBrowserCodeFlow(t *testing.T) {
	env := testenv.Start(t, testenv.Options{SQLite: true})
	f := pushFAPI(t, env, "openid profile email accounts")
	ctx := startBrowser(t)
	callbacks := interceptClient(t, ctx)

	openLogin(t, ctx, env, f)
	resp := submitLogin(t, ctx, testenv.UserName, testenv.UserPassword)
	if resp.Status != http.StatusOK {
		t.Fatalf("login post: status %d, want the consent page", resp.Status)
	}
	text := pageText(t, ctx)
	for _, want := range []string{
		"Allow access?",
		"Test " + testenv.FAPIClient, "(" + testenv.FAPIClient + ")",
		"Confirm your identity", "See your name and profile", "See your email address", "Read your account information",
		"openid", "profile", "email", "accounts",
		"Signed in as " + testenv.UserName,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("consent page does not show %q:\n%s", want, text)
		}
	}

	// The cookies as the browser keeps them: the session cookie HttpOnly
	// and SameSite=Lax (the CSRF cookie Strict), none readable by scripts.
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{env.URL + "/"}})
	must(t, "read the cookies", err)
	want := map[string]network.CookieSameSite{"bulwark_session": network.CookieSameSiteLax, "bulwark_csrf": network.CookieSameSiteStrict}
	for _, c := range cookies.Cookies {
		sameSite, ok := want[c.Name]
		if !ok {
			continue
		}
		delete(want, c.Name)
		if !c.HTTPOnly || c.SameSite != sameSite || c.Path != "/" {
			t.Errorf("cookie %s: HttpOnly=%v SameSite=%q Path=%q, want HttpOnly, %s, /", c.Name, c.HTTPOnly, c.SameSite, c.Path, sameSite)
		}
	}
	if len(want) > 0 {
		t.Errorf("cookies missing in the browser: %v (has %d cookies)", want, len(cookies.Cookies))
	}
	if js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || js != "" {
		t.Errorf("document.cookie = %q (%v), want no cookie visible to scripts", js, err)
	}

	resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="approve"]`)))
	must(t, "approve", err)
	cb := awaitCallback(t, ctx, callbacks)
	if !strings.HasPrefix(resp.URL, testenv.RedirectURI+"?") {
		t.Errorf("browser ended at %s", resp.URL)
	}
	q := cb.Query()
	if q.Get("code") == "" || q.Get("state") != f.State || q.Get("iss") != env.URL || q.Has("error") {
		t.Fatalf("callback = %s", cb)
	}

	tresp, tb := redeem(t, env, testenv.FAPIClient, q.Get("code"), f.Verifier)
	if tresp.StatusCode != http.StatusOK || tb.AccessToken == "" || tb.IDToken == "" {
		t.Fatalf("token: %d %+v", tresp.StatusCode, tb)
	}
	at := testenv.Claims(t, tb.AccessToken)
	if scope, _ := at["scope"].(string); at["client_id"] != testenv.FAPIClient || at["iss"] != env.URL || !sameScopes(scope, "openid profile email accounts") {
		t.Errorf("access token claims = %v", at)
	}
	if id := testenv.Claims(t, tb.IDToken); id["nonce"] != f.Nonce || id["sub"] != at["sub"] {
		t.Errorf("id token claims = %v", id)
	}
}

// TestBrowserWrongPassword: a wrong password shows an error on the login
// page and sends the browser nowhere; the right one then works.
func TestBrowserWrongPassword(t *testing.T) {
	env := testenv.Start(t, testenv.Options{SQLite: true})
	f := pushFAPI(t, env, "openid profile")
	ctx := startBrowser(t)
	callbacks := interceptClient(t, ctx)

	openLogin(t, ctx, env, f)
	resp := submitLogin(t, ctx, testenv.UserName, "wrong-"+testenv.UserPassword)
	if resp.Status != http.StatusUnauthorized || resp.URL != env.URL+"/login" {
		t.Errorf("wrong password: status %d at %s, want 401 at /login", resp.Status, resp.URL)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`p.error[role="alert"]`)))
	must(t, "read the error", err)
	if msg != "Incorrect username or password." {
		t.Errorf("error shown = %q", msg)
	}
	if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#username"))); err != nil || v != testenv.UserName {
		t.Errorf("username field = %q (%v), want it kept", v, err)
	}
	if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#password"))); err != nil || v != "" {
		t.Errorf("password field = %q (%v), want it empty", v, err)
	}
	select {
	case u := <-callbacks:
		t.Fatalf("wrong password redirected to %s", u)
	default:
	}

	// The page still works: the right password reaches the consent page.
	if resp := submitLogin(t, ctx, testenv.UserName, testenv.UserPassword); resp.Status != http.StatusOK || !strings.Contains(pageText(t, ctx), "Allow access?") {
		t.Fatalf("retry with the right password: status %d:\n%s", resp.Status, pageText(t, ctx))
	}
}

// TestBrowserDeny: the Deny button sends the browser to the client with
// error=access_denied, state and iss, and no code.
func TestBrowserDeny(t *testing.T) {
	env := testenv.Start(t, testenv.Options{SQLite: true})
	f := pushFAPI(t, env, "openid email")
	ctx := startBrowser(t)
	callbacks := interceptClient(t, ctx)

	openLogin(t, ctx, env, f)
	if resp := submitLogin(t, ctx, testenv.UserName, testenv.UserPassword); resp.Status != http.StatusOK {
		t.Fatalf("login post: status %d, want the consent page", resp.Status)
	}
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="deny"]`)))
	must(t, "deny", err)
	q := awaitCallback(t, ctx, callbacks).Query()
	if q.Get("error") != "access_denied" || q.Get("iss") != env.URL || q.Get("state") != f.State || q.Has("code") {
		t.Fatalf("deny callback = %v", q)
	}
}

// TestBrowserWithoutJavaScript: the pages need no JavaScript. One whole
// login runs with script execution turned off in the browser.
func TestBrowserWithoutJavaScript(t *testing.T) {
	env := testenv.Start(t, testenv.Options{SQLite: true})
	f := pushFAPI(t, env, "openid profile")
	ctx := startBrowser(t)
	callbacks := interceptClient(t, ctx)
	_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	must(t, "turn JavaScript off", err)

	// Scripts are really off: the browser parses <noscript> as markup.
	must(t, "load the probe page", chromedp.Do(ctx, chromedp.Navigate(`data:text/html,<noscript><p id="off">off</p></noscript>`)))
	if ids, err := chromedp.Run(ctx, chromedp.QueryNodeIDs(chromedp.CSSAll("#off"))); err != nil || len(ids) != 1 {
		t.Fatalf("JavaScript still runs (noscript probe: %v, %v)", ids, err)
	}

	openLogin(t, ctx, env, f)
	if resp := submitLogin(t, ctx, testenv.UserName, testenv.UserPassword); resp.Status != http.StatusOK {
		t.Fatalf("login post: status %d", resp.Status)
	}
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value="approve"]`)))
	must(t, "approve", err)
	q := awaitCallback(t, ctx, callbacks).Query()
	if q.Get("code") == "" || q.Get("state") != f.State || q.Get("iss") != env.URL {
		t.Fatalf("callback = %v", q)
	}
	if resp, tb := redeem(t, env, testenv.FAPIClient, q.Get("code"), f.Verifier); resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %+v", resp.StatusCode, tb)
	}
}

// TestBrowserNoFraming: another site cannot show the login page in a frame
// (X-Frame-Options DENY, CSP frame-ancestors 'none'). A page of another
// origin frames the login page and, as a control, a page that allows it.
func TestBrowserNoFraming(t *testing.T) {
	env := testenv.Start(t, testenv.Options{SQLite: true})
	f := pushFAPI(t, env, "openid")
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><form><input type="password" name="password"></form>`)
	}))
	t.Cleanup(control.Close)
	framer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><iframe id="login" src="%s"></iframe><iframe id="control" src="%s"></iframe>`,
			authorizeURL(env, testenv.FAPIClient, f.RequestURI), control.URL)
	}))
	t.Cleanup(framer.Close)

	ctx := startBrowser(t)
	must(t, "load the framing page", chromedp.Do(ctx, chromedp.Navigate(framer.URL)))

	doc, err := chromedp.Call(ctx, dom.GetDocument, dom.GetDocumentParams{Depth: new(int64(-1)), Pierce: new(true)})
	must(t, "read the DOM", err)
	frames := map[string]*cdp.Node{}
	walk(doc.Root, func(n *cdp.Node) {
		if n.NodeName == "IFRAME" {
			frames[attr(n, "id")] = n
		}
	})
	if len(frames) != 2 {
		t.Fatalf("framing page has %d iframes", len(frames))
	}
	if d := frames["control"].ContentDocument; d == nil || !strings.HasPrefix(d.DocumentURL, control.URL) || !hasPasswordField(frames["control"]) {
		t.Fatalf("the control frame did not render; the check cannot see into frames")
	}
	if hasPasswordField(frames["login"]) {
		t.Errorf("the login page rendered inside a frame of %s", framer.URL)
	}
	if d := frames["login"].ContentDocument; d != nil && strings.HasPrefix(d.DocumentURL, env.URL) {
		t.Errorf("the login frame holds a document of the server: %s", d.DocumentURL)
	}
}

// sameScopes reports whether two scope strings hold the same scopes.
func sameScopes(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func walk(n *cdp.Node, fn func(*cdp.Node)) {
	if n == nil {
		return
	}
	fn(n)
	for _, c := range n.Children {
		walk(c, fn)
	}
	walk(n.ContentDocument, fn)
}

func attr(n *cdp.Node, name string) string {
	for i := 0; i+1 < len(n.Attributes); i += 2 {
		if n.Attributes[i] == name {
			return n.Attributes[i+1]
		}
	}
	return ""
}

// hasPasswordField reports whether the document inside an iframe has a
// password input.
func hasPasswordField(frame *cdp.Node) bool {
	found := false
	if frame != nil {
		walk(frame.ContentDocument, func(n *cdp.Node) {
			found = found || n.NodeName == "INPUT" && attr(n, "name") == "password"
		})
	}
	return found
}
