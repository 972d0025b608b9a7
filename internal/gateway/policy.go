package gateway

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/bulwarkauth/bulwark/resource"
)

// policy is a route's compiled Rego policy (OPA v1 syntax). Its query is
// data.<package>.allow: the request passes only when that is true, so an
// undefined rule, a false one and one of another type all deny. It is
// safe for concurrent use.
//
// The input document is:
//
//	{
//	  "method":  "GET",
//	  "path":    "/accounts/42",            // as received, before strip_prefix
//	  "route":   "accounts",                // the route's name
//	  "headers": {"x-tenant": "acme"},      // policy_headers only; lower-case names, values joined with ", "
//	  "token": {
//	    "sub": "…", "client_id": "…", "iss": "…",
//	    "scopes": ["accounts", "openid"],
//	    "aud": ["https://api.example.com"],
//	    "exp": 1767225600,                  // seconds; 0 when unknown
//	    "claims": {…}                       // every claim of the JWT or introspection answer
//	  },
//	  "binding": {"type": "dpop", "jkt": "…", "x5t": ""}   // type: dpop | mtls | bearer
//	}
//
// docs/gateway-policy.rego is a complete example.
type policy struct {
	file    string
	query   rego.PreparedEvalQuery
	headers []string // canonical names of policy_headers
}

// deniedBuiltins would let a policy reach the network or read the
// process environment (opa.runtime returns it, secrets included); a
// request-path policy needs neither.
var deniedBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}

// loadPolicy reads and compiles the Rego file.
func loadPolicy(ctx context.Context, file string, headers []string) (*policy, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	mod, err := ast.ParseModuleWithOpts(file, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", file, err)
	}
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool { return slices.Contains(deniedBuiltins, b.Name) })
	caps.AllowNet = []string{}
	query := mod.Package.Path.String() + ".allow"
	pq, err := rego.New(
		rego.Query(query),
		rego.ParsedModule(mod),
		rego.Capabilities(caps),
		rego.SetRegoVersion(ast.RegoV1),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", file, err)
	}
	p := &policy{file: file, query: pq}
	for _, h := range headers {
		p.headers = append(p.headers, http.CanonicalHeaderKey(h))
	}
	return p, nil
}

// allow evaluates the policy for input.
func (p *policy) allow(ctx context.Context, input map[string]any) (bool, error) {
	rs, err := p.query.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return false, fmt.Errorf("gateway: policy %s: %w", p.file, err)
	}
	return rs.Allowed(), nil
}

// input builds the policy's input document for r, which passed the token
// checks with tok.
func (p *policy) input(r *http.Request, route string, tok *resource.Token) map[string]any {
	headers := map[string]any{}
	for _, h := range p.headers {
		if vs := r.Header.Values(h); len(vs) > 0 {
			headers[strings.ToLower(h)] = strings.Join(vs, ", ")
		}
	}
	var exp int64
	if !tok.Expiry.IsZero() {
		exp = tok.Expiry.Unix()
	}
	claims := tok.Claims
	if claims == nil {
		claims = map[string]any{}
	}
	return map[string]any{
		"method":  r.Method,
		"path":    r.URL.Path,
		"route":   route,
		"headers": headers,
		"token": map[string]any{
			"sub":       tok.Subject,
			"client_id": tok.ClientID,
			"iss":       tok.Issuer,
			"scopes":    strSlice(tok.Scopes),
			"aud":       strSlice(tok.Audience),
			"exp":       exp,
			"claims":    claims,
		},
		"binding": map[string]any{"type": tok.Binding, "jkt": tok.JKT, "x5t": tok.X5T},
	}
}

// strSlice converts to the []any OPA's value conversion expects, never
// nil, so a policy can iterate an empty list.
func strSlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
