package resource

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Bindings, the values of Token.Binding.
const (
	// BindingDPoP is a DPoP-bound token (cnf.jkt) presented with a valid
	// proof of its key (RFC 9449).
	BindingDPoP = "dpop"
	// BindingMTLS is a certificate-bound token (cnf["x5t#S256"]) presented
	// over a connection with that client certificate (RFC 8705 §3).
	BindingMTLS = "mtls"
	// BindingBearer is an unbound token, accepted only with
	// Verifier.AllowBearer.
	BindingBearer = "bearer"
)

// Token is an access token that passed every check of Verifier.Check.
// Treat it as read-only: it may be shared with the introspection cache.
type Token struct {
	// Subject is the sub claim.
	Subject string
	// ClientID is the client_id claim: the client the token was issued to.
	ClientID string
	// Issuer is the iss claim, equal to Verifier.Issuer.
	Issuer string
	// Scopes are the space-separated scope claim, split.
	Scopes []string
	// Audience is the aud claim.
	Audience []string
	// Expiry is the exp claim; zero when an introspection response had
	// none.
	Expiry time.Time
	// Binding is BindingDPoP, BindingMTLS or BindingBearer.
	Binding string
	// JKT is the DPoP key thumbprint (cnf.jkt) for BindingDPoP.
	JKT string
	// X5T is the certificate thumbprint (cnf["x5t#S256"]) for BindingMTLS.
	X5T string
	// Claims holds every claim of the JWT, or every member of the
	// introspection response, as decoded JSON (numbers are float64).
	Claims map[string]any

	// v is the Verifier that checked the token, so RequireScopes can
	// render its challenges (algs, resource_metadata); nil for a Token
	// built by hand.
	v *Verifier
}

// HasScope reports whether the token carries scope.
func (t *Token) HasScope(scope string) bool { return t != nil && slices.Contains(t.Scopes, scope) }

// RequireScopes returns nil when tok carries every one of scopes, and
// otherwise a 403 insufficient_scope *Error whose challenge names them
// (RFC 6750 §3.1: "The request requires higher privileges than provided by
// the access token"). A nil tok is refused as 401 invalid_token.
func RequireScopes(tok *Token, scopes ...string) error {
	if tok == nil {
		return (*Verifier)(nil).refuse(http.StatusUnauthorized, CodeInvalidToken, "an access token is required", ReasonNoCredentials, schemeBearer, nil)
	}
	for _, s := range scopes {
		if !tok.HasScope(s) {
			return tok.insufficient(strings.Join(scopes, " "), "the access token lacks a required scope")
		}
	}
	return nil
}

// RequireAudience returns nil when tok's aud holds one of audiences, and
// otherwise a 403 insufficient_scope *Error: the token is valid, but not
// for this resource (RFC 8707 §2).
func RequireAudience(tok *Token, audiences ...string) error {
	if tok == nil {
		return (*Verifier)(nil).refuse(http.StatusUnauthorized, CodeInvalidToken, "an access token is required", ReasonNoCredentials, schemeBearer, nil)
	}
	for _, a := range audiences {
		if slices.Contains(tok.Audience, a) {
			return nil
		}
	}
	return tok.insufficient("", "the access token is not meant for this resource")
}

func (t *Token) insufficient(scope, desc string) *Error {
	scheme := schemeBearer
	if t.Binding == BindingDPoP {
		scheme = schemeDPoP
	}
	e := &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Description: desc, Reason: ReasonInsufficientScope, Scope: scope}
	e.Header = http.Header{"Www-Authenticate": {t.v.challengeFor(scheme, e)}}
	return e
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying tok; Handler uses it for the
// requests it passes on.
func NewContext(ctx context.Context, tok *Token) context.Context {
	return context.WithValue(ctx, ctxKey{}, tok)
}

// TokenFromContext returns the token Handler verified for the request
// whose context is ctx.
func TokenFromContext(ctx context.Context) (*Token, bool) {
	t, ok := ctx.Value(ctxKey{}).(*Token)
	return t, ok && t != nil
}
