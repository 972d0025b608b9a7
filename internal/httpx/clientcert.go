package httpx

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"

	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// CertSource finds the client certificate of a request: the one presented
// on the TLS connection, or — behind a TLS-terminating proxy — the one the
// proxy forwards in Header. The header is believed only when the request
// comes straight from one of TrustedProxies; from anyone else it is
// ignored (and Strip removes it), so a caller cannot claim a certificate
// it does not hold. The zero value reads the TLS connection only. It is
// safe for concurrent use.
type CertSource struct {
	// Header names the request header a trusted proxy puts the client
	// certificate in (URL-escaped PEM, PEM, or base64 DER as in RFC 9440
	// Client-Cert); empty disables forwarding.
	Header string
	// TrustedProxies are the peer addresses allowed to set Header.
	TrustedProxies []netip.Prefix
}

// Certificate returns the client certificate of r and the intermediates
// that came with it, or nil when there is none. A forwarded certificate
// that does not parse is invalid_request: the trusted proxy sent it, so it
// is not silently dropped.
func (s *CertSource) Certificate(r *http.Request) (*x509.Certificate, []*x509.Certificate, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0], r.TLS.PeerCertificates[1:], nil
	}
	if s == nil || s.Header == "" || !s.trusted(r) {
		return nil, nil, nil
	}
	values := r.Header.Values(s.Header)
	switch len(values) {
	case 0:
		return nil, nil, nil
	case 1:
	default:
		return nil, nil, oauth.InvalidRequest("more than one forwarded client certificate")
	}
	if values[0] == "" {
		return nil, nil, nil
	}
	c, err := mtls.ParseForwarded(values[0])
	if err != nil {
		return nil, nil, oauth.InvalidRequest("the forwarded client certificate is malformed").WithCause(err)
	}
	return c, nil, nil
}

// trusted reports whether r's peer is a trusted proxy.
func (s *CertSource) trusted(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Strip removes Header from every request that does not come from a
// trusted proxy, so no handler or upstream can mistake a caller's copy for
// the proxy's.
func (s *CertSource) Strip(next http.Handler) http.Handler {
	if s == nil || s.Header == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every value goes, empty ones included: Get sees only the first.
		if !s.trusted(r) {
			r.Header.Del(s.Header)
		}
		next.ServeHTTP(w, r)
	})
}
