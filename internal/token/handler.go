package token

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Handler is the HTTP edge of the token, introspection, revocation and
// userinfo endpoints.
type Handler struct {
	Service *Service
	// PerIP and PerClient rate-limit the token endpoint; nil disables.
	PerIP, PerClient *httpx.RateLimiter
	// TokenURL and UserinfoURL are the configured external URLs of the
	// endpoints this handler serves (the mTLS aliases on the mTLS
	// listener): what DPoP proofs must name as htu.
	TokenURL, UserinfoURL string
	// Certs finds client certificates; nil reads the TLS connection only.
	Certs *httpx.CertSource
}

// credentials parses the client credentials of r, its client certificate
// included.
func (h *Handler) credentials(r *http.Request, form url.Values) (clients.Credentials, error) {
	creds, err := clients.ParseCredentials(r.Header.Get("Authorization"), form)
	if err != nil {
		return creds, err
	}
	creds.Certificate, creds.Intermediates, err = h.Certs.Certificate(r)
	return creds, err
}

// withNonce adds a fresh DPoP-Nonce to responses to DPoP requests (RFC 9449
// §8.2), so clients learn the next nonce without an extra round trip.
func (h *Handler) withNonce(w http.ResponseWriter, r *http.Request) {
	if v := h.Service.DPoP; v != nil && v.Nonces != nil && len(r.Header.Values(dpop.HeaderName)) > 0 {
		w.Header().Set(dpop.NonceHeaderName, v.Nonces.Current())
	}
}

// Token serves POST at the token endpoint.
func (h *Handler) Token(w http.ResponseWriter, r *http.Request) error {
	if err := h.PerIP.Allow("token:" + httpx.ClientIP(r)); err != nil {
		return err
	}
	form, err := httpx.ParseForm(w, r, 0)
	if err != nil {
		return err
	}
	creds, err := h.credentials(r, form)
	if err != nil {
		return err
	}
	if err := h.PerClient.Allow("token:" + creds.ClientID + creds.BasicID); err != nil {
		return err
	}
	req := &Request{
		GrantType:    form.Get("grant_type"),
		Code:         form.Get("code"),
		RedirectURI:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"),
		DeviceCode:   form.Get("device_code"),
		Scope:        form.Get("scope"),
		ScopeSet:     form.Has("scope"),
		Resource:     form["resource"],
		Credentials:  creds,
		DPoPProofs:   r.Header.Values(dpop.HeaderName),
		EndpointURL:  h.TokenURL,
	}
	h.withNonce(w, r)
	res, err := h.Service.Exchange(r.Context(), req)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

// Introspect serves POST at the introspection endpoint (RFC 7662).
func (h *Handler) Introspect(w http.ResponseWriter, r *http.Request) error {
	form, err := httpx.ParseForm(w, r, 0)
	if err != nil {
		return err
	}
	creds, err := h.credentials(r, form)
	if err != nil {
		return err
	}
	res, err := h.Service.Introspect(r.Context(), creds, form.Get("token"), form.Get("token_type_hint"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

// Revoke serves POST at the revocation endpoint (RFC 7009).
func (h *Handler) Revoke(w http.ResponseWriter, r *http.Request) error {
	form, err := httpx.ParseForm(w, r, 0)
	if err != nil {
		return err
	}
	creds, err := h.credentials(r, form)
	if err != nil {
		return err
	}
	if err := h.Service.Revoke(r.Context(), creds, form.Get("token"), form.Get("token_type_hint")); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

// Userinfo serves GET and POST at the userinfo endpoint, a protected
// resource: the token is read from the Authorization header only (RFC 6750
// §2.1; a token in the query is refused, FAPI 2.0 SP §5.3.4-2), with the
// Bearer or DPoP scheme, and its sender constraint is enforced.
func (h *Handler) Userinfo(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Has("access_token") {
		return oauth.New(oauth.ErrInvalidRequest, "access tokens are accepted only in the Authorization header")
	}
	scheme, tok, err := authorization(r.Header.Values("Authorization"))
	if errors.Is(err, errNoCredentials) {
		// RFC 6750 §3.1 and RFC 9449 §7.2: without credentials the
		// challenges carry no error code; both schemes are offered.
		oe, _ := oauth.As(err)
		c := *oe
		c.Header = map[string]string{"WWW-Authenticate": `Bearer realm="bulwark", DPoP realm="bulwark", algs="` + strings.Join(h.dpopAlgs(), " ") + `"`}
		return &c
	}
	if err != nil {
		return h.challenge(err)
	}
	cert, _, err := h.Certs.Certificate(r)
	if err != nil {
		return err
	}
	h.withNonce(w, r)
	claims, err := h.Service.Userinfo(r.Context(), ResourceRequest{
		Scheme: scheme, Token: tok, DPoPProofs: r.Header.Values(dpop.HeaderName),
		Method: r.Method, URL: h.UserinfoURL, Certificate: cert,
	})
	if err != nil {
		return h.challenge(err)
	}
	httpx.WriteJSON(w, http.StatusOK, claims)
	return nil
}

// Access is what an access token presented to one of the server's own
// protected resources grants.
type Access struct {
	Subject  string
	ClientID string
	Scopes   oauth.Scopes
}

// Protected checks the access token of r the way Userinfo does
// (Authorization scheme, signature, issuer, expiry, revocation, and the
// DPoP or certificate binding against url, the resource's external
// URL), for other resources of the server such as the admin API.
func (h *Handler) Protected(r *http.Request, url string) (*Access, error) {
	scheme, tok, err := authorization(r.Header.Values("Authorization"))
	if err != nil {
		return nil, h.challenge(err)
	}
	cert, _, err := h.Certs.Certificate(r)
	if err != nil {
		return nil, err
	}
	c, err := h.Service.checkResource(r.Context(), ResourceRequest{
		Scheme: scheme, Token: tok, DPoPProofs: r.Header.Values(dpop.HeaderName),
		Method: r.Method, URL: url, Certificate: cert,
	})
	if err != nil {
		return nil, h.challenge(err)
	}
	scopes, _ := oauth.ParseScopes(c.Scope)
	return &Access{Subject: c.Subject, ClientID: c.ClientID, Scopes: scopes}, nil
}

// challenge gives resource errors the WWW-Authenticate challenge of
// RFC 6750 §3 and RFC 9449 §7.1: DPoP errors and failures of DPoP-bound
// tokens challenge with DPoP and list the accepted algorithms; the rest
// with Bearer.
func (h *Handler) challenge(err error) error {
	oe, ok := oauth.As(err)
	if !ok || oe.Scheme != "" {
		return err
	}
	switch oe.Code {
	case oauth.ErrInvalidToken, oauth.ErrInsufficientScope, oauth.ErrInvalidDPoPProof, oauth.ErrUseDPoPNonce, oauth.ErrInvalidRequest:
	default:
		return err
	}
	c := *oe
	c.Scheme = "Bearer"
	if oe.Code == oauth.ErrInvalidDPoPProof || oe.Code == oauth.ErrUseDPoPNonce || errors.Is(oe, errDPoPScheme) {
		c.Scheme = "DPoP"
		c.Status = http.StatusUnauthorized
		c.Params = map[string]string{"algs": strings.Join(h.dpopAlgs(), " ")}
	}
	return &c
}

func (h *Handler) dpopAlgs() []string {
	if v := h.Service.DPoP; v != nil && v.Algorithms != nil {
		return v.Algorithms
	}
	return jose.FAPIAlgorithms
}

// errNoCredentials marks a resource request without an Authorization
// header.
var errNoCredentials = errors.New("token: no access token presented")

// authorization extracts the scheme and token from exactly one
// Authorization header. The scheme is case-insensitive (RFC 9110 §11.1);
// only Bearer and DPoP carry access tokens.
func authorization(values []string) (string, string, error) {
	switch len(values) {
	case 0:
		// RFC 6750 §3.1: no credentials → 401 with a bare challenge.
		return "", "", &oauth.Error{Code: oauth.ErrInvalidToken, Description: "an access token is required", Status: http.StatusUnauthorized, Cause: errNoCredentials}
	case 1:
	default:
		return "", "", oauth.InvalidRequest("more than one Authorization header")
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" || len(tok) > 16<<10 {
		return "", "", oauth.New(oauth.ErrInvalidToken, "malformed Authorization header")
	}
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return oauth.TokenTypeBearer, tok, nil
	case strings.EqualFold(scheme, "DPoP"):
		return oauth.TokenTypeDPoP, tok, nil
	}
	return "", "", oauth.New(oauth.ErrInvalidToken, "the Authorization scheme must be Bearer or DPoP")
}
