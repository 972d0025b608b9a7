package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/resource"
)

// route is one configured route, ready to serve.
type route struct {
	cfg       Route
	name      string
	prefix    string
	methods   []string // nil: every method
	audiences []string
	verifier  *resource.Verifier
	policy    *policy // nil: none
	proxy     *httputil.ReverseProxy
	timeout   time.Duration
}

// Outcomes recorded in bulwark_gateway_requests_total besides the
// resource.Reason… labels of refused tokens.
const (
	outcomeProxied          = "proxied"
	outcomeUpstreamError    = "upstream_error"
	outcomeUpstreamTimeout  = "upstream_timeout"
	outcomePolicyDenied     = "policy_denied"
	outcomePolicyError      = "policy_error"
	outcomeNotFound         = "not_found"
	outcomeMethodNotAllowed = "method_not_allowed"
	outcomeBadPath          = "bad_path"
	// routeNone labels requests no route took.
	routeNone = "none"
)

// CodeAccessDenied is the error code of a request the route's policy
// refused.
const CodeAccessDenied = "access_denied"

// exchange is the state of one request that the proxy's callbacks and the
// authorization-server transport update. It travels in the request
// context, which is request-scoped data, not a dependency.
type exchange struct {
	outcome      atomic.Value // string
	introspected atomic.Bool
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// match finds the route for r: the longest prefix that covers the path,
// then the first of the routes with that prefix that takes the method.
// rt is nil with the status to answer when there is none: 405 when the
// longest prefix's routes refuse the method, even if a shorter prefix
// would take it.
func (g *Gateway) match(r *http.Request) (rt *route, status int) {
	p := r.URL.Path
	if !cleanPath(p) {
		return nil, http.StatusBadRequest
	}
	status = http.StatusNotFound
	longest := ""
	for _, c := range g.routes {
		if !covers(c.prefix, p) {
			continue
		}
		if status == http.StatusMethodNotAllowed && c.prefix != longest {
			// Routes are sorted longest first: a shorter prefix must not
			// take a method the longer one refuses, or its (weaker)
			// rules would cover paths the operator gave another route.
			break
		}
		if c.takes(r.Method) {
			return c, 0
		}
		longest, status = c.prefix, http.StatusMethodNotAllowed
	}
	return nil, status
}

// covers reports whether prefix takes path: equal, or path continues below
// it at a segment boundary.
func covers(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// cleanPath reports whether p is an absolute path without empty, "." or
// ".." segments. Such paths are refused rather than cleaned: an upstream
// that resolves them differently could be reached under another route's
// rules (the decoded path is checked, so %2e%2e and %2F count too).
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch seg {
		case ".", "..":
			return false
		}
	}
	return !strings.Contains(p, "//")
}

func (rt *route) takes(method string) bool {
	if rt.methods == nil {
		return true
	}
	// HEAD is GET without the body (RFC 9110 §9.3.2).
	return slices.Contains(rt.methods, method) || method == http.MethodHead && slices.Contains(rt.methods, http.MethodGet)
}

// serveRoute runs the fixed phases of the package doc for one request.
func (g *Gateway) serveRoute(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt, status := g.match(r)
	if rt == nil {
		outcome := outcomeNotFound
		switch status {
		case http.StatusBadRequest:
			outcome = outcomeBadPath
			httpx.WriteJSON(w, status, map[string]string{"error": resource.CodeInvalidRequest, "error_description": "the path has empty, '.' or '..' segments"})
		case http.StatusMethodNotAllowed:
			outcome = outcomeMethodNotAllowed
			httpx.WriteJSON(w, status, map[string]string{"error": "method_not_allowed"})
		default:
			httpx.WriteJSON(w, status, map[string]string{"error": "not_found"})
		}
		g.metrics.Request(routeNone, outcome, time.Since(start))
		return
	}
	x := &exchange{}
	ctx := context.WithValue(r.Context(), exchangeKey{}, x)
	r = r.WithContext(ctx)
	// Recorded on the way out, also when the proxy aborts a response
	// whose body broke off (it panics with http.ErrAbortHandler).
	defer func() {
		outcome, _ := x.outcome.Load().(string)
		g.metrics.Request(rt.name, outcome, time.Since(start))
	}()

	// Phase 2: the access token and its sender constraint.
	tok, err := rt.verifier.Check(r)
	if err != nil {
		g.refuse(w, r, rt, x, err)
		return
	}
	if g.cfg.Introspection != nil {
		if x.introspected.Load() {
			g.metrics.Introspection("call")
		} else {
			g.metrics.Introspection("cache_hit")
		}
	}
	// Phase 3: is the token for this route?
	if err := resource.RequireAudience(tok, rt.audiences...); err != nil {
		g.refuse(w, r, rt, x, err)
		return
	}
	if err := resource.RequireScopes(tok, rt.cfg.Scopes...); err != nil {
		g.refuse(w, r, rt, x, err)
		return
	}
	// Phase 4: the route's policy.
	if rt.policy != nil {
		allowed, err := rt.policy.allow(ctx, rt.policy.input(r, rt.name, tok))
		if err != nil {
			// A policy that cannot be evaluated refuses the request.
			x.outcome.Store(outcomePolicyError)
			g.log.ErrorContext(ctx, "gateway policy failed", slog.String("route", rt.name), slog.Any("cause", err),
				slog.String("request_id", httpx.RequestID(ctx)))
			resource.WriteError(w, err)
			return
		}
		if !allowed {
			x.outcome.Store(outcomePolicyDenied)
			g.log.InfoContext(ctx, "gateway policy denied", slog.String("route", rt.name), slog.String("client_id", tok.ClientID),
				slog.String("request_id", httpx.RequestID(ctx)))
			(&resource.Error{Status: http.StatusForbidden, Code: CodeAccessDenied, Description: "the request is not allowed by policy", Reason: outcomePolicyDenied}).ServeHTTP(w, r)
			return
		}
	}
	// Phase 5: proxy, within the route's time bound.
	if tok.Binding == resource.BindingDPoP {
		// RFC 9449 §9: the server may hand out a fresh nonce with any
		// response.
		if n := rt.verifier.CurrentNonce(); n != "" {
			w.Header().Set(dpop.NonceHeaderName, n)
		}
	}
	x.outcome.Store(outcomeProxied)
	deadline := time.Now().Add(rt.timeout)
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	rc := http.NewResponseController(w)
	// Best effort: not every ResponseWriter supports deadlines. The
	// connection's deadlines lie a second past the route's, so the route's
	// context expires first and the client hears 504, not a cancelled 502.
	_ = rc.SetReadDeadline(deadline.Add(time.Second))
	_ = rc.SetWriteDeadline(deadline.Add(time.Second))
	rt.proxy.ServeHTTP(w, r.WithContext(resource.NewContext(pctx, tok)))
}

// refuse writes a failed check and records why.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, rt *route, x *exchange, err error) {
	var e *resource.Error
	reason := resource.ReasonConfig
	if errors.As(err, &e) {
		reason = e.Reason
	}
	x.outcome.Store(reason)
	if binding := bindingOf(reason); binding != "" {
		g.metrics.SenderConstraintFailed(binding, reason)
	}
	level := slog.LevelDebug
	if e == nil || e.Status >= 500 {
		level = slog.LevelWarn
	}
	g.log.Log(r.Context(), level, "gateway refused request", slog.String("route", rt.name), slog.String("reason", reason),
		slog.Any("cause", err), slog.String("request_id", httpx.RequestID(r.Context())))
	resource.WriteError(w, err)
}

// bindingOf names the sender constraint a failure reason concerns, or "".
func bindingOf(reason string) string {
	switch reason {
	case resource.ReasonDPoPProof, resource.ReasonDPoPReplay, resource.ReasonDPoPNonce, resource.ReasonDPoPKey, resource.ReasonBindingScheme:
		return "dpop"
	case resource.ReasonCertificate, resource.ReasonBinding:
		return "mtls"
	}
	return ""
}
