package mtls_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
)

var (
	ca    = testca.New("client CA")
	other = testca.New("other CA")
	leaf  = ca.Issue(testca.Options{
		Subject: pkix.Name{CommonName: "bank-app", Organization: []string{"Bank, Inc."}, Country: []string{"GB"}},
		DNS:     []string{"app.bank.example"},
		IPs:     []net.IP{net.ParseIP("192.0.2.7")},
		URIs:    []string{"spiffe://bank.example/app"},
		Emails:  []string{"ops@bank.example"},
	})
)

func TestSubjectMatches(t *testing.T) {
	tests := []struct {
		name string
		s    mtls.Subject
		want bool
	}{
		{"ok/dn", mtls.Subject{DN: `CN=bank-app,O=Bank\, Inc.,C=GB`}, true},
		{"ok/dn case and spaces", mtls.Subject{DN: `cn=BANK-APP, o=Bank\, Inc., c=gb`}, true},
		{"ok/dn long names", mtls.Subject{DN: `commonName=bank-app,organizationName=Bank\2C Inc.,countryName=GB`}, true},
		{"ok/san dns", mtls.Subject{DNS: "APP.bank.example"}, true},
		{"ok/san ip", mtls.Subject{IP: "192.0.2.7"}, true},
		{"ok/san uri", mtls.Subject{URI: "spiffe://bank.example/app"}, true},
		{"ok/san email", mtls.Subject{Email: "ops@bank.example"}, true},
		{"fail/dn other cn", mtls.Subject{DN: `CN=other,O=Bank\, Inc.,C=GB`}, false},
		{"fail/dn missing rdn", mtls.Subject{DN: `CN=bank-app,C=GB`}, false},
		{"fail/dn reordered", mtls.Subject{DN: `C=GB,O=Bank\, Inc.,CN=bank-app`}, false},
		{"fail/san dns", mtls.Subject{DNS: "evil.example"}, false},
		{"fail/san dns suffix", mtls.Subject{DNS: "bank.example"}, false},
		{"fail/san ip", mtls.Subject{IP: "192.0.2.8"}, false},
		{"fail/san uri", mtls.Subject{URI: "spiffe://bank.example/other"}, false},
		{"fail/san email", mtls.Subject{Email: "OPS@bank.example"}, false},
		{"fail/zero", mtls.Subject{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Matches(leaf.Cert); got != tc.want {
				t.Errorf("Matches = %v, want %v (cert subject %q)", got, tc.want, leaf.Cert.Subject.String())
			}
		})
	}
	if (mtls.Subject{DNS: "app.bank.example"}).Matches(nil) {
		t.Error("nil certificate matched")
	}
}

func TestSubjectValidate(t *testing.T) {
	tests := []struct {
		name string
		s    mtls.Subject
		ok   bool
	}{
		{"ok/dn", mtls.Subject{DN: "CN=a"}, true},
		{"ok/ip", mtls.Subject{IP: "::1"}, true},
		{"fail/none", mtls.Subject{}, false},
		{"fail/two", mtls.Subject{DN: "CN=a", DNS: "a.example"}, false},
		{"fail/bad dn", mtls.Subject{DN: "no equals sign"}, false},
		{"fail/bad ip", mtls.Subject{IP: "not-an-ip"}, false},
		{"fail/relative uri", mtls.Subject{URI: "path/only"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestVerifyChain(t *testing.T) {
	now := time.Now()
	expired := ca.Issue(testca.Options{Subject: pkix.Name{CommonName: "old"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	server := ca.Issue(testca.Options{Subject: pkix.Name{CommonName: "srv"}, Server: true})
	tests := []struct {
		name  string
		cert  *x509.Certificate
		roots *x509.CertPool
		want  error
	}{
		{"ok/issued by ca", leaf.Cert, ca.Pool(), nil},
		{"fail/other ca", leaf.Cert, other.Pool(), mtls.ErrChain},
		{"fail/self-signed", testca.SelfSigned(testca.Options{Subject: pkix.Name{CommonName: "bank-app"}}).Cert, ca.Pool(), mtls.ErrChain},
		{"fail/expired", expired.Cert, ca.Pool(), mtls.ErrChain},
		{"fail/server usage only", server.Cert, ca.Pool(), mtls.ErrChain},
		{"fail/no roots", leaf.Cert, nil, mtls.ErrChain},
		{"fail/no certificate", nil, ca.Pool(), mtls.ErrNoCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := mtls.VerifyChain(tc.cert, nil, tc.roots, now)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Errorf("VerifyChain = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMatchSelfSigned(t *testing.T) {
	now := time.Now()
	self := testca.SelfSigned(testca.Options{Subject: pkix.Name{CommonName: "agent"}})
	old := testca.SelfSigned(testca.Options{Subject: pkix.Name{CommonName: "agent"}, NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)})
	reg := []string{mtls.Thumbprint(self.Cert), mtls.Thumbprint(old.Cert)}
	tests := []struct {
		name string
		cert *x509.Certificate
		want error
	}{
		{"ok/registered", self.Cert, nil},
		{"fail/unregistered", leaf.Cert, mtls.ErrNotRegistered},
		{"fail/expired", old.Cert, mtls.ErrExpired},
		{"fail/none", nil, mtls.ErrNoCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := mtls.MatchSelfSigned(tc.cert, reg, now); !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Errorf("MatchSelfSigned = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestThumbprint(t *testing.T) {
	tp := mtls.Thumbprint(leaf.Cert)
	if len(tp) != 43 || strings.ContainsAny(tp, "+/=") {
		t.Fatalf("thumbprint %q is not unpadded base64url SHA-256", tp)
	}
	if !mtls.ThumbprintMatches(leaf.Cert, tp) || mtls.ThumbprintMatches(leaf.Cert, mtls.Thumbprint(ca.Cert)) || mtls.ThumbprintMatches(nil, tp) || mtls.ThumbprintMatches(leaf.Cert, "") {
		t.Error("ThumbprintMatches disagrees with Thumbprint")
	}
}

// forwardedCases are also the fuzz seeds.
func forwardedCases() []struct {
	name, value string
	ok          bool
} {
	pemText := string(leaf.CertPEM())
	der := base64.StdEncoding.EncodeToString(leaf.Cert.Raw)
	return []struct {
		name, value string
		ok          bool
	}{
		{"ok/escaped pem", url.PathEscape(pemText), true},
		{"ok/query-escaped pem", strings.ReplaceAll(url.QueryEscape(pemText), "+", "%20"), true},
		{"ok/pem", pemText, true},
		{"ok/base64 der", der, true},
		{"ok/rfc 9440", ":" + der + ":", true},
		{"fail/empty", "", false},
		{"fail/garbage", "not a certificate", false},
		{"fail/bad escape", "%zz", false},
		{"fail/pem key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", false},
		{"fail/truncated der", der[:40], false},
		{"fail/too large", strings.Repeat("A", mtls.MaxForwardedSize+1), false},
	}
}

func TestParseForwarded(t *testing.T) {
	for _, tc := range forwardedCases() {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mtls.ParseForwarded(tc.value)
			if tc.ok {
				if err != nil || !c.Equal(leaf.Cert) {
					t.Fatalf("ParseForwarded = %v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, mtls.ErrMalformed) {
				t.Fatalf("ParseForwarded error = %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzParseForwarded(f *testing.F) {
	for _, tc := range forwardedCases() {
		f.Add(tc.value)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := mtls.ParseForwarded(v)
		if (c == nil) == (err == nil) {
			t.Fatalf("exactly one of certificate and error must be set: %v, %v", c, err)
		}
	})
}

func FuzzSubjectDN(f *testing.F) {
	for _, s := range []string{`CN=bank-app,O=Bank\, Inc.,C=GB`, `cn=a+ou=b`, `CN=\41\42`, `=x`, `CN=`, `\`, `CN=a;O=b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dn string) {
		s := mtls.Subject{DN: dn}
		if s.Validate() != nil {
			if s.Matches(leaf.Cert) {
				t.Fatal("an invalid DN matched")
			}
			return
		}
		s.Matches(leaf.Cert)
	})
}
