package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
)

// These tests cover RFC 8705 (checklist §4.2, MTLS-1..9) over real TLS
// connections: client authentication with tls_client_auth and
// self_signed_tls_client_auth, certificate-bound access tokens at the
// token, introspection and userinfo endpoints, the dedicated mTLS listener
// of mtls_endpoint_aliases, and certificates forwarded by a TLS-terminating
// proxy.

// mtlsCertClient returns a client that trusts env.CA and presents leaf
// as its TLS client certificate (none when nil). Its connections are
// closed when the test ends.
func mtlsCertClient(t *testing.T, env *testenv.Env, leaf *testca.Leaf) *http.Client {
	t.Helper()
	c := env.Client(leaf)
	c.Timeout = 10 * time.Second
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// mtlsX5T is the RFC 8705 §3.1 certificate thumbprint:
// base64url(SHA-256(DER)).
func mtlsX5T(leaf *testca.Leaf) string {
	sum := sha256.Sum256(leaf.Cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// mtlsCnf is the cnf claim of a token bound to leaf, and nothing else.
func mtlsCnf(leaf *testca.Leaf) map[string]any {
	return map[string]any{"x5t#S256": mtlsX5T(leaf)}
}

// mtlsCnfOf returns the cnf claim of a JWT access token, nil when absent.
func mtlsCnfOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	cnf, _ := testenv.Claims(t, jwt)["cnf"].(map[string]any)
	return cnf
}

// mtlsForm is a form that names client by client_id only, as an mTLS
// client does (RFC 8705 §2), with the given key/value pairs.
func mtlsForm(client string, kv ...string) url.Values {
	f := url.Values{}
	if client != "" {
		f.Set("client_id", client)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// mtlsPush sends a PAR request for an mTLS client through c to the PAR
// endpoint parURL: client_id only, the client certificate (if c presents
// one) authenticates.
func mtlsPush(t *testing.T, env *testenv.Env, c *http.Client, parURL, client string, header http.Header) (*flow, *http.Response) {
	t.Helper()
	f := &flow{State: testenv.RandomString(12), Nonce: testenv.RandomString(12)}
	f.Verifier, f.Challenge = testenv.PKCE()
	form := mtlsForm(client,
		"response_type", "code", "redirect_uri", testenv.RedirectURI, "scope", "openid profile email",
		"state", f.State, "nonce", f.Nonce, "code_challenge", f.Challenge, "code_challenge_method", "S256")
	var body map[string]any
	resp := env.PostFormURL(t, c, parURL, form, header, &body)
	if ru, ok := body["request_uri"].(string); ok {
		f.RequestURI = ru
	}
	return f, resp
}

// mtlsAuthorize is authorize with a browser that trusts env.CA, so it works
// whether or not the server runs TLS.
func mtlsAuthorize(t *testing.T, env *testenv.Env, client string, f *flow) url.Values {
	t.Helper()
	browser := testenv.NewBrowser()
	browser.Transport = env.Transport(nil)
	t.Cleanup(browser.CloseIdleConnections)
	resp := login(t, env, browser, authorizeURL(env, client, f.RequestURI), testenv.UserName, testenv.UserPassword)
	if resp.StatusCode == http.StatusSeeOther {
		return callback(t, resp)
	}
	return callback(t, consent(t, env, browser, resp, "approve"))
}

// mtlsCodeForm is the authorization_code redemption form of f for client,
// client_id only.
func mtlsCodeForm(client, code string, f *flow) url.Values {
	return mtlsForm(client, "grant_type", "authorization_code", "code", code,
		"redirect_uri", testenv.RedirectURI, "code_verifier", f.Verifier)
}

// mtlsToken posts form to the token endpoint tokenURL through c and
// decodes the response.
func mtlsToken(t *testing.T, env *testenv.Env, c *http.Client, tokenURL string, form url.Values, header http.Header) (*http.Response, tokenBody) {
	t.Helper()
	var tb tokenBody
	resp := env.PostFormURL(t, c, tokenURL, form, header, &tb)
	return resp, tb
}

// mtlsWantOK fails the test unless resp is a 200 token response.
func mtlsWantOK(t *testing.T, resp *http.Response, tb tokenBody) bool {
	t.Helper()
	if resp.StatusCode != http.StatusOK || tb.AccessToken == "" {
		t.Errorf("token: status %d, error %q, want 200 with an access token", resp.StatusCode, tb.Error)
		return false
	}
	return true
}

// mtlsWantError checks that resp carries one of the OAuth error codes in
// want, with the status given for it, and that a 401 carries a
// WWW-Authenticate challenge (RFC 6749 §5.2, RFC 6750 §3).
func mtlsWantError(t *testing.T, resp *http.Response, want map[string]int) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	var eb errorBody
	json.Unmarshal(b, &eb)
	status, ok := want[eb.Error]
	if !ok {
		t.Errorf("error = %q (status %d), want one of %v", eb.Error, resp.StatusCode, want)
		return
	}
	if resp.StatusCode != status {
		t.Errorf("%s: status = %d, want %d", eb.Error, resp.StatusCode, status)
	}
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("%s: 401 without WWW-Authenticate", eb.Error)
	}
}

// mtlsInvalidClient is the answer to every failed client authentication
// (RFC 6749 §5.2, RFC 8705 §2).
var mtlsInvalidClient = map[string]int{oauth.ErrInvalidClient: http.StatusUnauthorized}

// mtlsIntrospect introspects tok at introspectURL as client (client_id
// only) through c.
func mtlsIntrospect(t *testing.T, env *testenv.Env, c *http.Client, introspectURL, client, tok string) map[string]any {
	t.Helper()
	var out map[string]any
	resp := env.PostFormURL(t, c, introspectURL, mtlsForm(client, "token", tok), nil, &out)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect: %d %v", resp.StatusCode, out)
	}
	return out
}

// mtlsGet sends GET u through c with Authorization "scheme tok" and any
// extra headers, and returns the response with its body buffered.
func mtlsGet(t *testing.T, c *http.Client, u, scheme, tok string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", scheme+" "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp, b
}

// mtlsWantChallenge checks a protected resource's 401: the OAuth error
// code in both the body and the WWW-Authenticate challenge of scheme
// (RFC 6750 §3, RFC 9449 §7.1).
func mtlsWantChallenge(t *testing.T, resp *http.Response, scheme, code string) {
	t.Helper()
	mtlsWantError(t, resp, map[string]int{code: http.StatusUnauthorized})
	ch := resp.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, scheme+" ") || !strings.Contains(ch, `error="`+code+`"`) {
		t.Errorf("WWW-Authenticate = %q, want a %s challenge with error=%q", ch, scheme, code)
	}
}

// mtlsSAN describes a certificate carrying MTLSClient's registered SAN.
func mtlsSAN() testca.Options {
	return testca.Options{Subject: pkix.Name{CommonName: testenv.MTLSClient}, DNS: []string{testenv.MTLSClientDNS}}
}

// mtlsIntermediate returns an intermediate CA below root.
func mtlsIntermediate(t *testing.T, root *testca.CA, name string) *testca.CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.Cert, key.Public(), root.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testca.CA{Cert: cert, Key: key}
}

// mtlsChainClient is mtlsCertClient for a leaf sent with intermediates.
func mtlsChainClient(t *testing.T, env *testenv.Env, leaf *testca.Leaf, intermediates ...*x509.Certificate) *http.Client {
	t.Helper()
	tr := env.Transport(nil)
	cert := leaf.TLS()
	for _, c := range intermediates {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// TestMTLSClientAuthentication: RFC 8705 §2 (MTLS-1..3, MTLS-5) with the
// client_credentials grant: the right certificate authenticates and binds
// the token; anything else is invalid_client.
func TestMTLSClientAuthentication(t *testing.T) {
	env := testenv.Start(t, testenv.Options{TLS: true})
	mtlsCert := env.ClientCerts[testenv.MTLSClient]
	selfCert := env.ClientCerts[testenv.SelfSignedClient]

	withSAN := func(mutate func(*testca.Options)) testca.Options {
		o := mtlsSAN()
		mutate(&o)
		return o
	}
	past := time.Now().Add(-48 * time.Hour)
	expired := env.CA.Issue(withSAN(func(o *testca.Options) { o.NotBefore, o.NotAfter = past, past.Add(24*time.Hour) }))
	future := time.Now().Add(time.Hour)
	notYetValid := env.CA.Issue(withSAN(func(o *testca.Options) { o.NotBefore, o.NotAfter = future, future.Add(time.Hour) }))
	serverOnly := env.CA.Issue(withSAN(func(o *testca.Options) { o.Server = true }))
	wrongSAN := env.CA.Issue(withSAN(func(o *testca.Options) { o.DNS = []string{"other-client.example"} }))
	cnOnly := env.CA.Issue(testca.Options{Subject: pkix.Name{CommonName: testenv.MTLSClientDNS}})
	reissued := env.CA.Issue(mtlsSAN())
	upperSAN := env.CA.Issue(withSAN(func(o *testca.Options) { o.DNS = []string{strings.ToUpper(testenv.MTLSClientDNS)} }))
	otherCA := testca.New("Other CA").Issue(mtlsSAN())
	selfSignedSAN := testca.SelfSigned(mtlsSAN())
	unregistered := testca.SelfSigned(testca.Options{Subject: pkix.Name{CommonName: testenv.SelfSignedClient}})
	caIssuedSelf := env.CA.Issue(testca.Options{Subject: pkix.Name{CommonName: testenv.SelfSignedClient}})
	inter := mtlsIntermediate(t, env.CA, "Bulwark test intermediate")
	viaInter := inter.Issue(mtlsSAN())
	foreignInter := mtlsIntermediate(t, testca.New("Other root"), "Other intermediate")
	viaForeignInter := foreignInter.Issue(mtlsSAN())
	// An assertion signed by another client's key, claiming to be the
	// mTLS client: a second method, and not the registered one.
	foreignAssertion := env.Assertion(t, testenv.FAPIClient, func(c map[string]any) {
		c["iss"], c["sub"] = testenv.MTLSClient, testenv.MTLSClient
	})
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(testenv.MTLSClient+":some-secret"))}}

	tests := []struct {
		name   string
		client string // client_id; empty leaves it out
		cert   *testca.Leaf
		// chain are intermediates sent after cert.
		chain  []*x509.Certificate
		extra  []string // more form parameters
		header http.Header
		want   map[string]int // OAuth error code → status; nil for success
	}{
		{name: "ok/tls_client_auth", client: testenv.MTLSClient, cert: mtlsCert},
		// tls_client_auth trusts the CA and the SAN, not one pinned
		// certificate (RFC 8705 §2.1), so a renewed certificate works.
		{name: "ok/tls_client_auth_reissued_cert", client: testenv.MTLSClient, cert: reissued},
		// DNS names compare case-insensitively (RFC 4343).
		{name: "ok/tls_client_auth_san_dns_case", client: testenv.MTLSClient, cert: upperSAN},
		{name: "ok/self_signed_tls_client_auth", client: testenv.SelfSignedClient, cert: selfCert},
		// The chain is built from the intermediates the client sends; the
		// token is bound to the leaf alone.
		{name: "ok/tls_client_auth_via_intermediate", client: testenv.MTLSClient, cert: viaInter, chain: []*x509.Certificate{inter.Cert}},

		// MTLS-1: no certificate, or a mismatching one → invalid_client.
		{name: "fail/tls_client_auth_no_cert", client: testenv.MTLSClient, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_no_client_id", cert: mtlsCert, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_other_ca", client: testenv.MTLSClient, cert: otherCA, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_self_signed_with_san", client: testenv.MTLSClient, cert: selfSignedSAN, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_wrong_san", client: testenv.MTLSClient, cert: wrongSAN, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_dns_in_cn_only", client: testenv.MTLSClient, cert: cnOnly, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_expired", client: testenv.MTLSClient, cert: expired, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_not_yet_valid", client: testenv.MTLSClient, cert: notYetValid, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_intermediate_not_sent", client: testenv.MTLSClient, cert: viaInter, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_foreign_intermediate", client: testenv.MTLSClient, cert: viaForeignInter, chain: []*x509.Certificate{foreignInter.Cert}, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_server_eku", client: testenv.MTLSClient, cert: serverOnly, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_registered_self_signed_cert", client: testenv.MTLSClient, cert: selfCert, want: mtlsInvalidClient},
		// RFC 6749 §2.3: one method per request; a secret is also not the
		// registered method.
		{name: "fail/tls_client_auth_plus_client_secret", client: testenv.MTLSClient, cert: mtlsCert, extra: []string{"client_secret", "some-secret"},
			want: map[string]int{oauth.ErrInvalidClient: http.StatusUnauthorized, oauth.ErrInvalidRequest: http.StatusBadRequest}},
		{name: "fail/tls_client_auth_plus_basic", client: testenv.MTLSClient, cert: mtlsCert, header: basic,
			want: map[string]int{oauth.ErrInvalidClient: http.StatusUnauthorized, oauth.ErrInvalidRequest: http.StatusBadRequest}},
		{name: "fail/tls_client_auth_plus_assertion", client: testenv.MTLSClient, cert: mtlsCert,
			extra: []string{"client_assertion_type", oauth.ClientAssertionTypeJWT, "client_assertion", foreignAssertion},
			want:  map[string]int{oauth.ErrInvalidClient: http.StatusUnauthorized, oauth.ErrInvalidRequest: http.StatusBadRequest}},
		{name: "fail/unknown_client", client: "no-such-client", cert: mtlsCert, want: mtlsInvalidClient},

		// MTLS-3: only a registered certificate authenticates.
		{name: "fail/self_signed_no_cert", client: testenv.SelfSignedClient, want: mtlsInvalidClient},
		{name: "fail/self_signed_unregistered", client: testenv.SelfSignedClient, cert: unregistered, want: mtlsInvalidClient},
		{name: "fail/self_signed_ca_issued", client: testenv.SelfSignedClient, cert: caIssuedSelf, want: mtlsInvalidClient},
		{name: "fail/self_signed_other_clients_cert", client: testenv.SelfSignedClient, cert: mtlsCert, want: mtlsInvalidClient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mtlsCertClient(t, env, tc.cert)
			if tc.chain != nil {
				c = mtlsChainClient(t, env, tc.cert, tc.chain...)
			}
			form := mtlsForm(tc.client, append([]string{"grant_type", "client_credentials", "scope", "accounts"}, tc.extra...)...)
			resp, tb := mtlsToken(t, env, c, env.URL+"/token", form, tc.header)
			if tc.want != nil {
				mtlsWantError(t, resp, tc.want)
				return
			}
			if !mtlsWantOK(t, resp, tb) {
				return
			}
			// RFC 8705 §3: certificate-bound tokens keep the Bearer type.
			if tb.TokenType != oauth.TokenTypeBearer {
				t.Errorf("token_type = %q, want Bearer", tb.TokenType)
			}
			if diff := cmp.Diff(mtlsCnf(tc.cert), mtlsCnfOf(t, tb.AccessToken)); diff != "" {
				t.Errorf("access token cnf (-want +got):\n%s", diff)
			}
			got := mtlsIntrospect(t, env, c, env.URL+"/introspect", tc.client, tb.AccessToken)
			want := map[string]any{"active": true, "client_id": tc.client, "token_type": oauth.TokenTypeBearer, "cnf": mtlsCnf(tc.cert)}
			if diff := cmp.Diff(want, mtlsPick(got, "active", "client_id", "token_type", "cnf")); diff != "" {
				t.Errorf("introspection (-want +got):\n%s", diff)
			}
		})
	}
}

// mtlsPick returns the members of m named by keys that are present.
func mtlsPick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// TestMTLSCodeFlow runs PAR → authorize → token → userinfo → refresh →
// revocation for the tls_client_auth client, authenticated by its
// certificate alone, and checks that every access token is bound to the
// certificate of the request that got it (RFC 8705 §3, MTLS-RS-1).
func TestMTLSCodeFlow(t *testing.T) {
	env := testenv.Start(t, testenv.Options{TLS: true})
	cert := env.ClientCerts[testenv.MTLSClient]
	c := mtlsCertClient(t, env, cert)
	noCert := mtlsCertClient(t, env, nil)
	other := mtlsCertClient(t, env, env.ClientCerts[testenv.SelfSignedClient])
	reissued := env.CA.Issue(mtlsSAN())
	renewed := mtlsCertClient(t, env, reissued)

	// AS-AZ-4: PAR without client authentication.
	_, resp := mtlsPush(t, env, noCert, env.URL+"/par", testenv.MTLSClient, nil)
	mtlsWantError(t, resp, mtlsInvalidClient)

	f, resp := mtlsPush(t, env, c, env.URL+"/par", testenv.MTLSClient, nil)
	if resp.StatusCode != http.StatusCreated || f.RequestURI == "" {
		t.Fatalf("PAR: %d", resp.StatusCode)
	}
	cb := mtlsAuthorize(t, env, testenv.MTLSClient, f)
	if cb.Get("iss") != env.URL || cb.Get("state") != f.State || cb.Get("code") == "" {
		t.Fatalf("callback = %v", cb)
	}
	code := cb.Get("code")

	// Client authentication runs before the code is looked at, so failed
	// attempts leave it redeemable.
	for _, tc := range []struct {
		name string
		c    *http.Client
	}{
		{"fail/redeem_without_cert", noCert},
		{"fail/redeem_with_other_clients_cert", other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := mtlsToken(t, env, tc.c, env.URL+"/token", mtlsCodeForm(testenv.MTLSClient, code, f), nil)
			mtlsWantError(t, resp, mtlsInvalidClient)
		})
	}
	resp, tb := mtlsToken(t, env, c, env.URL+"/token", mtlsCodeForm(testenv.MTLSClient, code, f), nil)
	if !mtlsWantOK(t, resp, tb) {
		t.FailNow()
	}
	if tb.TokenType != oauth.TokenTypeBearer || tb.RefreshToken == "" || tb.IDToken == "" {
		t.Errorf("token response: token_type %q, refresh token %t, id token %t", tb.TokenType, tb.RefreshToken != "", tb.IDToken != "")
	}
	if diff := cmp.Diff(mtlsCnf(cert), mtlsCnfOf(t, tb.AccessToken)); diff != "" {
		t.Errorf("access token cnf (-want +got):\n%s", diff)
	}
	if id := testenv.Claims(t, tb.IDToken); id["aud"] != testenv.MTLSClient || id["nonce"] != f.Nonce {
		t.Errorf("id token aud %v nonce %v", id["aud"], id["nonce"])
	}
	sub := testenv.Claims(t, tb.AccessToken)["sub"]

	// MTLS-RS-1: the token works only over a connection presenting the
	// certificate it is bound to.
	userinfo := env.URL + "/userinfo"
	for _, tc := range []struct {
		name   string
		c      *http.Client
		scheme string
		// wantScheme is the challenge scheme of a failure, "" for 200.
		wantScheme string
	}{
		{"ok/bearer_same_cert", c, "Bearer", ""},
		{"ok/bearer_scheme_case", c, "bearer", ""},
		{"fail/bearer_no_cert", noCert, "Bearer", "Bearer"},
		{"fail/bearer_other_clients_cert", other, "Bearer", "Bearer"},
		// Same client, same SAN, but not the certificate the token is
		// bound to.
		{"fail/bearer_reissued_cert", renewed, "Bearer", "Bearer"},
		// RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens.
		{"fail/dpop_scheme_same_cert", c, "DPoP", "DPoP"},
	} {
		t.Run("userinfo/"+tc.name, func(t *testing.T) {
			resp, body := mtlsGet(t, tc.c, userinfo, tc.scheme, tb.AccessToken, nil)
			if tc.wantScheme != "" {
				mtlsWantChallenge(t, resp, tc.wantScheme, oauth.ErrInvalidToken)
				return
			}
			var got map[string]any
			json.Unmarshal(body, &got)
			if resp.StatusCode != http.StatusOK || got["sub"] != sub || got["email"] != testenv.UserEmail {
				t.Errorf("userinfo: %d %s", resp.StatusCode, body)
			}
		})
	}

	// Refresh tokens of a confidential client are bound to its
	// authentication; each new access token is bound to the certificate
	// of the refresh request.
	refresh := func(c *http.Client) (*http.Response, tokenBody) {
		return mtlsToken(t, env, c, env.URL+"/token", mtlsForm(testenv.MTLSClient, "grant_type", "refresh_token", "refresh_token", tb.RefreshToken), nil)
	}
	t.Run("refresh/fail/no_cert", func(t *testing.T) {
		resp, _ := refresh(noCert)
		mtlsWantError(t, resp, mtlsInvalidClient)
	})
	t.Run("refresh/fail/other_clients_cert", func(t *testing.T) {
		resp, _ := refresh(other)
		mtlsWantError(t, resp, mtlsInvalidClient)
	})
	for _, tc := range []struct {
		name string
		c    *http.Client
		cert *testca.Leaf
	}{
		{"ok/same_cert", c, cert},
		{"ok/renewed_cert", renewed, reissued},
	} {
		t.Run("refresh/"+tc.name, func(t *testing.T) {
			resp, rb := refresh(tc.c)
			if !mtlsWantOK(t, resp, rb) {
				return
			}
			if rb.TokenType != oauth.TokenTypeBearer || rb.AccessToken == tb.AccessToken {
				t.Errorf("token_type %q, new access token %t", rb.TokenType, rb.AccessToken != tb.AccessToken)
			}
			if diff := cmp.Diff(mtlsCnf(tc.cert), mtlsCnfOf(t, rb.AccessToken)); diff != "" {
				t.Errorf("refreshed access token cnf (-want +got):\n%s", diff)
			}
			if r, b := mtlsGet(t, tc.c, userinfo, "Bearer", rb.AccessToken, nil); r.StatusCode != http.StatusOK {
				t.Errorf("userinfo with the refreshed token: %d %s", r.StatusCode, b)
			}
			r, _ := mtlsGet(t, noCert, userinfo, "Bearer", rb.AccessToken, nil)
			mtlsWantChallenge(t, r, "Bearer", oauth.ErrInvalidToken)
		})
	}

	got := mtlsIntrospect(t, env, c, env.URL+"/introspect", testenv.MTLSClient, tb.AccessToken)
	if diff := cmp.Diff(map[string]any{"active": true, "sub": sub, "cnf": mtlsCnf(cert)}, mtlsPick(got, "active", "sub", "cnf")); diff != "" {
		t.Errorf("introspection (-want +got):\n%s", diff)
	}
	// Revocation authenticates with the certificate too.
	revoke := mtlsForm(testenv.MTLSClient, "token", tb.RefreshToken, "token_type_hint", "refresh_token")
	mtlsWantError(t, env.PostFormURL(t, noCert, env.URL+"/revoke", revoke, nil, nil), mtlsInvalidClient)
	if r := env.PostFormURL(t, c, env.URL+"/revoke", revoke, nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	for _, tok := range []string{tb.AccessToken, tb.RefreshToken} {
		if got := mtlsIntrospect(t, env, c, env.URL+"/introspect", testenv.MTLSClient, tok); got["active"] != false {
			t.Errorf("after revocation: introspection = %v", got)
		}
	}
}

// TestMTLSPrivateKeyJWTClientCert: a fapi2 private_key_jwt client that
// presents a client certificate and no DPoP proof gets a certificate-bound
// token (FAPI 2.0 SP §5.3.2.1-4 allows either constraint); with neither it
// gets an error, never a Bearer token.
func TestMTLSPrivateKeyJWTClientCert(t *testing.T) {
	env := testenv.Start(t, testenv.Options{TLS: true})
	// Binding needs no chain: any certificate the client holds will do
	// (RFC 8705 §3).
	cert := testca.SelfSigned(testca.Options{Subject: pkix.Name{CommonName: testenv.FAPIClient}})
	withCert := mtlsCertClient(t, env, cert)
	noCert := mtlsCertClient(t, env, nil)
	dpopKey := env.DPoPKey(t, testenv.FAPIClient)

	tests := []struct {
		name    string
		c       *http.Client
		dpop    bool
		wantCnf map[string]any
		// wantType is the token_type of a success.
		wantType string
		want     map[string]int
	}{
		{name: "ok/cert_without_dpop", c: withCert, wantCnf: mtlsCnf(cert), wantType: oauth.TokenTypeBearer},
		// A DPoP proof wins over the certificate: the token is bound to
		// one key only.
		{name: "ok/cert_and_dpop", c: withCert, dpop: true, wantCnf: map[string]any{"jkt": dpopKey.Public().Thumbprint()}, wantType: oauth.TokenTypeDPoP},
		{name: "ok/dpop_without_cert", c: noCert, dpop: true, wantCnf: map[string]any{"jkt": dpopKey.Public().Thumbprint()}, wantType: oauth.TokenTypeDPoP},
		{name: "fail/no_cert_no_dpop", c: noCert, want: map[string]int{oauth.ErrInvalidRequest: http.StatusBadRequest}},
	}
	for _, tc := range tests {
		t.Run("client_credentials/"+tc.name, func(t *testing.T) {
			form := env.AssertionForm(t, testenv.FAPIClient)
			form.Set("grant_type", "client_credentials")
			var h http.Header
			if tc.dpop {
				h = env.DPoPHeader(t, testenv.FAPIClient, "/token")
			}
			resp, tb := mtlsToken(t, env, tc.c, env.URL+"/token", form, h)
			if tc.want != nil {
				mtlsWantError(t, resp, tc.want)
				if tb.AccessToken != "" {
					t.Errorf("an access token was issued with the error")
				}
				return
			}
			if !mtlsWantOK(t, resp, tb) {
				return
			}
			if tb.TokenType != tc.wantType {
				t.Errorf("token_type = %q, want %q", tb.TokenType, tc.wantType)
			}
			if diff := cmp.Diff(tc.wantCnf, mtlsCnfOf(t, tb.AccessToken)); diff != "" {
				t.Errorf("access token cnf (-want +got):\n%s", diff)
			}
		})
	}

	// The same for the authorization code grant: refused without a
	// constraint (the code survives: the sender constraint is checked
	// before the grant), then bound to the certificate.
	f, resp, body := push(t, env, testenv.FAPIClient, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PAR: %d %v", resp.StatusCode, body)
	}
	cb := mtlsAuthorize(t, env, testenv.FAPIClient, f)
	redeemForm := func() url.Values {
		form := env.AssertionForm(t, testenv.FAPIClient)
		for k, v := range mtlsCodeForm(testenv.FAPIClient, cb.Get("code"), f) {
			form[k] = v
		}
		return form
	}
	t.Run("authorization_code/fail/no_cert_no_dpop", func(t *testing.T) {
		resp, _ := mtlsToken(t, env, noCert, env.URL+"/token", redeemForm(), nil)
		mtlsWantError(t, resp, map[string]int{oauth.ErrInvalidRequest: http.StatusBadRequest})
	})
	t.Run("authorization_code/ok/cert_without_dpop", func(t *testing.T) {
		resp, tb := mtlsToken(t, env, withCert, env.URL+"/token", redeemForm(), nil)
		if !mtlsWantOK(t, resp, tb) {
			return
		}
		if tb.TokenType != oauth.TokenTypeBearer {
			t.Errorf("token_type = %q, want Bearer", tb.TokenType)
		}
		if diff := cmp.Diff(mtlsCnf(cert), mtlsCnfOf(t, tb.AccessToken)); diff != "" {
			t.Errorf("access token cnf (-want +got):\n%s", diff)
		}
		if r, b := mtlsGet(t, withCert, env.URL+"/userinfo", "Bearer", tb.AccessToken, nil); r.StatusCode != http.StatusOK {
			t.Errorf("userinfo: %d %s", r.StatusCode, b)
		}
		r, _ := mtlsGet(t, noCert, env.URL+"/userinfo", "Bearer", tb.AccessToken, nil)
		mtlsWantChallenge(t, r, "Bearer", oauth.ErrInvalidToken)
	})
}

// TestMTLSEndpointAliases: the dedicated mutual-TLS listener (RFC 8705 §5,
// MTLS-7): advertised in the metadata, requiring a client certificate at
// the handshake, and serving the client endpoints under its own URLs,
// which DPoP proofs must name.
func TestMTLSEndpointAliases(t *testing.T) {
	env := testenv.Start(t, testenv.Options{MTLS: true})
	if env.MTLSURL == "" || env.MTLSURL == env.URL {
		t.Fatalf("MTLSURL = %q, issuer %q", env.MTLSURL, env.URL)
	}
	cert := env.ClientCerts[testenv.MTLSClient]
	c := mtlsCertClient(t, env, cert)
	aliasToken := env.MTLSURL + "/token"

	var md struct {
		TokenEndpoint string            `json:"token_endpoint"`
		PAREndpoint   string            `json:"pushed_authorization_request_endpoint"`
		Aliases       map[string]string `json:"mtls_endpoint_aliases"`
	}
	resp := get(t, env.HTTP, env.URL+"/.well-known/openid-configuration")
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	wantAliases := map[string]string{
		"token_endpoint":                        env.MTLSURL + "/token",
		"pushed_authorization_request_endpoint": env.MTLSURL + "/par",
		"userinfo_endpoint":                     env.MTLSURL + "/userinfo",
		"introspection_endpoint":                env.MTLSURL + "/introspect",
		"revocation_endpoint":                   env.MTLSURL + "/revoke",
	}
	if diff := cmp.Diff(wantAliases, md.Aliases); diff != "" {
		t.Errorf("mtls_endpoint_aliases (-want +got):\n%s", diff)
	}
	// MTLS-9: the main endpoints stay where they were.
	if md.TokenEndpoint != env.URL+"/token" || md.PAREndpoint != env.URL+"/par" {
		t.Errorf("token_endpoint %q, pushed_authorization_request_endpoint %q: want them below the issuer", md.TokenEndpoint, md.PAREndpoint)
	}

	// The listener requires a certificate: without one the handshake
	// fails and no endpoint is reached.
	for _, name := range []string{"token_endpoint", "pushed_authorization_request_endpoint", "userinfo_endpoint", "introspection_endpoint", "revocation_endpoint"} {
		u := wantAliases[name]
		t.Run("fail/no_cert_handshake/"+name, func(t *testing.T) {
			method := http.MethodPost
			if name == "userinfo_endpoint" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, u, strings.NewReader("client_id="+testenv.MTLSClient))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := mtlsCertClient(t, env, nil).Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("%s %s without a client certificate: got status %d, want a handshake failure", method, u, resp.StatusCode)
			}
			// The server refused the handshake with an alert; the
			// connection itself was made.
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "remote error" {
				t.Errorf("%s %s without a client certificate: %v, want a TLS alert from the server", method, u, err)
			}
		})
	}

	// Client authentication and binding at the alias.
	selfCert := env.ClientCerts[testenv.SelfSignedClient]
	pkjCert := testca.SelfSigned(testca.Options{Subject: pkix.Name{CommonName: testenv.FAPIClient}})
	tests := []struct {
		name   string
		client string
		cert   *testca.Leaf
		form   func() url.Values
		want   map[string]int
	}{
		{name: "ok/tls_client_auth", cert: cert, form: func() url.Values { return mtlsForm(testenv.MTLSClient) }},
		{name: "ok/self_signed_tls_client_auth", cert: selfCert, form: func() url.Values { return mtlsForm(testenv.SelfSignedClient) }},
		// The assertion audience is still the issuer (FAPI 2.0 SP
		// §5.3.2.1-8), wherever it is sent.
		{name: "ok/private_key_jwt_with_cert", cert: pkjCert, form: func() url.Values { return env.AssertionForm(t, testenv.FAPIClient) }},
		{name: "fail/tls_client_auth_with_other_clients_cert", cert: selfCert, form: func() url.Values { return mtlsForm(testenv.MTLSClient) }, want: mtlsInvalidClient},
		{name: "fail/tls_client_auth_other_ca", cert: testca.New("Other CA").Issue(mtlsSAN()), form: func() url.Values { return mtlsForm(testenv.MTLSClient) }, want: mtlsInvalidClient},
	}
	for _, tc := range tests {
		t.Run("token/"+tc.name, func(t *testing.T) {
			form := tc.form()
			form.Set("grant_type", "client_credentials")
			resp, tb := mtlsToken(t, env, mtlsCertClient(t, env, tc.cert), aliasToken, form, nil)
			if tc.want != nil {
				mtlsWantError(t, resp, tc.want)
				return
			}
			if !mtlsWantOK(t, resp, tb) {
				return
			}
			if diff := cmp.Diff(mtlsCnf(tc.cert), mtlsCnfOf(t, tb.AccessToken)); diff != "" || tb.TokenType != oauth.TokenTypeBearer {
				t.Errorf("token_type %q, cnf (-want +got):\n%s", tb.TokenType, diff)
			}
		})
	}

	// DPoP at the alias: htu is the URL the request is sent to (RFC 9449
	// §4.3 check 9), so the alias and the main endpoint each accept only
	// proofs naming themselves.
	key := env.DPoPKey(t, testenv.MTLSClient)
	proof := func(u string) http.Header {
		p, err := dpop.NewProof(key, dpop.ProofParams{Method: http.MethodPost, URL: u})
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{dpop.HeaderName: {p}}
	}
	for _, tc := range []struct {
		name     string
		endpoint string // where the request goes
		htu      string // what the proof names
		want     map[string]int
	}{
		{name: "ok/alias_proof_names_alias", endpoint: aliasToken, htu: aliasToken},
		{name: "ok/main_proof_names_main", endpoint: env.URL + "/token", htu: env.URL + "/token"},
		{name: "fail/alias_proof_names_main", endpoint: aliasToken, htu: env.URL + "/token", want: map[string]int{oauth.ErrInvalidDPoPProof: http.StatusBadRequest}},
		{name: "fail/main_proof_names_alias", endpoint: env.URL + "/token", htu: aliasToken, want: map[string]int{oauth.ErrInvalidDPoPProof: http.StatusBadRequest}},
	} {
		t.Run("dpop/"+tc.name, func(t *testing.T) {
			form := mtlsForm(testenv.MTLSClient, "grant_type", "client_credentials")
			resp, tb := mtlsToken(t, env, c, tc.endpoint, form, proof(tc.htu))
			if tc.want != nil {
				mtlsWantError(t, resp, tc.want)
				return
			}
			if !mtlsWantOK(t, resp, tb) {
				return
			}
			if diff := cmp.Diff(map[string]any{"jkt": key.Public().Thumbprint()}, mtlsCnfOf(t, tb.AccessToken)); diff != "" || tb.TokenType != oauth.TokenTypeDPoP {
				t.Errorf("token_type %q, cnf (-want +got):\n%s", tb.TokenType, diff)
			}
		})
	}

	// PAR at the alias checks proofs against the alias PAR URL.
	aliasPAR := wantAliases["pushed_authorization_request_endpoint"]
	for _, tc := range []struct {
		name string
		htu  string
		want map[string]int
	}{
		{name: "ok/alias_par_proof_names_alias", htu: aliasPAR},
		{name: "fail/alias_par_proof_names_main", htu: env.URL + "/par", want: map[string]int{oauth.ErrInvalidDPoPProof: http.StatusBadRequest}},
	} {
		t.Run("dpop/"+tc.name, func(t *testing.T) {
			_, resp := mtlsPush(t, env, c, aliasPAR, testenv.MTLSClient, proof(tc.htu))
			if tc.want != nil {
				mtlsWantError(t, resp, tc.want)
				return
			}
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("PAR at the alias: %d, want 201", resp.StatusCode)
			}
		})
	}

	// A DPoP code flow through the aliases: userinfo at the alias takes
	// proofs naming the alias userinfo URL.
	t.Run("ok/code_flow_dpop", func(t *testing.T) {
		f, resp := mtlsPush(t, env, c, aliasPAR, testenv.MTLSClient, proof(aliasPAR))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PAR at the alias: %d", resp.StatusCode)
		}
		cb := mtlsAuthorize(t, env, testenv.MTLSClient, f)
		resp, tb := mtlsToken(t, env, c, aliasToken, mtlsCodeForm(testenv.MTLSClient, cb.Get("code"), f), proof(aliasToken))
		if !mtlsWantOK(t, resp, tb) {
			t.FailNow()
		}
		if diff := cmp.Diff(map[string]any{"jkt": key.Public().Thumbprint()}, mtlsCnfOf(t, tb.AccessToken)); diff != "" || tb.TokenType != oauth.TokenTypeDPoP {
			t.Errorf("token_type %q, cnf (-want +got):\n%s", tb.TokenType, diff)
		}
		userinfoProof := func(u string) http.Header {
			p, err := dpop.NewProof(key, dpop.ProofParams{Method: http.MethodGet, URL: u, AccessToken: tb.AccessToken})
			if err != nil {
				t.Fatal(err)
			}
			return http.Header{dpop.HeaderName: {p}}
		}
		aliasUserinfo, mainUserinfo := wantAliases["userinfo_endpoint"], env.URL+"/userinfo"
		if r, b := mtlsGet(t, c, aliasUserinfo, "DPoP", tb.AccessToken, userinfoProof(aliasUserinfo)); r.StatusCode != http.StatusOK {
			t.Errorf("userinfo at the alias: %d %s", r.StatusCode, b)
		}
		if r, b := mtlsGet(t, c, mainUserinfo, "DPoP", tb.AccessToken, userinfoProof(mainUserinfo)); r.StatusCode != http.StatusOK {
			t.Errorf("userinfo at the main endpoint: %d %s", r.StatusCode, b)
		}
		r, _ := mtlsGet(t, c, aliasUserinfo, "DPoP", tb.AccessToken, userinfoProof(mainUserinfo))
		mtlsWantChallenge(t, r, "DPoP", oauth.ErrInvalidDPoPProof)
		r, _ = mtlsGet(t, c, mainUserinfo, "DPoP", tb.AccessToken, userinfoProof(aliasUserinfo))
		mtlsWantChallenge(t, r, "DPoP", oauth.ErrInvalidDPoPProof)
	})

	// A whole code flow through the aliases: PAR, token, userinfo,
	// introspection and revocation on the mTLS listener, the browser on
	// the main one.
	t.Run("ok/code_flow", func(t *testing.T) {
		f, resp := mtlsPush(t, env, c, aliasPAR, testenv.MTLSClient, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PAR at the alias: %d", resp.StatusCode)
		}
		cb := mtlsAuthorize(t, env, testenv.MTLSClient, f)
		resp, tb := mtlsToken(t, env, c, aliasToken, mtlsCodeForm(testenv.MTLSClient, cb.Get("code"), f), nil)
		if !mtlsWantOK(t, resp, tb) {
			t.FailNow()
		}
		if diff := cmp.Diff(mtlsCnf(cert), mtlsCnfOf(t, tb.AccessToken)); diff != "" {
			t.Errorf("access token cnf (-want +got):\n%s", diff)
		}
		if r, b := mtlsGet(t, c, wantAliases["userinfo_endpoint"], "Bearer", tb.AccessToken, nil); r.StatusCode != http.StatusOK {
			t.Errorf("userinfo at the alias: %d %s", r.StatusCode, b)
		}
		// The alias presents a certificate on every connection; the
		// binding still has to match.
		r, _ := mtlsGet(t, mtlsCertClient(t, env, selfCert), wantAliases["userinfo_endpoint"], "Bearer", tb.AccessToken, nil)
		mtlsWantChallenge(t, r, "Bearer", oauth.ErrInvalidToken)
		if got := mtlsIntrospect(t, env, c, wantAliases["introspection_endpoint"], testenv.MTLSClient, tb.AccessToken); got["active"] != true {
			t.Errorf("introspection at the alias = %v", got)
		}
		revoke := mtlsForm(testenv.MTLSClient, "token", tb.RefreshToken, "token_type_hint", "refresh_token")
		if r := env.PostFormURL(t, c, wantAliases["revocation_endpoint"], revoke, nil, nil); r.StatusCode != http.StatusOK {
			t.Fatalf("revoke at the alias: %d", r.StatusCode)
		}
		if got := mtlsIntrospect(t, env, c, wantAliases["introspection_endpoint"], testenv.MTLSClient, tb.AccessToken); got["active"] != false {
			t.Errorf("after revocation: introspection = %v", got)
		}
	})
}

// TestMTLSProxyHeader: behind a TLS-terminating proxy the client
// certificate arrives in CertHeader, believed only from TrustedProxies
// (MTLS-8, RFC 9440 §3).
func TestMTLSProxyHeader(t *testing.T) {
	const certHeader = "X-Client-Cert"
	start := func(opts testenv.Options, trusted ...string) *testenv.Env {
		opts.Config = func(c *authserver.Config) {
			c.CertHeader = certHeader
			for _, p := range trusted {
				c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix(p))
			}
		}
		return testenv.Start(t, opts)
	}
	// The tests reach the server from 127.0.0.1.
	trusted := start(testenv.Options{}, "127.0.0.1/32")
	untrusted := start(testenv.Options{}, "192.0.2.1/32")
	unconfigured := testenv.Start(t, testenv.Options{TLS: true})
	trustedTLS := start(testenv.Options{TLS: true}, "127.0.0.1/32")

	// escaped is the nginx $ssl_client_escaped_cert form; rfc9440 the
	// Client-Cert structured-field byte sequence.
	escaped := func(l *testca.Leaf) string { return url.PathEscape(string(l.CertPEM())) }
	rfc9440 := func(l *testca.Leaf) string { return ":" + base64.StdEncoding.EncodeToString(l.Cert.Raw) + ":" }
	otherCA := testca.New("Other CA").Issue(mtlsSAN())
	malformed := map[string]int{oauth.ErrInvalidRequest: http.StatusBadRequest}

	tests := []struct {
		name   string
		env    *testenv.Env
		client string
		// tlsCert is presented on the connection (TLS envs only).
		tlsCert *testca.Leaf
		// header are the forwarded values; leaf picks the env's client
		// certificate of that name when set.
		header func(env *testenv.Env) []string
		// bound is the certificate the token must be bound to.
		bound func(env *testenv.Env) *testca.Leaf
		want  map[string]int
	}{
		{name: "ok/trusted_escaped_pem", env: trusted, client: testenv.MTLSClient,
			header: func(e *testenv.Env) []string { return []string{escaped(e.ClientCerts[testenv.MTLSClient])} },
			bound:  func(e *testenv.Env) *testca.Leaf { return e.ClientCerts[testenv.MTLSClient] }},
		{name: "ok/trusted_rfc9440", env: trusted, client: testenv.MTLSClient,
			header: func(e *testenv.Env) []string { return []string{rfc9440(e.ClientCerts[testenv.MTLSClient])} },
			bound:  func(e *testenv.Env) *testca.Leaf { return e.ClientCerts[testenv.MTLSClient] }},
		{name: "ok/trusted_self_signed_client", env: trusted, client: testenv.SelfSignedClient,
			header: func(e *testenv.Env) []string { return []string{escaped(e.ClientCerts[testenv.SelfSignedClient])} },
			bound:  func(e *testenv.Env) *testca.Leaf { return e.ClientCerts[testenv.SelfSignedClient] }},
		{name: "fail/trusted_no_header", env: trusted, client: testenv.MTLSClient, want: mtlsInvalidClient},
		{name: "fail/trusted_other_ca", env: trusted, client: testenv.MTLSClient,
			header: func(*testenv.Env) []string { return []string{escaped(otherCA)} }, want: mtlsInvalidClient},
		// A trusted proxy's garbage is an error, not silently no
		// certificate.
		{name: "fail/trusted_malformed", env: trusted, client: testenv.MTLSClient,
			header: func(*testenv.Env) []string { return []string{"not-a-certificate"} }, want: malformed},
		{name: "fail/trusted_truncated_pem", env: trusted, client: testenv.MTLSClient,
			header: func(e *testenv.Env) []string {
				return []string{escaped(e.ClientCerts[testenv.MTLSClient])[:200]}
			}, want: malformed},
		{name: "fail/trusted_two_headers", env: trusted, client: testenv.MTLSClient,
			header: func(e *testenv.Env) []string {
				return []string{escaped(e.ClientCerts[testenv.MTLSClient]), escaped(e.ClientCerts[testenv.MTLSClient])}
			}, want: malformed},
		// From anyone else the header is ignored: a caller cannot claim a
		// certificate it does not hold.
		{name: "fail/untrusted_escaped_pem", env: untrusted, client: testenv.MTLSClient,
			header: func(e *testenv.Env) []string { return []string{escaped(e.ClientCerts[testenv.MTLSClient])} }, want: mtlsInvalidClient},
		{name: "fail/untrusted_malformed_ignored", env: untrusted, client: testenv.MTLSClient,
			header: func(*testenv.Env) []string { return []string{"not-a-certificate"} }, want: mtlsInvalidClient},
		{name: "fail/header_not_configured", env: unconfigured, client: testenv.MTLSClient,
			header: func(e *testenv.Env) []string { return []string{escaped(e.ClientCerts[testenv.MTLSClient])} }, want: mtlsInvalidClient},
		// The certificate of the TLS connection wins over a forwarded one.
		{name: "fail/tls_cert_wins_over_header", env: trustedTLS, client: testenv.MTLSClient,
			tlsCert: trustedTLS.ClientCerts[testenv.SelfSignedClient],
			header:  func(e *testenv.Env) []string { return []string{escaped(e.ClientCerts[testenv.MTLSClient])} }, want: mtlsInvalidClient},
		{name: "ok/tls_cert_wins_over_malformed_header", env: trustedTLS, client: testenv.MTLSClient,
			tlsCert: trustedTLS.ClientCerts[testenv.MTLSClient],
			header:  func(*testenv.Env) []string { return []string{"not-a-certificate"} },
			bound:   func(e *testenv.Env) *testca.Leaf { return e.ClientCerts[testenv.MTLSClient] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != nil {
				h[certHeader] = tc.header(tc.env)
			}
			c := mtlsCertClient(t, tc.env, tc.tlsCert)
			resp, tb := mtlsToken(t, tc.env, c, tc.env.URL+"/token", mtlsForm(tc.client, "grant_type", "client_credentials"), h)
			if tc.want != nil {
				mtlsWantError(t, resp, tc.want)
				return
			}
			if !mtlsWantOK(t, resp, tb) {
				return
			}
			if diff := cmp.Diff(mtlsCnf(tc.bound(tc.env)), mtlsCnfOf(t, tb.AccessToken)); diff != "" || tb.TokenType != oauth.TokenTypeBearer {
				t.Errorf("token_type %q, cnf (-want +got):\n%s", tb.TokenType, diff)
			}
		})
	}

	// A code flow through the trusted proxy: the userinfo binding check
	// reads the forwarded certificate as well.
	t.Run("ok/code_flow_trusted", func(t *testing.T) {
		env := trusted
		cert := env.ClientCerts[testenv.MTLSClient]
		fwd := http.Header{certHeader: {escaped(cert)}}
		c := mtlsCertClient(t, env, nil)
		f := &flow{State: testenv.RandomString(12)}
		f.Verifier, f.Challenge = testenv.PKCE()
		form := mtlsForm(testenv.MTLSClient, "response_type", "code", "redirect_uri", testenv.RedirectURI, "scope", "openid email",
			"state", f.State, "code_challenge", f.Challenge, "code_challenge_method", "S256")
		var par map[string]any
		if r := env.PostForm(t, c, "/par", form, fwd, &par); r.StatusCode != http.StatusCreated {
			t.Fatalf("PAR: %d %v", r.StatusCode, par)
		}
		f.RequestURI, _ = par["request_uri"].(string)
		cb := mtlsAuthorize(t, env, testenv.MTLSClient, f)
		resp, tb := mtlsToken(t, env, c, env.URL+"/token", mtlsCodeForm(testenv.MTLSClient, cb.Get("code"), f), fwd)
		if !mtlsWantOK(t, resp, tb) {
			t.FailNow()
		}
		if diff := cmp.Diff(mtlsCnf(cert), mtlsCnfOf(t, tb.AccessToken)); diff != "" {
			t.Errorf("access token cnf (-want +got):\n%s", diff)
		}
		if r, b := mtlsGet(t, c, env.URL+"/userinfo", "Bearer", tb.AccessToken, fwd); r.StatusCode != http.StatusOK {
			t.Errorf("userinfo with the forwarded certificate: %d %s", r.StatusCode, b)
		}
		r, _ := mtlsGet(t, c, env.URL+"/userinfo", "Bearer", tb.AccessToken, nil)
		mtlsWantChallenge(t, r, "Bearer", oauth.ErrInvalidToken)
		other := http.Header{certHeader: {escaped(env.ClientCerts[testenv.SelfSignedClient])}}
		r, _ = mtlsGet(t, c, env.URL+"/userinfo", "Bearer", tb.AccessToken, other)
		mtlsWantChallenge(t, r, "Bearer", oauth.ErrInvalidToken)
	})
}

// TestMTLSDiscovery: MTLS-4, MTLS-6 and MTLS-7 in the metadata. The mTLS
// methods and certificate-bound tokens are advertised wherever client
// certificates can reach the server (TLS, the mTLS listener, a trusted
// proxy's header), and only there; the aliases only with the listener.
func TestMTLSDiscovery(t *testing.T) {
	proxy := func(c *authserver.Config) {
		c.CertHeader = "X-Client-Cert"
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	for _, tc := range []struct {
		name        string
		opts        testenv.Options
		wantMTLS    bool
		wantAliases bool
	}{
		{"ok/tls", testenv.Options{TLS: true}, true, false},
		{"ok/mtls_listener", testenv.Options{MTLS: true}, true, true},
		{"ok/plain_http_cert_header", testenv.Options{Config: proxy}, true, false},
		{"ok/plain_http_no_certificates", testenv.Options{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testenv.Start(t, tc.opts)
			for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
				var md struct {
					Bound             bool            `json:"tls_client_certificate_bound_access_tokens"`
					TokenMethods      []string        `json:"token_endpoint_auth_methods_supported"`
					IntrospectMethods []string        `json:"introspection_endpoint_auth_methods_supported"`
					RevokeMethods     []string        `json:"revocation_endpoint_auth_methods_supported"`
					Aliases           json.RawMessage `json:"mtls_endpoint_aliases"`
				}
				resp := get(t, env.HTTP, env.URL+path)
				err := json.NewDecoder(resp.Body).Decode(&md)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
				}
				// The RFC 8705 view of the document, compared as a whole.
				type view struct {
					Bound                            bool
					TokenMethods, Introspect, Revoke []string
					Aliases                          bool
				}
				var mtlsMethods []string
				if tc.wantMTLS {
					mtlsMethods = []string{oauth.AuthTLSClientAuth, oauth.AuthSelfSignedTLSClientAuth}
				}
				onlyMTLS := func(methods []string) []string {
					var out []string
					for _, m := range methods {
						if m == oauth.AuthTLSClientAuth || m == oauth.AuthSelfSignedTLSClientAuth {
							out = append(out, m)
						}
					}
					return out
				}
				want := view{tc.wantMTLS, mtlsMethods, mtlsMethods, mtlsMethods, tc.wantAliases}
				got := view{md.Bound, onlyMTLS(md.TokenMethods), onlyMTLS(md.IntrospectMethods), onlyMTLS(md.RevokeMethods), len(md.Aliases) > 0}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: mTLS metadata (-want +got):\n%s", path, diff)
				}
			}
		})
	}
}
