package httpx_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
)

const certHeader = "X-Client-Cert"

// certSourceFixture holds the certificates and sources the CertSource
// tests share.
type certSourceFixture struct {
	ca           *testca.CA
	leaf, other  *testca.Leaf
	src          *httpx.CertSource
	escaped      string // nginx $ssl_client_escaped_cert form of leaf
	rfc9440      string // RFC 9440 Client-Cert form of leaf
	otherEscaped string
}

func newCertSourceFixture() certSourceFixture {
	ca := testca.New("CertSource test CA")
	leaf := ca.Issue(testca.Options{Subject: pkix.Name{CommonName: "client"}, DNS: []string{"client.example"}})
	other := ca.Issue(testca.Options{Subject: pkix.Name{CommonName: "other"}, DNS: []string{"other.example"}})
	return certSourceFixture{
		ca: ca, leaf: leaf, other: other,
		src: &httpx.CertSource{Header: certHeader, TrustedProxies: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"),
		}},
		escaped:      url.PathEscape(string(leaf.CertPEM())),
		rfc9440:      ":" + base64.StdEncoding.EncodeToString(leaf.Cert.Raw) + ":",
		otherEscaped: url.PathEscape(string(other.CertPEM())),
	}
}

// peerTLS is the connection state of a TLS client that presented chain.
func peerTLS(chain ...*x509.Certificate) *tls.ConnectionState {
	return &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: chain}
}

// certRequest is a request from remote with tlsState (nil for plain HTTP)
// and the given values of certHeader.
func certRequest(remote string, tlsState *tls.ConnectionState, values []string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "https://as.example/token", nil)
	r.RemoteAddr = remote
	r.TLS = tlsState
	for _, v := range values {
		r.Header.Add(certHeader, v)
	}
	return r
}

// raw is the DER of each certificate, for comparison.
func raw(certs ...*x509.Certificate) [][]byte {
	var out [][]byte
	for _, c := range certs {
		if c != nil {
			out = append(out, c.Raw)
		}
	}
	return out
}

func TestCertSourceCertificate(t *testing.T) {
	fx := newCertSourceFixture()
	const (
		trusted   = "10.1.2.3:4711"
		trusted6  = "[2001:db8::1]:443"
		mapped    = "[::ffff:10.0.0.1]:443"
		untrusted = "192.0.2.1:4711"
	)
	keyPEM := url.PathEscape(string(fx.leaf.KeyPEM()))
	tests := []struct {
		name   string
		src    *httpx.CertSource
		remote string
		tls    *tls.ConnectionState
		header []string
		want   *x509.Certificate
		// wantChain are the intermediates returned with want.
		wantChain []*x509.Certificate
		// code is the OAuth error code of a failure.
		code string
	}{
		{name: "ok/zero_value_reads_tls", src: &httpx.CertSource{}, remote: untrusted, tls: peerTLS(fx.leaf.Cert), want: fx.leaf.Cert},
		{name: "ok/nil_source_reads_tls", remote: untrusted, tls: peerTLS(fx.leaf.Cert), want: fx.leaf.Cert},
		{name: "ok/nil_source_no_tls", remote: trusted, header: []string{fx.escaped}},
		{name: "ok/tls_chain", src: fx.src, remote: untrusted, tls: peerTLS(fx.leaf.Cert, fx.ca.Cert), want: fx.leaf.Cert, wantChain: []*x509.Certificate{fx.ca.Cert}},
		{name: "ok/tls_without_peer_cert", src: fx.src, remote: untrusted, tls: peerTLS()},
		{name: "ok/zero_value_ignores_header", src: &httpx.CertSource{TrustedProxies: fx.src.TrustedProxies}, remote: trusted, header: []string{fx.escaped}},

		// The connection's certificate takes precedence: the header is
		// not even parsed.
		{name: "ok/tls_wins_over_trusted_header", src: fx.src, remote: trusted, tls: peerTLS(fx.leaf.Cert), header: []string{fx.otherEscaped}, want: fx.leaf.Cert},
		{name: "ok/tls_wins_over_malformed_header", src: fx.src, remote: trusted, tls: peerTLS(fx.leaf.Cert), header: []string{"garbage"}, want: fx.leaf.Cert},
		{name: "ok/tls_wins_over_two_headers", src: fx.src, remote: trusted, tls: peerTLS(fx.leaf.Cert), header: []string{fx.otherEscaped, fx.otherEscaped}, want: fx.leaf.Cert},
		// A TLS connection without a client certificate (a proxy's own
		// connection) falls through to the header.
		{name: "ok/trusted_tls_without_peer_cert_uses_header", src: fx.src, remote: trusted, tls: peerTLS(), header: []string{fx.escaped}, want: fx.leaf.Cert},

		{name: "ok/trusted_escaped_pem", src: fx.src, remote: trusted, header: []string{fx.escaped}, want: fx.leaf.Cert},
		{name: "ok/trusted_rfc9440", src: fx.src, remote: trusted, header: []string{fx.rfc9440}, want: fx.leaf.Cert},
		{name: "ok/trusted_base64_der", src: fx.src, remote: trusted, header: []string{base64.StdEncoding.EncodeToString(fx.leaf.Cert.Raw)}, want: fx.leaf.Cert},
		{name: "ok/trusted_base64url_der", src: fx.src, remote: trusted, header: []string{base64.RawURLEncoding.EncodeToString(fx.leaf.Cert.Raw)}, want: fx.leaf.Cert},
		{name: "ok/trusted_ipv6", src: fx.src, remote: trusted6, header: []string{fx.escaped}, want: fx.leaf.Cert},
		{name: "ok/trusted_ipv4_mapped_ipv6", src: fx.src, remote: mapped, header: []string{fx.escaped}, want: fx.leaf.Cert},
		{name: "ok/header_name_case_insensitive", src: &httpx.CertSource{Header: strings.ToLower(certHeader), TrustedProxies: fx.src.TrustedProxies}, remote: trusted, header: []string{fx.escaped}, want: fx.leaf.Cert},
		{name: "ok/trusted_no_header", src: fx.src, remote: trusted},
		{name: "ok/trusted_empty_header", src: fx.src, remote: trusted, header: []string{""}},

		// An untrusted peer's header is ignored, however malformed.
		{name: "ok/untrusted_header_ignored", src: fx.src, remote: untrusted, header: []string{fx.escaped}},
		{name: "ok/untrusted_malformed_ignored", src: fx.src, remote: untrusted, header: []string{"garbage"}},
		{name: "ok/untrusted_two_headers_ignored", src: fx.src, remote: untrusted, header: []string{fx.escaped, fx.otherEscaped}},
		{name: "ok/untrusted_ipv6_ignored", src: fx.src, remote: "[2001:db9::1]:443", header: []string{fx.escaped}},
		{name: "ok/remote_without_port_untrusted", src: fx.src, remote: "10.1.2.3", header: []string{fx.escaped}},
		{name: "ok/remote_not_an_ip_untrusted", src: fx.src, remote: "proxy.internal:443", header: []string{fx.escaped}},
		{name: "ok/no_trusted_proxies", src: &httpx.CertSource{Header: certHeader}, remote: trusted, header: []string{fx.escaped}},

		// A trusted proxy's header must be well-formed.
		{name: "fail/trusted_two_headers", src: fx.src, remote: trusted, header: []string{fx.escaped, fx.otherEscaped}, code: oauth.ErrInvalidRequest},
		{name: "fail/trusted_same_header_twice", src: fx.src, remote: trusted, header: []string{fx.escaped, fx.escaped}, code: oauth.ErrInvalidRequest},
		{name: "fail/trusted_two_headers_first_empty", src: fx.src, remote: trusted, header: []string{"", fx.escaped}, code: oauth.ErrInvalidRequest},
		{name: "fail/trusted_malformed", src: fx.src, remote: trusted, header: []string{"garbage"}, code: oauth.ErrInvalidRequest},
		{name: "fail/trusted_bad_escape", src: fx.src, remote: trusted, header: []string{"%zz"}, code: oauth.ErrInvalidRequest},
		{name: "fail/trusted_truncated_pem", src: fx.src, remote: trusted, header: []string{fx.escaped[:len(fx.escaped)/2]}, code: oauth.ErrInvalidRequest},
		{name: "fail/trusted_key_pem", src: fx.src, remote: trusted, header: []string{keyPEM}, code: oauth.ErrInvalidRequest},
		{name: "fail/trusted_oversize", src: fx.src, remote: trusted, header: []string{strings.Repeat("A", mtls.MaxForwardedSize+1)}, code: oauth.ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, chain, err := tc.src.Certificate(certRequest(tc.remote, tc.tls, tc.header))
			if tc.code != "" {
				oe, ok := oauth.As(err)
				if !ok || oe.Code != tc.code {
					t.Fatalf("err = %v, want OAuth error %s", err, tc.code)
				}
				if got != nil || chain != nil {
					t.Errorf("a certificate came with the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want none", err)
			}
			if diff := cmp.Diff(raw(tc.want), raw(got)); diff != "" {
				t.Errorf("certificate differs (-want +got DER):\n%s", diff)
			}
			if diff := cmp.Diff(raw(tc.wantChain...), raw(chain...)); diff != "" {
				t.Errorf("intermediates differ (-want +got DER):\n%s", diff)
			}
		})
	}
}

func TestCertSourceStrip(t *testing.T) {
	fx := newCertSourceFixture()
	tests := []struct {
		name   string
		src    *httpx.CertSource
		remote string
		header []string
		// want are the values of the header the next handler sees.
		want []string
	}{
		{name: "ok/trusted_keeps", src: fx.src, remote: "10.0.0.1:1", header: []string{fx.escaped}, want: []string{fx.escaped}},
		{name: "ok/trusted_keeps_every_value", src: fx.src, remote: "10.0.0.1:1", header: []string{fx.escaped, fx.otherEscaped}, want: []string{fx.escaped, fx.otherEscaped}},
		{name: "ok/trusted_ipv4_mapped_keeps", src: fx.src, remote: "[::ffff:10.0.0.1]:1", header: []string{fx.escaped}, want: []string{fx.escaped}},
		{name: "ok/untrusted_removes", src: fx.src, remote: "192.0.2.1:1", header: []string{fx.escaped}},
		{name: "ok/untrusted_removes_every_value", src: fx.src, remote: "192.0.2.1:1", header: []string{fx.escaped, fx.otherEscaped}},
		// A caller's copy is removed even when its first value is empty,
		// so nothing downstream can read the second.
		{name: "ok/untrusted_removes_after_empty_value", src: fx.src, remote: "192.0.2.1:1", header: []string{"", fx.escaped}},
		{name: "ok/untrusted_removes_empty_value", src: fx.src, remote: "192.0.2.1:1", header: []string{""}},
		{name: "ok/remote_without_port_removes", src: fx.src, remote: "10.0.0.1", header: []string{fx.escaped}},
		{name: "ok/untrusted_without_header", src: fx.src, remote: "192.0.2.1:1"},
		// With forwarding off nothing reads the header, and Strip is the
		// next handler itself.
		{name: "ok/disabled_passes_through", src: &httpx.CertSource{}, remote: "192.0.2.1:1", header: []string{fx.escaped}, want: []string{fx.escaped}},
		{name: "ok/nil_source_passes_through", remote: "192.0.2.1:1", header: []string{fx.escaped}, want: []string{fx.escaped}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen *http.Request
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r })
			r := certRequest(tc.remote, nil, tc.header)
			r.Header.Set("X-Other", "kept")
			tc.src.Strip(next).ServeHTTP(httptest.NewRecorder(), r)
			if seen == nil {
				t.Fatal("next handler not called")
			}
			if diff := cmp.Diff(tc.want, seen.Header.Values(certHeader)); diff != "" {
				t.Errorf("%s seen by the next handler (-want +got):\n%s", certHeader, diff)
			}
			if seen.Header.Get("X-Other") != "kept" {
				t.Errorf("Strip removed another header")
			}
		})
	}
}

// TestCertSourceStripThenCertificate: behind Strip, an untrusted caller's
// header never turns into a certificate, and a trusted proxy's does.
func TestCertSourceStripThenCertificate(t *testing.T) {
	fx := newCertSourceFixture()
	for _, tc := range []struct {
		name   string
		remote string
		want   *x509.Certificate
	}{
		{"ok/trusted", "10.0.0.1:1", fx.leaf.Cert},
		{"ok/untrusted", "192.0.2.1:1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *x509.Certificate
			var err error
			h := fx.src.Strip(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _, err = fx.src.Certificate(r)
			}))
			h.ServeHTTP(httptest.NewRecorder(), certRequest(tc.remote, nil, []string{fx.escaped}))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rawOne(tc.want), rawOne(got)) {
				t.Errorf("certificate = %v, want %v", got != nil, tc.want != nil)
			}
		})
	}
}

func rawOne(c *x509.Certificate) []byte {
	if c == nil {
		return nil
	}
	return c.Raw
}
