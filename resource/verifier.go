package resource

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// NoncePolicy says whether DPoP proofs sent to this resource server must
// carry a nonce it issued (RFC 9449 §9).
type NoncePolicy int

const (
	// NonceOff never asks for nonces; proofs are fresh by iat and jti.
	// It is the zero value.
	NonceOff NoncePolicy = iota
	// NonceOptional checks a nonce when a proof carries one and hands out
	// nonces in DPoP-Nonce on successful responses, so clients can start
	// using them before NonceRequired.
	NonceOptional
	// NonceRequired refuses proofs without a current nonce with 401
	// WWW-Authenticate: DPoP error="use_dpop_nonce" and a fresh DPoP-Nonce.
	NonceRequired
)

// Defaults of the Verifier's zero fields.
const (
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat when
	// Verifier.Leeway is zero.
	DefaultLeeway = 10 * time.Second
	// DefaultJWKSRefreshInterval is the least time between two JWKS
	// fetches when Verifier.JWKSRefreshInterval is zero: an attacker
	// sending tokens with made-up kids makes at most one fetch per
	// interval.
	DefaultJWKSRefreshInterval = 10 * time.Second
	// DefaultJWKSMaxAge is how long fetched keys are used before they are
	// fetched again when Verifier.JWKSMaxAge is zero.
	DefaultJWKSMaxAge = time.Hour
)

// maxProofFuture caps how far ahead a proof's iat may be, whatever
// Leeway says: FAPI 2.0 SP §5.3.2.1-13 has receivers reject more than 60 s.
const maxProofFuture = 60 * time.Second

// MinNonceSecret is the shortest Verifier.NonceSecret accepted.
const MinNonceSecret = 32

// Verifier checks access tokens and their sender constraint on incoming
// requests. Configure it completely before the first Check or Handler
// request: the fields are read once, then must not change. It is safe for
// concurrent use. The zero value of each field is documented and is the
// safe choice; Issuer, Audiences and BaseURL are required (without them
// every request is refused with 500 server_error). A Verifier must not be
// copied after first use; share a pointer.
type Verifier struct {
	// Issuer is the authorization server's issuer identifier. Its metadata
	// (RFC 8414, or OpenID Connect Discovery as a fallback) is fetched
	// from it, and must name exactly this issuer (RFC 8414 §3.3); tokens
	// must carry it as iss.
	Issuer string
	// Audiences are this resource server's identifiers (RFC 8707
	// resource indicators). A token is accepted only if its aud holds one
	// of them (RFC 9068 §4). Empty refuses every token.
	Audiences []string
	// BaseURL is the external URL prefix clients use to reach this
	// server, for example "https://api.example.com". A DPoP proof's htu
	// must equal BaseURL + r.URL.EscapedPath() (RFC 9449 §4.3 item 9);
	// Host and X-Forwarded-* are never consulted (FAPI checklist G-6), so
	// call Check before rewriting the path. Required.
	BaseURL string

	// AllowBearer accepts unbound (Bearer) tokens. False, the default,
	// refuses tokens without cnf: FAPI 2.0 SP §5.3.4-5 requires
	// sender-constrained tokens.
	AllowBearer bool
	// RequireDPoP refuses certificate-bound tokens, so only DPoP-bound
	// ones (and unbound ones if AllowBearer) are accepted.
	RequireDPoP bool

	// DPoPNonce is the resource-server nonce policy (RFC 9449 §9). The
	// zero value is NonceOff.
	DPoPNonce NoncePolicy
	// NonceSecret keys this server's nonces; at least MinNonceSecret
	// bytes, required unless DPoPNonce is NonceOff. Share it among the
	// nodes of one resource server, never with the authorization server
	// (RFC 9449 §9: nonces are accepted only by the server that issued
	// them).
	NonceSecret []byte
	// DPoPAlgorithms is the DPoP proof alg allow-list, advertised in the
	// algs challenge parameter. Nil means PS256, ES256 and EdDSA; other
	// algorithms (none, HMAC, RS256) can never be allowed.
	DPoPAlgorithms []string

	// Replay makes every DPoP proof single-use. Nil refuses every DPoP
	// request with 503: a proof that cannot be checked for replay is not
	// accepted (fail closed). Share one ReplayCache among every node and
	// Verifier of a resource server.
	Replay ReplayCache
	// IsReplayed reports whether an error from Replay.Use means "already
	// used", for caches with their own sentinel (for example
	// errors.Is(err, store.ErrReplayed)). Errors wrapping ErrReplayed
	// always mean that. Any other error means the cache could not answer:
	// the request fails with 503 temporarily_unavailable.
	IsReplayed func(error) bool

	// ClientCertificate returns the client certificate of r, or nil when
	// there is none; a gateway behind a TLS-terminating proxy passes one
	// that trusts the proxy's header only from the proxy. Nil reads
	// r.TLS.PeerCertificates. An error refuses a certificate-bound token.
	ClientCertificate func(*http.Request) (*x509.Certificate, error)

	// Introspection, when set, accepts opaque tokens through the issuer's
	// introspection endpoint (RFC 7662), and optionally checks JWTs there
	// too. Nil accepts JWT access tokens only.
	Introspection *Introspection

	// ResourceMetadataURL, when set, is sent as resource_metadata in every
	// challenge (RFC 9728 §5.1).
	ResourceMetadataURL string
	// Realm, when set, is sent as realm in every challenge.
	Realm string

	// HTTPClient fetches metadata and keys and calls introspection. Nil
	// means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway; negative means none.
	Leeway time.Duration
	// JWKSRefreshInterval is the least time between JWKS fetches, also
	// when a token names an unknown kid. Zero means
	// DefaultJWKSRefreshInterval.
	JWKSRefreshInterval time.Duration
	// JWKSMaxAge is how long fetched keys are trusted before the next
	// fetch. If that fetch fails the old keys stay in use until one
	// succeeds: deliberately, so a short outage of the authorization
	// server does not stop the API. Zero means DefaultJWKSMaxAge.
	JWKSMaxAge time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// OnFailure, when set, is called with every refused request, for
	// metrics (err.Reason) and logs (err.Err is the cause, free of
	// secrets). It must not write to the response.
	OnFailure func(r *http.Request, err *Error)

	once sync.Once
	st   *state // set once by init
}

// state is what init derives from the configuration. It is immutable.
type state struct {
	err      error  // the configuration problem; every request fails with it
	base     string // BaseURL without a trailing slash
	algs     string // the algs challenge parameter
	dpop     *dpop.Verifier
	nonces   *dpop.Nonces
	keys     *keyCache
	verified verifiedTokens
	intro    *introspector
}

func (v *Verifier) state() *state {
	v.once.Do(func() { v.st = v.init() })
	return v.st
}

func (v *Verifier) init() *state {
	st := &state{algs: strings.Join(v.dpopAlgs(), " ")}
	var problems []string
	if v.Issuer == "" {
		problems = append(problems, "no Issuer")
	}
	if len(v.Audiences) == 0 {
		problems = append(problems, "no Audiences")
	}
	st.base = strings.TrimSuffix(v.BaseURL, "/")
	if u, err := url.Parse(st.base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		problems = append(problems, fmt.Sprintf("BaseURL %q is not an absolute http(s) URL without query", v.BaseURL))
	}
	switch v.DPoPNonce {
	case NonceOff:
	case NonceOptional, NonceRequired:
		if len(v.NonceSecret) < MinNonceSecret {
			problems = append(problems, fmt.Sprintf("NonceSecret of %d bytes; at least %d required", len(v.NonceSecret), MinNonceSecret))
		} else {
			st.nonces = dpop.NewNonces(v.NonceSecret, 0)
			st.nonces.Now = v.now
		}
	default:
		problems = append(problems, fmt.Sprintf("unknown DPoPNonce policy %d", v.DPoPNonce))
	}
	st.dpop = &dpop.Verifier{
		Algorithms: v.DPoPAlgorithms,
		Nonces:     st.nonces,
		IsReplayed: func(err error) bool {
			return errors.Is(err, ErrReplayed) || v.IsReplayed != nil && v.IsReplayed(err)
		},
		MaxFuture: min(v.leeway(), maxProofFuture),
		Now:       v.now,
	}
	if v.Replay != nil {
		st.dpop.Replay = v.Replay
	}
	st.keys = &keyCache{v: v}
	if v.Introspection != nil {
		in, err := v.Introspection.newIntrospector(v, st.keys)
		if err != nil {
			problems = append(problems, err.Error())
		}
		st.intro = in
	}
	if len(problems) > 0 {
		st.err = errors.New("resource: misconfigured Verifier: " + strings.Join(problems, "; "))
	}
	return st
}

// Check verifies the access token of r and its sender constraint, and
// returns the token, or an *Error (as error) to send back with WriteError
// or Error.ServeHTTP. Check may replace r.Body with an equivalent reader
// (it looks for access_token in form bodies) and consumes the DPoP proof's
// jti, so call it once per request.
func (v *Verifier) Check(r *http.Request) (*Token, error) {
	tok, e := v.check(r)
	if e != nil {
		if v.OnFailure != nil {
			v.OnFailure(r, e)
		}
		return nil, e
	}
	return tok, nil
}

// Handler returns a handler that runs Check and passes accepted requests to
// next with the Token in their context (TokenFromContext); refused requests
// get the *Error's response and never reach next. Responses to DPoP
// requests carry a fresh DPoP-Nonce when nonces are on (RFC 9449 §9).
func (v *Verifier) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := v.Check(r)
		if err != nil {
			WriteError(w, err)
			return
		}
		if tok.Binding == BindingDPoP {
			if n := v.CurrentNonce(); n != "" {
				w.Header().Set(dpop.NonceHeaderName, n)
			}
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), tok)))
	})
}

// CurrentNonce returns the DPoP nonce to hand out now, or "" when
// DPoPNonce is NonceOff. Handler sends it on every DPoP response; callers
// of Check may do the same.
func (v *Verifier) CurrentNonce() string {
	if st := v.state(); st.nonces != nil {
		return st.nonces.Current()
	}
	return ""
}

// check is Check's pipeline, in fixed phases.
func (v *Verifier) check(r *http.Request) (*Token, *Error) {
	st := v.state()
	if st.err != nil {
		return nil, v.refuse(http.StatusInternalServerError, CodeServerError, "the resource server is misconfigured", ReasonConfig, "", st.err)
	}
	ctx := r.Context()

	// Phase 1: where the token is. FAPI 2.0 SP §5.3.4-2: resource servers
	// "shall not accept access tokens in the query parameters"; RFC 6750
	// §2.2 body tokens are refused too, and both are 400 invalid_request,
	// like any request with two authentication methods (RFC 9449 §7.2).
	if tokenOutsideHeader(r) {
		return nil, v.refuse(http.StatusBadRequest, CodeInvalidRequest, "access tokens are accepted only in the Authorization header", ReasonTokenInQuery, "", nil)
	}
	auth, e := v.parseAuthorization(r.Header.Values("Authorization"))
	if e != nil {
		return nil, e
	}

	// Phase 2: is the token valid (RFC 9068 §4, or RFC 7662)?
	tok, c, e := v.validate(ctx, st, auth)
	if e != nil {
		return nil, e
	}

	// Phase 3: the sender constraint its cnf names.
	switch {
	case c.unknown || c.jkt != "" && c.x5t != "":
		return nil, v.refuse(http.StatusUnauthorized, CodeInvalidToken, "the access token's confirmation method is not supported", ReasonBinding, auth.scheme, nil)
	case c.jkt != "":
		// RFC 9449 §7.2: "the resource server MUST reject" a DPoP-bound
		// token presented with the Bearer scheme (downgrade).
		if auth.scheme != schemeDPoP {
			return nil, v.refuse(http.StatusUnauthorized, CodeInvalidToken, "a DPoP-bound access token must be sent with the DPoP scheme", ReasonBindingScheme, schemeDPoP, nil)
		}
		if e := v.checkDPoP(ctx, st, r, auth.token, c.jkt); e != nil {
			return nil, e
		}
		tok.Binding, tok.JKT = BindingDPoP, c.jkt
	case auth.scheme == schemeDPoP:
		// RFC 9449 §7.1: the DPoP scheme carries DPoP-bound tokens only.
		return nil, v.refuse(http.StatusUnauthorized, CodeInvalidToken, "the access token is not DPoP-bound", ReasonBindingScheme, schemeDPoP, nil)
	case c.x5t != "":
		if v.RequireDPoP {
			return nil, v.refuse(http.StatusUnauthorized, CodeInvalidToken, "certificate-bound access tokens are not accepted here", ReasonBinding, schemeBearer, nil)
		}
		if e := v.checkCertificate(r, c.x5t); e != nil {
			return nil, e
		}
		tok.Binding, tok.X5T = BindingMTLS, c.x5t
	default:
		if !v.AllowBearer {
			return nil, v.refuse(http.StatusUnauthorized, CodeInvalidToken, "the access token is not sender-constrained", ReasonUnboundToken, schemeBearer, nil)
		}
		tok.Binding = BindingBearer
	}
	return tok, nil
}

// checkDPoP runs every RFC 9449 §4.3 check on the request's proof, with
// ath (item 12), and compares its key with the token's cnf.jkt (RFC 9449
// §7.1: "the resource server MUST check that the value of the jkt member
// ... matches the JWK SHA-256 Thumbprint of the public key in the DPoP
// proof").
func (v *Verifier) checkDPoP(ctx context.Context, st *state, r *http.Request, token, jkt string) *Error {
	proof, err := st.dpop.Verify(ctx, dpop.Request{
		Proofs:      r.Header.Values(dpop.HeaderName),
		Method:      r.Method,
		URL:         st.base + r.URL.EscapedPath(),
		AccessToken: token,
		Nonce:       dpop.NoncePolicy(v.DPoPNonce),
	})
	if err != nil {
		return v.dpopError(err)
	}
	if subtle.ConstantTimeCompare([]byte(proof.JKT), []byte(jkt)) != 1 {
		return v.refuse(http.StatusUnauthorized, CodeInvalidDPoPProof, "the DPoP proof is not signed by the key the access token is bound to", ReasonDPoPKey, schemeDPoP, nil)
	}
	return nil
}

// dpopError turns an error of dpop.Verify into a resource server answer:
// 401 with a DPoP challenge for proof and nonce failures, 503 when the
// replay cache cannot answer.
func (v *Verifier) dpopError(err error) *Error {
	oe, ok := oauth.As(err)
	if !ok {
		return v.refuse(http.StatusInternalServerError, CodeServerError, "internal error", ReasonConfig, "", err)
	}
	switch oe.Code {
	case oauth.ErrInvalidDPoPProof:
		reason := ReasonDPoPProof
		if errors.Is(err, dpop.ErrReplayed) {
			reason = ReasonDPoPReplay
		}
		return v.refuse(http.StatusUnauthorized, CodeInvalidDPoPProof, oe.Description, reason, schemeDPoP, err)
	case oauth.ErrUseDPoPNonce:
		e := v.refuse(http.StatusUnauthorized, CodeUseDPoPNonce, oe.Description, ReasonDPoPNonce, schemeDPoP, err)
		for k, val := range oe.Header {
			e.Header.Set(k, val)
		}
		return e
	case oauth.ErrTemporarilyUnavailable:
		return v.refuse(http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "the DPoP replay check is unavailable; retry later", ReasonUnavailable, "", err)
	}
	return v.refuse(http.StatusInternalServerError, CodeServerError, "internal error", ReasonConfig, "", err)
}

// checkCertificate applies RFC 8705 §3: "the protected resource MUST
// obtain the client certificate used for mutual TLS authentication and
// MUST verify that the certificate matches the certificate associated
// with the access token. If they do not match, the resource access
// attempt MUST be rejected with an error, as described in [RFC6750],
// using an HTTP 401 status code and the invalid_token error code"
// (https://www.rfc-editor.org/rfc/rfc8705.html#section-3).
func (v *Verifier) checkCertificate(r *http.Request, x5t string) *Error {
	var cert *x509.Certificate
	var err error
	if v.ClientCertificate != nil {
		cert, err = v.ClientCertificate(r)
	} else if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		cert = r.TLS.PeerCertificates[0]
	}
	if err != nil {
		return v.refuse(http.StatusUnauthorized, CodeInvalidToken, "the client certificate could not be read", ReasonCertificate, schemeBearer, err)
	}
	if cert == nil {
		return v.refuse(http.StatusUnauthorized, CodeInvalidToken, "the access token is bound to a client certificate, and none was presented", ReasonCertificate, schemeBearer, mtls.ErrNoCertificate)
	}
	if !mtls.ThumbprintMatches(cert, x5t) {
		return v.refuse(http.StatusUnauthorized, CodeInvalidToken, "the access token is bound to another client certificate", ReasonCertificate, schemeBearer, nil)
	}
	return nil
}

// refuse builds an *Error with the WWW-Authenticate challenges of
// RFC 6750 §3 and RFC 9449 §7.1. scheme is the scheme the failure concerns;
// "" offers every scheme this server accepts (no credentials, or
// invalid_request). 5xx failures carry no challenge. v may be nil.
func (v *Verifier) refuse(status int, code, desc, reason, scheme string, cause error) *Error {
	e := &Error{Status: status, Code: code, Description: desc, Reason: reason, Err: cause, Header: http.Header{}}
	if status >= 500 {
		if status == http.StatusServiceUnavailable {
			e.Header.Set("Retry-After", "1")
		}
		return e
	}
	switch scheme {
	case "":
		// RFC 9449 §7.2 Figure 17ff: "multiple challenges", one per
		// accepted scheme; a Bearer challenge only where Bearer can carry
		// an acceptable token (unbound, or certificate-bound).
		e.Header.Add("WWW-Authenticate", v.challengeFor(schemeDPoP, e))
		if v.bearerAccepted() {
			e.Header.Add("WWW-Authenticate", v.challengeFor(schemeBearer, e))
		}
	case schemeDPoP:
		e.Header.Add("WWW-Authenticate", v.challengeFor(schemeDPoP, e))
	default:
		e.Header.Add("WWW-Authenticate", v.challengeFor(schemeBearer, e))
		if status == http.StatusUnauthorized {
			// Tell a Bearer client that DPoP is available, as in
			// RFC 9449 Figure 18.
			e.Header.Add("WWW-Authenticate", v.challengeFor(schemeDPoP, &Error{}))
		}
	}
	return e
}

// challengeFor renders the challenge of scheme for e. v may be nil.
func (v *Verifier) challengeFor(scheme string, e *Error) string {
	var realm, md, algs string
	if v != nil {
		realm, md = v.Realm, v.ResourceMetadataURL
	}
	if scheme == schemeDPoP {
		algs = strings.Join(v.dpopAlgs(), " ")
	}
	return challenge(scheme,
		"realm", realm,
		"error", e.Code,
		"error_description", e.Description,
		"scope", e.Scope,
		"algs", algs,
		"resource_metadata", md,
	)
}

// bearerAccepted reports whether some token can be accepted with the
// Bearer scheme: unbound ones with AllowBearer, certificate-bound ones
// unless RequireDPoP.
func (v *Verifier) bearerAccepted() bool {
	return v == nil || v.AllowBearer || !v.RequireDPoP
}

// dpopAlgs is the proof allow-list: DPoPAlgorithms filtered by the FAPI
// list, which holds asymmetric algorithms only. v may be nil.
func (v *Verifier) dpopAlgs() []string {
	if v == nil || v.DPoPAlgorithms == nil {
		return jose.FAPIAlgorithms
	}
	var out []string
	for _, a := range v.DPoPAlgorithms {
		for _, f := range jose.FAPIAlgorithms {
			if a == f {
				out = append(out, a)
			}
		}
	}
	return out
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) leeway() time.Duration {
	switch {
	case v.Leeway < 0:
		return 0
	case v.Leeway == 0:
		return DefaultLeeway
	}
	return v.Leeway
}

func (v *Verifier) httpClient() *http.Client {
	if v.HTTPClient != nil {
		return v.HTTPClient
	}
	return defaultClient
}

var defaultClient = &http.Client{Timeout: 10 * time.Second}
