package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Metadata is the part of an authorization server's metadata document
// (RFC 8414 §2, OpenID Connect Discovery 1.0 §3, RFC 9126 §5, RFC 8628 §4,
// RFC 8705 §5, RFC 9449 §5.1) the client uses. Every endpoint the client
// calls comes from here (FAPI 2.0 SP §5.3.3.1-9).
type Metadata struct {
	// Issuer is the issuer identifier; Discover checks it equals the
	// configured one.
	Issuer string `json:"issuer"`
	// AuthorizationEndpoint is the front-channel endpoint Login sends
	// the browser to.
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// TokenEndpoint receives every grant.
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	// PushedAuthorizationRequestEndpoint receives Login's PAR (RFC 9126).
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint,omitempty"`
	// DeviceAuthorizationEndpoint starts the device flow (RFC 8628).
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
	// UserinfoEndpoint is the OpenID Connect userinfo resource.
	UserinfoEndpoint string `json:"userinfo_endpoint,omitempty"`
	// RevocationEndpoint is the RFC 7009 endpoint.
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	// IntrospectionEndpoint is the RFC 7662 endpoint.
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`
	// EndSessionEndpoint is the OpenID Connect RP-Initiated Logout 1.0
	// endpoint, where a relying party sends the browser to end the
	// provider's session.
	EndSessionEndpoint string `json:"end_session_endpoint,omitempty"`
	// BackchannelLogoutSupported reports OIDC Back-Channel Logout 1.0
	// support.
	BackchannelLogoutSupported bool `json:"backchannel_logout_supported,omitempty"`
	// JWKSURI is where the server's public keys are.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// GrantTypesSupported lists the grants; ExchangeToken needs the
	// token exchange grant listed here.
	GrantTypesSupported []string `json:"grant_types_supported,omitempty"`
	// DPoPSigningAlgValuesSupported lists the DPoP proof algorithms
	// (RFC 9449 §5.1).
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// AuthorizationResponseISSParameterSupported, when true, makes the
	// iss parameter mandatory in authorization responses (RFC 9207 §2.4).
	AuthorizationResponseISSParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
	// MTLSEndpointAliases maps endpoint names (token_endpoint,
	// pushed_authorization_request_endpoint, ...) to their mutual-TLS
	// variants (RFC 8705 §5). The client uses an alias whenever it
	// authenticates with or binds to a client certificate.
	MTLSEndpointAliases map[string]string `json:"mtls_endpoint_aliases,omitempty"`
}

// Discovery document paths.
const (
	openIDConfigurationPath = "/.well-known/openid-configuration"
	oauthServerMetadataPath = "/.well-known/oauth-authorization-server"
)

// discover fetches the metadata of issuer with hc (nil means
// http.DefaultClient): first the OpenID Connect document
// (issuer + "/.well-known/openid-configuration"), and when that is not
// found the RFC 8414 §3 document (the well-known path inserted between
// host and path). The document's issuer must equal issuer exactly, or the
// error wraps ErrIssuerMismatch. The issuer must be https unless
// insecureHTTP is set, because metadata fetched over plain HTTP can
// redirect every later request (FAPI 2.0 SP §5.3.3.1-10).
func discover(ctx context.Context, hc *http.Client, issuer string, insecureHTTP bool) (*Metadata, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: issuer %q is not an absolute URL without query or fragment", issuer)
	}
	if u.Scheme != "https" && !(insecureHTTP && u.Scheme == "http") {
		return nil, fmt.Errorf("client: issuer %q must use https", issuer)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	oidc := strings.TrimSuffix(issuer, "/") + openIDConfigurationPath
	rfc := u.Scheme + "://" + u.Host + oauthServerMetadataPath + strings.TrimSuffix(u.EscapedPath(), "/")
	var lastErr error
	for _, doc := range []string{oidc, rfc} {
		md, status, err := fetchMetadata(ctx, hc, doc)
		if err != nil {
			if status == http.StatusNotFound {
				lastErr = err
				continue
			}
			return nil, err
		}
		// RFC 8414 §3.3 (https://www.rfc-editor.org/rfc/rfc8414#section-3.3):
		// "The issuer value returned MUST be identical to
		// the authorization server's issuer identifier value into which
		// the well-known URI string was inserted ... If these values are
		// not identical, the data contained in the response MUST NOT be
		// used."
		if md.Issuer != issuer {
			return nil, fmt.Errorf("%w: %q from %s", ErrIssuerMismatch, md.Issuer, doc)
		}
		if err := md.check(insecureHTTP); err != nil {
			return nil, err
		}
		return md, nil
	}
	return nil, lastErr
}

func fetchMetadata(ctx context.Context, hc *http.Client, doc string) (*Metadata, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, doc, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("client: discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("client: discovery: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("client: discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("client: discovery: %s: HTTP %d", doc, resp.StatusCode)
	}
	var md Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("client: discovery: %s: %w", doc, err)
	}
	return &md, resp.StatusCode, nil
}

// check refuses endpoints that are not https (unless insecureHTTP).
func (md *Metadata) check(insecureHTTP bool) error {
	eps := []string{md.AuthorizationEndpoint, md.TokenEndpoint, md.PushedAuthorizationRequestEndpoint,
		md.DeviceAuthorizationEndpoint, md.UserinfoEndpoint, md.RevocationEndpoint, md.IntrospectionEndpoint, md.JWKSURI,
		md.EndSessionEndpoint}
	for _, v := range md.MTLSEndpointAliases {
		eps = append(eps, v)
	}
	for _, e := range eps {
		if e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(insecureHTTP && u.Scheme == "http")) {
			return fmt.Errorf("client: metadata endpoint %q is not an https URL", e)
		}
	}
	return nil
}

// endpoint returns the URL of the endpoint named name (a metadata member
// such as "token_endpoint"), its mTLS alias when mtls is set and the server
// has one, and ErrNotSupported when the server advertises neither.
func (md *Metadata) endpoint(name string, mtls bool) (string, error) {
	if mtls {
		if a := md.MTLSEndpointAliases[name]; a != "" {
			return a, nil
		}
	}
	var u string
	switch name {
	case "token_endpoint":
		u = md.TokenEndpoint
	case "pushed_authorization_request_endpoint":
		u = md.PushedAuthorizationRequestEndpoint
	case "device_authorization_endpoint":
		u = md.DeviceAuthorizationEndpoint
	case "authorization_endpoint":
		u = md.AuthorizationEndpoint
	case "userinfo_endpoint":
		u = md.UserinfoEndpoint
	case "revocation_endpoint":
		u = md.RevocationEndpoint
	}
	if u == "" {
		return "", fmt.Errorf("%w: no %s", ErrNotSupported, name)
	}
	return u, nil
}

// supportsGrant reports whether the metadata lists grant. RFC 8414 §2:
// an omitted grant_types_supported means ["authorization_code",
// "implicit"].
func (md *Metadata) supportsGrant(grant string) bool {
	if len(md.GrantTypesSupported) == 0 {
		return grant == "authorization_code"
	}
	return slices.Contains(md.GrantTypesSupported, grant)
}

var errNoMetadata = errors.New("client: no issuer configured")
