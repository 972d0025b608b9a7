package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bulwarkauth/bulwark/internal/gateway"
	"github.com/bulwarkauth/bulwark/resource"
)

// validGatewayFile returns validFile with a minimal valid gateway
// section: one route, everything else at its default.
func validGatewayFile() *File {
	f := validFile()
	f.Gateway.BaseURL = "https://api.example.com"
	f.Gateway.Routes = []Route{{Name: "accounts", PathPrefix: "/accounts", Upstream: "http://127.0.0.1:9000", Scopes: []string{"accounts"}}}
	return f
}

func TestValidateGateway(t *testing.T) {
	route := func(f *File) *Route { return &f.Gateway.Routes[0] }
	secret := strings.Repeat("g", resource.MinNonceSecret)
	tests := []struct {
		name     string
		mutate   func(f *File)
		wantKeys []string
	}{
		{name: "ok/minimal", mutate: func(f *File) {}},
		{name: "ok/not-in-use", mutate: func(f *File) { f.Gateway = Default().Gateway }},
		{name: "ok/not-in-use-ignores-bad-defaults", mutate: func(f *File) {
			f.Gateway = Default().Gateway
			f.Gateway.SenderConstraint = "nonsense"
		}},

		// listen, admin_listen
		{name: "ok/listen-any-host", mutate: func(f *File) { f.Gateway.Listen = ":443" }},
		{name: "fail/listen-empty", mutate: func(f *File) { f.Gateway.Listen = "" }, wantKeys: []string{"gateway.listen"}},
		{name: "fail/listen-no-port", mutate: func(f *File) { f.Gateway.Listen = "127.0.0.1" }, wantKeys: []string{"gateway.listen"}},
		{name: "fail/listen-port-range", mutate: func(f *File) { f.Gateway.Listen = "127.0.0.1:65536" }, wantKeys: []string{"gateway.listen"}},
		{name: "ok/admin-listen", mutate: func(f *File) { f.Gateway.AdminListen = "127.0.0.1:8091" }},
		{name: "fail/admin-listen-no-port", mutate: func(f *File) { f.Gateway.AdminListen = "admin" }, wantKeys: []string{"gateway.admin_listen"}},
		{name: "fail/admin-listen-same-as-listen", mutate: func(f *File) { f.Gateway.AdminListen = f.Gateway.Listen }, wantKeys: []string{"gateway.admin_listen"}},

		// base_url, tls
		{name: "ok/base-url-loopback-http", mutate: func(f *File) { f.Gateway.BaseURL = "http://127.0.0.1:8090" }},
		{name: "ok/base-url-with-path", mutate: func(f *File) { f.Gateway.BaseURL = "https://example.com/api" }},
		{name: "fail/base-url-required-with-routes", mutate: func(f *File) { f.Gateway.BaseURL = "" }, wantKeys: []string{"gateway.base_url"}},
		{name: "fail/base-url-relative", mutate: func(f *File) { f.Gateway.BaseURL = "/api" }, wantKeys: []string{"gateway.base_url"}},
		{name: "fail/base-url-http-public", mutate: func(f *File) { f.Gateway.BaseURL = "http://api.example.com" }, wantKeys: []string{"gateway.base_url"}},
		{name: "fail/base-url-trailing-slash", mutate: func(f *File) { f.Gateway.BaseURL = "https://api.example.com/" }, wantKeys: []string{"gateway.base_url"}},
		{name: "fail/base-url-query", mutate: func(f *File) { f.Gateway.BaseURL = "https://api.example.com?a=b" }, wantKeys: []string{"gateway.base_url"}},
		{name: "fail/base-url-upper-case-scheme", mutate: func(f *File) { f.Gateway.BaseURL = "HTTPS://api.example.com" }, wantKeys: []string{"gateway.base_url"}},
		{name: "ok/tls", mutate: func(f *File) { f.Gateway.TLS = GatewayTLS{CertFile: "c.pem", KeyFile: "k.pem"} }},
		{name: "fail/tls-with-http-base-url", mutate: func(f *File) {
			f.Gateway.BaseURL, f.Gateway.TLS = "http://127.0.0.1:8090", GatewayTLS{CertFile: "c.pem", KeyFile: "k.pem"}
		}, wantKeys: []string{"gateway.base_url"}},
		{name: "fail/tls-cert-without-key", mutate: func(f *File) { f.Gateway.TLS.CertFile = "c.pem" }, wantKeys: []string{"gateway.tls"}},
		{name: "fail/tls-key-without-cert", mutate: func(f *File) { f.Gateway.TLS.KeyFile = "k.pem" }, wantKeys: []string{"gateway.tls"}},

		// issuer, audiences, sender_constraint, leeway, replay_store
		{name: "ok/issuer-with-path", mutate: func(f *File) { f.Gateway.Issuer = "https://auth.example.com/tenant" }},
		{name: "fail/issuer-trailing-slash", mutate: func(f *File) { f.Gateway.Issuer = "https://auth.example.com/tenant/" }, wantKeys: []string{"gateway.issuer"}},
		{name: "fail/issuer-http-public", mutate: func(f *File) { f.Gateway.Issuer = "http://auth.example.com" }, wantKeys: []string{"gateway.issuer"}},
		{name: "fail/issuer-fragment", mutate: func(f *File) { f.Gateway.Issuer = "https://auth.example.com#x" }, wantKeys: []string{"gateway.issuer"}},
		{name: "ok/audiences", mutate: func(f *File) { f.Gateway.Audiences = []string{"https://api.example.com", "urn:api"} }},
		{name: "fail/audience-empty", mutate: func(f *File) { f.Gateway.Audiences = []string{"urn:api", " "} }, wantKeys: []string{"gateway.audiences[1]"}},
		{name: "ok/sender-constraint-dpop", mutate: func(f *File) { f.Gateway.SenderConstraint = "dpop" }},
		{name: "fail/sender-constraint", mutate: func(f *File) { f.Gateway.SenderConstraint = "mtls" }, wantKeys: []string{"gateway.sender_constraint"}},
		{name: "ok/leeway-upper-bound", mutate: func(f *File) { f.Gateway.Leeway = 60 * time.Second }},
		{name: "fail/leeway-short", mutate: func(f *File) { f.Gateway.Leeway = 9 * time.Second }, wantKeys: []string{"gateway.leeway"}},
		{name: "fail/leeway-long", mutate: func(f *File) { f.Gateway.Leeway = 61 * time.Second }, wantKeys: []string{"gateway.leeway"}},
		{name: "ok/replay-store-storage", mutate: func(f *File) { f.Gateway.ReplayStore = ReplayStorage }},
		{name: "fail/replay-store", mutate: func(f *File) { f.Gateway.ReplayStore = "redis" }, wantKeys: []string{"gateway.replay_store"}},

		// dpop
		{name: "ok/dpop-nonce-required", mutate: func(f *File) { f.Gateway.DPoP = GatewayDPoP{Nonce: NonceRequired, NonceSecret: secret} }},
		{name: "ok/dpop-nonce-optional-random-secret", mutate: func(f *File) { f.Gateway.DPoP.Nonce = NonceOptional }},
		{name: "fail/dpop-nonce", mutate: func(f *File) { f.Gateway.DPoP.Nonce = "always" }, wantKeys: []string{"gateway.dpop.nonce"}},
		{name: "fail/dpop-nonce-secret-short", mutate: func(f *File) { f.Gateway.DPoP.NonceSecret = secret[1:] }, wantKeys: []string{"gateway.dpop.nonce_secret"}},
		{name: "fail/dpop-nonce-secret-shared-with-as", mutate: func(f *File) {
			f.DPoP.NonceSecret, f.Gateway.DPoP.NonceSecret = secret, secret
		}, wantKeys: []string{"gateway.dpop.nonce_secret"}},

		// introspection
		{name: "ok/introspection-secret", mutate: func(f *File) {
			f.Gateway.Introspection = GatewayIntrospection{ClientID: "gw", ClientSecret: "gateway-secret-0123", CacheTTL: 5 * time.Minute}
		}},
		{name: "ok/introspection-private-key", mutate: func(f *File) {
			f.Gateway.Introspection = GatewayIntrospection{ClientID: "gw", PrivateKeyFile: "gw.pem", KeyID: "k1"}
		}},
		{name: "fail/introspection-key-id-without-key", mutate: func(f *File) {
			f.Gateway.Introspection = GatewayIntrospection{ClientID: "gw", ClientSecret: "gateway-secret-0123", KeyID: "k1"}
		}, wantKeys: []string{"gateway.introspection.key_id"}},
		{name: "fail/introspection-secret-without-client-id", mutate: func(f *File) { f.Gateway.Introspection.ClientSecret = "gateway-secret-0123" }, wantKeys: []string{"gateway.introspection.client_id"}},
		{name: "fail/introspection-key-without-client-id", mutate: func(f *File) { f.Gateway.Introspection.PrivateKeyFile = "gw.pem" }, wantKeys: []string{"gateway.introspection.client_id"}},
		{name: "fail/introspection-no-credential", mutate: func(f *File) { f.Gateway.Introspection.ClientID = "gw" }, wantKeys: []string{"gateway.introspection.client_secret"}},
		{name: "fail/introspection-two-credentials", mutate: func(f *File) {
			f.Gateway.Introspection = GatewayIntrospection{ClientID: "gw", ClientSecret: "gateway-secret-0123", PrivateKeyFile: "gw.pem"}
		}, wantKeys: []string{"gateway.introspection.client_secret"}},
		{name: "fail/introspection-secret-short", mutate: func(f *File) {
			f.Gateway.Introspection = GatewayIntrospection{ClientID: "gw", ClientSecret: "short"}
		}, wantKeys: []string{"gateway.introspection.client_secret"}},
		{name: "ok/introspection-cache-ttl-zero", mutate: func(f *File) { f.Gateway.Introspection.CacheTTL = 0 }},
		{name: "fail/introspection-cache-ttl-negative", mutate: func(f *File) { f.Gateway.Introspection.CacheTTL = -time.Second }, wantKeys: []string{"gateway.introspection.cache_ttl"}},
		{name: "fail/introspection-cache-ttl-long", mutate: func(f *File) { f.Gateway.Introspection.CacheTTL = 5*time.Minute + time.Second }, wantKeys: []string{"gateway.introspection.cache_ttl"}},

		// mtls
		{name: "ok/mtls-proxy", mutate: func(f *File) {
			f.Gateway.MTLS = GatewayMTLS{ProxyHeader: "X-Client-Cert", TrustedProxies: []string{"10.0.0.0/8", "192.0.2.7", "::1"}}
		}},
		{name: "fail/mtls-proxy-header-name", mutate: func(f *File) {
			f.Gateway.MTLS = GatewayMTLS{ProxyHeader: "X Client Cert", TrustedProxies: []string{"10.0.0.1"}}
		}, wantKeys: []string{"gateway.mtls.proxy_header"}},
		{name: "fail/mtls-proxy-header-without-proxies", mutate: func(f *File) { f.Gateway.MTLS.ProxyHeader = "X-Client-Cert" }, wantKeys: []string{"gateway.mtls.trusted_proxies"}},
		{name: "fail/mtls-trusted-proxy", mutate: func(f *File) { f.Gateway.MTLS.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} }, wantKeys: []string{"gateway.mtls.trusted_proxies[1]"}},

		// resource_metadata
		{name: "ok/metadata", mutate: func(f *File) {
			f.Gateway.ResourceMetadata = GatewayMetadata{Resource: "https://api.example.com/v1", ScopesSupported: []string{"accounts"}, Documentation: "https://docs.example/api", Name: "API"}
		}},
		{name: "fail/metadata-resource-other-origin", mutate: func(f *File) { f.Gateway.ResourceMetadata.Resource = "https://other.example.com" }, wantKeys: []string{"gateway.resource_metadata.resource"}},
		{name: "fail/metadata-resource-other-scheme", mutate: func(f *File) {
			f.Gateway.BaseURL, f.Gateway.ResourceMetadata.Resource = "http://127.0.0.1:8090", "https://127.0.0.1:8090"
		}, wantKeys: []string{"gateway.resource_metadata.resource"}},
		{name: "fail/metadata-resource-fragment", mutate: func(f *File) { f.Gateway.ResourceMetadata.Resource = "https://api.example.com#a" }, wantKeys: []string{"gateway.resource_metadata.resource"}},
		{name: "fail/metadata-documentation-relative", mutate: func(f *File) { f.Gateway.ResourceMetadata.Documentation = "/docs" }, wantKeys: []string{"gateway.resource_metadata.documentation"}},
		{name: "fail/metadata-scope", mutate: func(f *File) { f.Gateway.ResourceMetadata.ScopesSupported = []string{"a", "b c"} }, wantKeys: []string{"gateway.resource_metadata.scopes_supported[1]"}},

		// routes
		{name: "fail/routes-required-with-base-url", mutate: func(f *File) { f.Gateway.Routes = nil }, wantKeys: []string{"gateway.routes"}},
		{name: "ok/route-root-prefix", mutate: func(f *File) { route(f).PathPrefix = "/" }},
		{name: "ok/route-trailing-slash", mutate: func(f *File) { route(f).PathPrefix = "/accounts/" }},
		{name: "ok/route-pchars", mutate: func(f *File) { route(f).PathPrefix = "/a-b_c.d~e!$&'()*+,;=:@" }},
		{name: "fail/route-prefix-empty", mutate: func(f *File) { route(f).PathPrefix = "" }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "fail/route-prefix-relative", mutate: func(f *File) { route(f).PathPrefix = "accounts" }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "fail/route-prefix-empty-segment", mutate: func(f *File) { route(f).PathPrefix = "/a//b" }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "fail/route-prefix-dot", mutate: func(f *File) { route(f).PathPrefix = "/a/." }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "fail/route-prefix-dot-dot", mutate: func(f *File) { route(f).PathPrefix = "/a/../b" }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "fail/route-prefix-percent", mutate: func(f *File) { route(f).PathPrefix = "/a%2Fb" }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "fail/route-prefix-query", mutate: func(f *File) { route(f).PathPrefix = "/a?b" }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "fail/route-prefix-well-known", mutate: func(f *File) { route(f).PathPrefix = "/.well-known/oauth-protected-resource" }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "fail/route-prefix-below-well-known", mutate: func(f *File) { route(f).PathPrefix = "/.well-known/oauth-protected-resource/accounts" }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "fail/route-prefix-above-well-known", mutate: func(f *File) { route(f).PathPrefix = "/.well-known/" }, wantKeys: []string{"gateway.routes[0].path_prefix"}},
		{name: "ok/route-prefix-other-well-known", mutate: func(f *File) { route(f).PathPrefix = "/.well-known/oauth-protected-resourcex" }},
		{name: "ok/route-methods", mutate: func(f *File) { route(f).Methods = []string{"GET", "PROPFIND"} }},
		{name: "fail/route-method-lower-case", mutate: func(f *File) { route(f).Methods = []string{"GET", "post"} }, wantKeys: []string{"gateway.routes[0].methods[1]"}},
		{name: "fail/route-method-not-token", mutate: func(f *File) { route(f).Methods = []string{"GET /"} }, wantKeys: []string{"gateway.routes[0].methods[0]"}},
		{name: "ok/route-same-prefix-other-methods", mutate: func(f *File) {
			route(f).Methods = []string{"GET"}
			f.Gateway.Routes = append(f.Gateway.Routes, Route{PathPrefix: "/accounts", Methods: []string{"POST"}, Upstream: "http://127.0.0.1:9001"})
		}},
		{name: "fail/route-same-prefix-common-method", mutate: func(f *File) {
			route(f).Methods = []string{"GET", "POST"}
			f.Gateway.Routes = append(f.Gateway.Routes, Route{PathPrefix: "/accounts", Methods: []string{"POST"}, Upstream: "http://127.0.0.1:9001"})
		}, wantKeys: []string{"gateway.routes[1].path_prefix"}},
		{name: "fail/route-same-prefix-all-methods", mutate: func(f *File) {
			f.Gateway.Routes = append(f.Gateway.Routes, Route{PathPrefix: "/accounts", Methods: []string{"DELETE"}, Upstream: "http://127.0.0.1:9001"})
		}, wantKeys: []string{"gateway.routes[1].path_prefix"}},
		{name: "ok/route-upstream-https-with-ca", mutate: func(f *File) { route(f).Upstream, route(f).UpstreamCAFile = "https://accounts.internal/v1", "ca.pem" }},
		{name: "fail/route-upstream-required", mutate: func(f *File) { route(f).Upstream = "" }, wantKeys: []string{"gateway.routes[0].upstream"}},
		{name: "fail/route-upstream-scheme", mutate: func(f *File) { route(f).Upstream = "ftp://accounts.internal" }, wantKeys: []string{"gateway.routes[0].upstream"}},
		{name: "fail/route-upstream-relative", mutate: func(f *File) { route(f).Upstream = "/accounts" }, wantKeys: []string{"gateway.routes[0].upstream"}},
		{name: "fail/route-upstream-query", mutate: func(f *File) { route(f).Upstream = "http://127.0.0.1:9000/?a=b" }, wantKeys: []string{"gateway.routes[0].upstream"}},
		{name: "fail/route-upstream-userinfo", mutate: func(f *File) { route(f).Upstream = "http://u:p@127.0.0.1:9000" }, wantKeys: []string{"gateway.routes[0].upstream"}},
		{name: "fail/route-upstream-ca-file-http", mutate: func(f *File) { route(f).UpstreamCAFile = "ca.pem" }, wantKeys: []string{"gateway.routes[0].upstream_ca_file"}},
		{name: "ok/route-resource", mutate: func(f *File) { route(f).Resource = "https://api.example.com/accounts" }},
		{name: "fail/route-resource-other-origin", mutate: func(f *File) { route(f).Resource = "https://accounts.example.com" }, wantKeys: []string{"gateway.routes[0].resource"}},
		{name: "fail/route-scope", mutate: func(f *File) { route(f).Scopes = []string{"accounts", `a"b`} }, wantKeys: []string{"gateway.routes[0].scopes[1]"}},
		{name: "fail/route-scope-empty", mutate: func(f *File) { route(f).Scopes = []string{""} }, wantKeys: []string{"gateway.routes[0].scopes[0]"}},
		{name: "ok/route-audiences", mutate: func(f *File) { route(f).Audiences = []string{"urn:accounts"} }},
		{name: "fail/route-audience-empty", mutate: func(f *File) { route(f).Audiences = []string{""} }, wantKeys: []string{"gateway.routes[0].audiences[0]"}},
		{name: "ok/route-policy-headers", mutate: func(f *File) {
			route(f).Policy, route(f).PolicyHeaders = "p.rego", []string{"X-Tenant", "x-request-id"}
		}},
		{name: "fail/route-policy-headers-without-policy", mutate: func(f *File) { route(f).PolicyHeaders = []string{"X-Tenant"} }, wantKeys: []string{"gateway.routes[0].policy_headers"}},
		{name: "fail/route-policy-header-name", mutate: func(f *File) { route(f).Policy, route(f).PolicyHeaders = "p.rego", []string{"X-Tenant", "X Tenant"} }, wantKeys: []string{"gateway.routes[0].policy_headers[1]"}},
		{name: "fail/route-policy-header-authorization", mutate: func(f *File) { route(f).Policy, route(f).PolicyHeaders = "p.rego", []string{"authorization"} }, wantKeys: []string{"gateway.routes[0].policy_headers[0]"}},
		{name: "fail/route-policy-header-credentials", mutate: func(f *File) {
			route(f).Policy, route(f).PolicyHeaders = "p.rego", []string{"DPoP", "COOKIE", "Proxy-Authorization"}
		}, wantKeys: []string{"gateway.routes[0].policy_headers[0]", "gateway.routes[0].policy_headers[1]", "gateway.routes[0].policy_headers[2]"}},
		{name: "ok/route-forward-headers", mutate: func(f *File) {
			route(f).ForwardHeaders = ForwardHeaders{Subject: "x-user", ClientID: "X-Client", Scopes: "-", JKT: "", X5T: "X-Cert"}
		}},
		{name: "fail/route-forward-header-name", mutate: func(f *File) { route(f).ForwardHeaders.Subject = "X User" }, wantKeys: []string{"gateway.routes[0].forward_headers.subject"}},
		{name: "fail/route-forward-header-reserved", mutate: func(f *File) { route(f).ForwardHeaders.ClientID = "host" }, wantKeys: []string{"gateway.routes[0].forward_headers.client_id"}},
		{name: "fail/route-forward-header-authorization", mutate: func(f *File) { route(f).ForwardHeaders.Scopes = "Authorization" }, wantKeys: []string{"gateway.routes[0].forward_headers.scopes"}},
		{name: "fail/route-forward-header-x-forwarded-for", mutate: func(f *File) { route(f).ForwardHeaders.JKT = "x-forwarded-for" }, wantKeys: []string{"gateway.routes[0].forward_headers.jkt"}},
		{name: "fail/route-forward-header-cert-header", mutate: func(f *File) {
			f.Gateway.MTLS = GatewayMTLS{ProxyHeader: "X-Client-Cert", TrustedProxies: []string{"10.0.0.1"}}
			route(f).ForwardHeaders.X5T = "x-client-cert"
		}, wantKeys: []string{"gateway.routes[0].forward_headers.x5t"}},
		{name: "fail/route-forward-header-duplicate", mutate: func(f *File) {
			route(f).ForwardHeaders = ForwardHeaders{Subject: "X-Id", ClientID: "x-id"}
		}, wantKeys: []string{"gateway.routes[0].forward_headers.client_id"}},
		{name: "ok/route-timeouts", mutate: func(f *File) { route(f).ConnectTimeout, route(f).Timeout = 0, 0 }},
		{name: "fail/route-connect-timeout", mutate: func(f *File) { route(f).ConnectTimeout = -time.Second }, wantKeys: []string{"gateway.routes[0].connect_timeout"}},
		{name: "fail/route-timeout", mutate: func(f *File) { route(f).Timeout = -time.Second }, wantKeys: []string{"gateway.routes[0].timeout"}},
		{name: "fail/second-route-index", mutate: func(f *File) {
			f.Gateway.Routes = append(f.Gateway.Routes, Route{PathPrefix: "/payments", Upstream: ""})
		}, wantKeys: []string{"gateway.routes[1].upstream"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := validGatewayFile()
			tc.mutate(f)
			err := f.Validate()
			if diff := cmp.Diff(tc.wantKeys, problemKeys(t, err), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("problem keys (-want +got):\n%s\nerror:\n%v", diff, err)
			}
		})
	}
}

// TestValidateGatewayInUse checks when the section is checked: a key set
// in the file or environment puts it in use, and then base_url and routes
// are required.
func TestValidateGatewayInUse(t *testing.T) {
	f, err := load("g.yaml", []byte("gateway:\n  leeway: 20s\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := problemKeys(t, f.Validate())
	if diff := cmp.Diff([]string{"gateway.base_url", "gateway.routes"}, got); diff != "" {
		t.Errorf("problem keys (-want +got):\n%s", diff)
	}
}

func TestGatewayConfig(t *testing.T) {
	f := validGatewayFile()
	f.Issuer = "https://auth.example.com"
	f.DPoP.NonceSecret = strings.Repeat("a", 32)
	f.Gateway = Gateway{
		Listen: "0.0.0.0:9090", AdminListen: "127.0.0.1:9091", BaseURL: "https://api.example.com",
		TLS:          GatewayTLS{CertFile: "gw.crt", KeyFile: "gw.key"},
		IssuerCAFile: "as-ca.pem", Audiences: []string{"https://api.example.com", "urn:api"},
		SenderConstraint: "dpop", Leeway: 20 * time.Second, ReplayStore: ReplayStorage,
		DPoP: GatewayDPoP{Nonce: NonceRequired, NonceSecret: strings.Repeat("g", 32)},
		Introspection: GatewayIntrospection{
			ClientID: "gw", PrivateKeyFile: "gw.pem", KeyID: "k1", SignedResponse: true, CacheTTL: 10 * time.Second,
		},
		MTLS: GatewayMTLS{ProxyHeader: "X-Client-Cert", TrustedProxies: []string{"10.1.2.3/16", "192.0.2.7", "::ffff:198.51.100.1", "2001:db8::/32"}},
		ResourceMetadata: GatewayMetadata{
			Resource: "https://api.example.com", ScopesSupported: []string{"accounts"},
			Documentation: "https://docs.example/api", Name: "Example API",
		},
		Routes: []Route{
			{
				Name: "accounts", PathPrefix: "/accounts", Methods: []string{"GET", "POST"},
				Upstream: "https://accounts.internal/v1", UpstreamCAFile: "ca.pem", StripPrefix: true,
				Resource: "https://api.example.com/accounts", Scopes: []string{"accounts"}, Audiences: []string{"urn:accounts"},
				AllowBearer: true, Policy: "accounts.rego", PolicyHeaders: []string{"X-Tenant"},
				ForwardHeaders:       ForwardHeaders{Subject: "x-user", ClientID: "-", Scopes: "", JKT: "X-KEY", X5T: "-"},
				ForwardAuthorization: true, ConnectTimeout: 2 * time.Second, Timeout: 15 * time.Second,
			},
			{PathPrefix: "/payments", Upstream: "http://127.0.0.1:7000"},
		},
	}
	got, err := f.GatewayConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := gateway.Config{
		Listen: "0.0.0.0:9090", AdminListen: "127.0.0.1:9091", BaseURL: "https://api.example.com",
		TLSCertFile: "gw.crt", TLSKeyFile: "gw.key",
		Issuer: "https://auth.example.com", IssuerCAFile: "as-ca.pem",
		Audiences:   []string{"https://api.example.com", "urn:api"},
		RequireDPoP: true, Leeway: 20 * time.Second,
		DPoPNonce: resource.NonceRequired, NonceSecret: []byte(strings.Repeat("g", 32)),
		Introspection: &gateway.Introspection{
			ClientID: "gw", PrivateKeyFile: "gw.pem", KeyID: "k1", SignedResponse: true, CacheTTL: 10 * time.Second,
		},
		CertHeader: "X-Client-Cert",
		TrustedProxies: []netip.Prefix{
			netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.0.2.7/32"),
			netip.MustParsePrefix("198.51.100.1/32"), netip.MustParsePrefix("2001:db8::/32"),
		},
		Metadata: gateway.Metadata{
			Resource: "https://api.example.com", ScopesSupported: []string{"accounts"},
			Documentation: "https://docs.example/api", Name: "Example API",
		},
		Routes: []gateway.Route{
			{
				Name: "accounts", PathPrefix: "/accounts", Methods: []string{"GET", "POST"},
				Upstream: "https://accounts.internal/v1", UpstreamCAFile: "ca.pem", StripPrefix: true,
				Resource: "https://api.example.com/accounts", Scopes: []string{"accounts"}, Audiences: []string{"urn:accounts"},
				AllowBearer: true, Policy: "accounts.rego", PolicyHeaders: []string{"X-Tenant"},
				Forward:              gateway.ForwardHeaders{Subject: "X-User", Scopes: "X-Bulwark-Scopes", JKT: "X-Key"},
				ForwardAuthorization: true, ConnectTimeout: 2 * time.Second, Timeout: 15 * time.Second,
			},
			{PathPrefix: "/payments", Upstream: "http://127.0.0.1:7000", Forward: gateway.DefaultForwardHeaders()},
		},
	}
	prefix := cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
	if diff := cmp.Diff(want, got, prefix); diff != "" {
		t.Errorf("GatewayConfig (-want +got):\n%s", diff)
	}

	// The result shares nothing with f.
	f.Gateway.Audiences[0] = "changed"
	f.Gateway.Routes[0].Methods[0] = "PUT"
	f.Gateway.Routes[0].PolicyHeaders[0] = "X-Changed"
	if got.Audiences[0] != "https://api.example.com" || got.Routes[0].Methods[0] != "GET" || got.Routes[0].PolicyHeaders[0] != "X-Tenant" {
		t.Errorf("GatewayConfig result aliases the File: %v %v %v", got.Audiences, got.Routes[0].Methods, got.Routes[0].PolicyHeaders)
	}
}

func TestGatewayConfigMapping(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *File)
		check  func(t *testing.T, c gateway.Config)
	}{
		{name: "defaults", mutate: func(f *File) {}, check: func(t *testing.T, c gateway.Config) {
			if c.Issuer != f0Issuer || c.RequireDPoP || c.DPoPNonce != resource.NonceOff || c.NonceSecret != nil ||
				c.Introspection != nil || c.TrustedProxies != nil || c.Leeway != 10*time.Second || c.Listen != "127.0.0.1:8090" {
				t.Errorf("defaults mapped to %+v", c)
			}
			if diff := cmp.Diff(gateway.DefaultForwardHeaders(), c.Routes[0].Forward); diff != "" {
				t.Errorf("forward headers (-want +got):\n%s", diff)
			}
		}},
		{name: "issuer-of-section", mutate: func(f *File) { f.Gateway.Issuer = "https://other-as.example" }, check: func(t *testing.T, c gateway.Config) {
			if c.Issuer != "https://other-as.example" {
				t.Errorf("Issuer = %q", c.Issuer)
			}
		}},
		{name: "nonce-optional", mutate: func(f *File) { f.Gateway.DPoP.Nonce = NonceOptional }, check: func(t *testing.T, c gateway.Config) {
			if c.DPoPNonce != resource.NonceOptional || c.NonceSecret != nil {
				t.Errorf("DPoPNonce = %v, NonceSecret = %q", c.DPoPNonce, c.NonceSecret)
			}
		}},
		{name: "sender-constraint-any", mutate: func(f *File) { f.Gateway.SenderConstraint = "any" }, check: func(t *testing.T, c gateway.Config) {
			if c.RequireDPoP {
				t.Error("RequireDPoP with sender_constraint any")
			}
		}},
		{name: "introspection-secret-zero-ttl", mutate: func(f *File) {
			f.Gateway.Introspection = GatewayIntrospection{ClientID: "gw", ClientSecret: "gateway-secret-0123"}
		}, check: func(t *testing.T, c gateway.Config) {
			want := &gateway.Introspection{ClientID: "gw", ClientSecret: "gateway-secret-0123"}
			if diff := cmp.Diff(want, c.Introspection); diff != "" {
				t.Errorf("Introspection (-want +got):\n%s", diff)
			}
		}},
		{name: "forward-all-off", mutate: func(f *File) {
			f.Gateway.Routes[0].ForwardHeaders = ForwardHeaders{Subject: "-", ClientID: "-", Scopes: "-", JKT: "-", X5T: "-"}
		}, check: func(t *testing.T, c gateway.Config) {
			if c.Routes[0].Forward != (gateway.ForwardHeaders{}) {
				t.Errorf("Forward = %+v, want none", c.Routes[0].Forward)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := validGatewayFile()
			tc.mutate(f)
			c, err := f.GatewayConfig()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// f0Issuer is validFile's top-level issuer, which the gateway inherits.
var f0Issuer = validFile().Issuer

func TestGatewayConfigRefuses(t *testing.T) {
	tests := []struct {
		name     string
		file     func() *File
		wantKeys []string
	}{
		{name: "no-gateway-section", file: validFile, wantKeys: []string{"gateway.base_url", "gateway.routes"}},
		{name: "invalid-section", file: func() *File {
			f := validGatewayFile()
			f.Gateway.Routes[0].Upstream = ""
			return f
		}, wantKeys: []string{"gateway.routes[0].upstream"}},
		{name: "invalid-elsewhere", file: func() *File {
			f := validGatewayFile()
			f.Storage.Driver = "mysql"
			return f
		}, wantKeys: []string{"storage.driver"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.file().GatewayConfig()
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("GatewayConfig = %+v, %v; want Problems", cfg, err)
			}
			if diff := cmp.Diff(tc.wantKeys, ps.Keys()); diff != "" {
				t.Errorf("problem keys (-want +got):\n%s", diff)
			}
		})
	}
}
