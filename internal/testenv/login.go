package testenv

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

var formField = regexp.MustCompile(`name="(csrf_token|handle)" value="([^"]*)"`)

// SignIn drives the login and (when shown) consent pages for
// authorizeURL as UserName with browser (a NewBrowser client), approving,
// and returns the redirect to the client (303) with its Location.
func (e *Env) SignIn(t testing.TB, browser *http.Client, authorizeURL string) *http.Response {
	t.Helper()
	resp, err := browser.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	resp = e.submit(t, browser, resp, "/login", url.Values{"username": {UserName}, "password": {UserPassword}})
	if resp.StatusCode == http.StatusOK {
		resp = e.submit(t, browser, resp, "/consent", url.Values{"decision": {"approve"}})
	}
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("testenv: sign-in ended with %d", resp.StatusCode)
	}
	return resp
}

// submit posts the page's form (its csrf_token and handle plus extra).
func (e *Env) submit(t testing.TB, browser *http.Client, page *http.Response, path string, extra url.Values) *http.Response {
	t.Helper()
	b, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK {
		t.Fatalf("testenv: %s: page status %d: %s", path, page.StatusCode, b)
	}
	form := url.Values{}
	for k, v := range extra {
		form[k] = v
	}
	for _, m := range formField.FindAllStringSubmatch(string(b), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return e.PostForm(t, browser, path, form, nil, nil)
}
