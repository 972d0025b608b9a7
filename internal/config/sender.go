package config

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// minNonceSecretLen keeps the nonce HMAC key at 256 bits or more of
// characters; a shorter key could be guessed and nonces forged.
const minNonceSecretLen = 32

func (v *validator) dpop() {
	d := v.f.DPoP
	if d.MaxAge < time.Second || d.MaxAge > 300*time.Second {
		v.add("dpop.max_age", "must be between 1s and 300s")
	}
	// FAPI 2.0 SP §5.3.2.1-13 again: accept up to 10 s in the future,
	// reject beyond 60 s
	// (https://openid.net/specs/fapi-security-profile-2_0-final.html#section-5.3.2.1).
	if d.MaxFuture < 10*time.Second || d.MaxFuture > 60*time.Second {
		v.add("dpop.max_future", "must be between 10s and 60s")
	}
	if d.NonceLifetime < 10*time.Second || d.NonceLifetime > time.Hour {
		v.add("dpop.nonce_lifetime", "must be between 10s and 1h")
	}
	if d.NonceSecret != "" && len(d.NonceSecret) < minNonceSecretLen {
		v.add("dpop.nonce_secret", "must be at least %d characters", minNonceSecretLen)
	}
}

func (v *validator) mtls() {
	m := v.f.MTLS
	if m.Listen != "" {
		if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			v.add("mtls.listen", "must be host:port, such as :8443")
		}
		if !v.f.tlsConfigured() {
			v.add("mtls.listen", "needs tls.cert_file and tls.key_file")
		}
		if m.BaseURL == "" {
			v.add("mtls.base_url", "required with mtls.listen: clients find the listener through mtls_endpoint_aliases")
		}
	}
	if m.BaseURL != "" {
		u, err := url.Parse(m.BaseURL)
		switch {
		case err != nil || u.Scheme != "https" || u.Host == "":
			v.add("mtls.base_url", "must be an https URL")
		case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(m.BaseURL, "/"):
			v.add("mtls.base_url", "must not have a query, a fragment or a trailing '/'")
		}
		if m.Listen == "" {
			v.add("mtls.listen", "required with mtls.base_url")
		}
	}
	if m.ProxyHeader != "" {
		if http.CanonicalHeaderKey(m.ProxyHeader) == "" || strings.ContainsAny(m.ProxyHeader, " :\r\n") {
			v.add("mtls.proxy_header", "must be a header name such as X-Client-Cert")
		}
		if len(m.TrustedProxies) == 0 {
			v.add("mtls.trusted_proxies", "required with mtls.proxy_header: the header is believed only from these addresses")
		}
	}
	if _, bad := parsePrefixes(m.TrustedProxies); bad >= 0 {
		v.add("mtls.trusted_proxies", "%q is not an IP address or CIDR range", m.TrustedProxies[bad])
	}
}

// parsePrefixes parses IP addresses and CIDR ranges; bad is the index of
// the first that does not parse, or -1.
func parsePrefixes(list []string) (out []netip.Prefix, bad int) {
	for i, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, i
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, -1
}
