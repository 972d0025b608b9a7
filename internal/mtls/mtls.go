package mtls

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Errors returned by the checks. Callers map them to invalid_client or
// invalid_token.
var (
	ErrNoCertificate = errors.New("mtls: no client certificate")
	ErrChain         = errors.New("mtls: certificate does not chain to a trusted client CA")
	ErrSubject       = errors.New("mtls: certificate subject does not match the registration")
	ErrNotRegistered = errors.New("mtls: certificate is not one of the client's registered certificates")
	ErrExpired       = errors.New("mtls: certificate expired or not yet valid")
	ErrMalformed     = errors.New("mtls: malformed certificate")
)

// MaxForwardedSize bounds a certificate forwarded in a header; real client
// certificates are a few KiB.
const MaxForwardedSize = 16 << 10

// Thumbprint returns the x5t#S256 value of cert: the base64url-encoded
// SHA-256 digest of its DER encoding (RFC 8705 §3.1).
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ThumbprintMatches compares cert's thumbprint with want in constant time.
func ThumbprintMatches(cert *x509.Certificate, want string) bool {
	if cert == nil || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Thumbprint(cert)), []byte(want)) == 1
}

// Subject is the tls_client_auth registration of RFC 8705 §2.1.2: exactly
// one of its fields is set, naming the certificate subject DN or one
// subject alternative name the client's certificate must carry.
type Subject struct {
	DN    string `json:"tls_client_auth_subject_dn,omitempty"`
	DNS   string `json:"tls_client_auth_san_dns,omitempty"`
	URI   string `json:"tls_client_auth_san_uri,omitempty"`
	IP    string `json:"tls_client_auth_san_ip,omitempty"`
	Email string `json:"tls_client_auth_san_email,omitempty"`
}

// Validate reports a registration problem: RFC 8705 §2.1.2 says "A client
// using the tls_client_auth authentication method MUST use exactly one of
// the below metadata parameters".
func (s Subject) Validate() error {
	n := 0
	for _, v := range []string{s.DN, s.DNS, s.URI, s.IP, s.Email} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("mtls: exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email must be set")
	}
	if s.DN != "" {
		if _, err := parseDN(s.DN); err != nil {
			return err
		}
	}
	if s.IP != "" && net.ParseIP(s.IP) == nil {
		return fmt.Errorf("mtls: tls_client_auth_san_ip %q is not an IP address", s.IP)
	}
	if s.URI != "" {
		if u, err := url.Parse(s.URI); err != nil || !u.IsAbs() {
			return fmt.Errorf("mtls: tls_client_auth_san_uri %q is not an absolute URI", s.URI)
		}
	}
	return nil
}

// Matches reports whether cert satisfies the registration. A zero Subject
// matches nothing.
func (s Subject) Matches(cert *x509.Certificate) bool {
	switch {
	case cert == nil:
		return false
	case s.DN != "":
		want, err := parseDN(s.DN)
		if err != nil {
			return false
		}
		got, err := parseDN(cert.Subject.String())
		return err == nil && equalDN(want, got)
	case s.DNS != "":
		for _, n := range cert.DNSNames {
			if strings.EqualFold(n, s.DNS) {
				return true
			}
		}
	case s.URI != "":
		for _, u := range cert.URIs {
			if u.String() == s.URI {
				return true
			}
		}
	case s.IP != "":
		want := net.ParseIP(s.IP)
		for _, ip := range cert.IPAddresses {
			if want != nil && ip.Equal(want) {
				return true
			}
		}
	case s.Email != "":
		for _, e := range cert.EmailAddresses {
			if e == s.Email {
				return true
			}
		}
	}
	return false
}

// VerifyChain checks that cert, with the intermediates the client sent,
// chains to one of roots and is valid for client authentication at now
// (RFC 8705 §2.1: the PKI method "relies on a validated certificate chain").
// A nil roots pool trusts nothing.
func VerifyChain(cert *x509.Certificate, intermediates []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	if cert == nil {
		return ErrNoCertificate
	}
	if roots == nil {
		return fmt.Errorf("%w: no client CA configured", ErrChain)
	}
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrChain, err)
	}
	return nil
}

// MatchSelfSigned checks the self_signed_tls_client_auth method (RFC 8705
// §2.2): cert must be currently valid and equal, by SHA-256 thumbprint, to
// the first x5c certificate of one of the client's registered keys, given
// as registered thumbprints. No chain is built: the registration is the
// trust anchor.
func MatchSelfSigned(cert *x509.Certificate, registered []string, now time.Time) error {
	if cert == nil {
		return ErrNoCertificate
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return ErrExpired
	}
	for _, r := range registered {
		if ThumbprintMatches(cert, r) {
			return nil
		}
	}
	return ErrNotRegistered
}

// ParseForwarded parses a client certificate forwarded by a TLS-terminating
// proxy. It accepts the forms proxies emit: URL-escaped PEM (nginx
// $ssl_client_escaped_cert, Envoy), plain PEM, and base64 DER, optionally
// between colons as in the RFC 9440 Client-Cert header.
func ParseForwarded(value string) (*x509.Certificate, error) {
	if len(value) > MaxForwardedSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(value))
	}
	v := strings.TrimSpace(value)
	if strings.Contains(v, "%") {
		// URL-escaped PEM. PathUnescape, not QueryUnescape: a literal '+'
		// of the base64 body must not turn into a space.
		u, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		v = u
	}
	if strings.HasPrefix(v, "-----BEGIN") {
		block, _ := pem.Decode([]byte(v))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: no PEM certificate", ErrMalformed)
		}
		return parse(block.Bytes)
	}
	v = strings.TrimSuffix(strings.TrimPrefix(v, ":"), ":")
	der, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		if der, err = base64.RawURLEncoding.DecodeString(v); err != nil {
			return nil, fmt.Errorf("%w: not PEM or base64 DER", ErrMalformed)
		}
	}
	return parse(der)
}

func parse(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, nil
}
