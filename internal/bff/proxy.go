package bff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// route is one compiled API route.
type route struct {
	prefix string
	proxy  *httputil.ReverseProxy
}

// tokenKey carries the session's access token from the handler to the
// proxy's transport for one request.
type tokenKey struct{}

// tokenTransport adds the request's session token through the client
// package's Transport: Authorization: DPoP plus a fresh proof bound to
// the method, URL and token (RFC 9449 §7.1), with one retry on an RS
// use_dpop_nonce; or Bearer for a Bearer token.
type tokenTransport struct {
	b    *BFF
	base http.RoundTripper
}

func (t *tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, _ := r.Context().Value(tokenKey{}).(*oauth2.Token)
	if tok == nil {
		return nil, errors.New("bff: proxied request without a session token")
	}
	if err := rewindable(r); err != nil {
		return nil, err
	}
	return t.b.oc.TokenTransport(tok, t.base).RoundTrip(r)
}

// maxRetryBody is the largest request body kept in memory so that a
// use_dpop_nonce answer can be retried with it (RFC 9449 §9). Larger
// bodies stream through, and such a 401 reaches the browser.
const maxRetryBody = 64 << 10

// rewindable gives a small request body a GetBody, which the client
// Transport needs to resend it.
func rewindable(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || r.GetBody != nil || r.ContentLength > maxRetryBody {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRetryBody+1))
	if err != nil {
		return fmt.Errorf("bff: read request body: %w", err)
	}
	if len(b) > maxRetryBody {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
		return nil
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return nil
}

// strippedHeaders never reach an upstream from the browser: its cookies
// (the session is the BFF's business), any credentials it tries to send
// itself, and the CSRF header's job is done here.
var strippedHeaders = []string{"Cookie", "Authorization", dpop.HeaderName, "Proxy-Authorization", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"}

func (b *BFF) newRoute(rc Route) (*route, error) {
	up, err := url.Parse(rc.Upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return nil, fmt.Errorf("bff: route %s: invalid upstream %q", rc.PathPrefix, rc.Upstream)
	}
	if !strings.HasPrefix(rc.PathPrefix, "/") || path.Clean(rc.PathPrefix) != strings.TrimSuffix(rc.PathPrefix, "/") && rc.PathPrefix != "/" {
		return nil, fmt.Errorf("bff: route %q: path_prefix must be a clean absolute path", rc.PathPrefix)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 256
	rt := &route{prefix: rc.PathPrefix}
	csrf := b.csrfHeader
	rt.proxy = &httputil.ReverseProxy{
		Transport: &tokenTransport{b: b, base: base},
		Rewrite: func(pr *httputil.ProxyRequest) {
			p := pr.In.URL.Path
			if rc.StripPrefix {
				p = "/" + strings.TrimPrefix(strings.TrimPrefix(p, strings.TrimSuffix(rc.PathPrefix, "/")), "/")
			}
			pr.Out.URL.Scheme, pr.Out.URL.Host = up.Scheme, up.Host
			pr.Out.URL.Path = strings.TrimSuffix(up.Path, "/") + p
			pr.Out.URL.RawPath = ""
			pr.Out.Host = up.Host
			for _, h := range strippedHeaders {
				pr.Out.Header.Del(h)
			}
			pr.Out.Header.Del(csrf)
			pr.SetXForwarded()
		},
		ModifyResponse: func(resp *http.Response) error {
			// The upstream's cookies would land on the BFF's origin next
			// to the session cookie: not the upstream's to set.
			resp.Header.Del("Set-Cookie")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			b.log.Info("bff: upstream error", "route", rc.PathPrefix, "error", err.Error())
			httpx.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": "bad_gateway"})
		},
	}
	return rt, nil
}

func (b *BFF) match(p string) *route {
	for _, rt := range b.routes {
		if p == strings.TrimSuffix(rt.prefix, "/") || strings.HasPrefix(p, strings.TrimSuffix(rt.prefix, "/")+"/") || rt.prefix == "/" {
			return rt
		}
	}
	return nil
}

// app serves everything outside /oauth2/: API routes with the session's
// token (401 JSON without a session), and otherwise the static app (a
// redirect to sign in without a session).
func (b *BFF) app(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if rt := b.match(r.URL.Path); rt != nil {
		if err := b.checkCSRF(r); err != nil {
			return err
		}
		s, err := b.load(ctx, r)
		if err != nil {
			return b.unauthenticated(w, err)
		}
		rt.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, tokenKey{}, s.accessToken())))
		return nil
	}
	if _, err := b.load(ctx, r); err != nil {
		if !errors.Is(err, errNoSession) {
			return err
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return b.unauthenticated(w, err)
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, PathStart+"?"+url.Values{"rd": {returnPath(r)}}.Encode(), http.StatusFound)
		return nil
	}
	if b.static == nil {
		http.NotFound(w, r)
		return nil
	}
	b.static.ServeHTTP(w, r)
	return nil
}

// returnPath is the request's own path and query, as rd, when it passes
// localPath (it may not: "//x" is a valid request path), else "/".
func returnPath(r *http.Request) string {
	if p, ok := localPath(r.URL.RequestURI()); ok {
		return p
	}
	return "/"
}

// safeMethods are the methods RFC 9110 §9.2.1 calls safe.
var safeMethods = []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace}

// checkCSRF guards state-changing API calls: the custom header must be
// present (a cross-site form or a simple request cannot set it without a
// CORS preflight, which the BFF never grants), and the Origin must be the
// BFF's own or an allowed one. A request without Origin is refused:
// every browser sends it on such requests.
func (b *BFF) checkCSRF(r *http.Request) error {
	if slices.Contains(safeMethods, r.Method) {
		return nil
	}
	if r.Header.Get(b.csrfHeader) == "" {
		return &oauth.Error{Code: oauth.ErrAccessDenied, Description: "missing " + b.csrfHeader + " header", Status: http.StatusForbidden}
	}
	if o := r.Header.Get("Origin"); o == "" || !slices.Contains(b.origins, o) {
		return &oauth.Error{Code: oauth.ErrAccessDenied, Description: "cross-origin request", Status: http.StatusForbidden}
	}
	return nil
}

// newStatic builds the app handler from StaticDir or StaticUpstream.
func (b *BFF) newStatic() (http.Handler, error) {
	switch {
	case b.cfg.StaticDir != "" && b.cfg.StaticUpstream != "":
		return nil, errors.New("bff: set StaticDir or StaticUpstream, not both")
	case b.cfg.StaticDir != "":
		return http.FileServer(http.Dir(b.cfg.StaticDir)), nil
	case b.cfg.StaticUpstream != "":
		up, err := url.Parse(b.cfg.StaticUpstream)
		if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
			return nil, fmt.Errorf("bff: invalid static upstream %q", b.cfg.StaticUpstream)
		}
		return &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			for _, h := range strippedHeaders {
				pr.Out.Header.Del(h)
			}
			pr.SetXForwarded()
		}}, nil
	}
	return nil, nil
}
