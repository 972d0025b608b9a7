package dpop

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxURLLength bounds the URLs NormalizeURL accepts. An htu is attacker
// input; no endpoint URL comes near this.
const maxURLLength = 4096

// NormalizeURL returns the form of an http or https URL that Verify
// compares htu in. RFC 9449 §4.3: "servers SHOULD employ syntax-based
// normalization (Section 6.2.2 of [RFC3986]) and scheme-based normalization
// (Section 6.2.3 of [RFC3986]) before comparing the htu claim"
// (https://www.rfc-editor.org/rfc/rfc9449.html#section-4.3). So:
//
//   - scheme and host are lowercased (RFC 3986 §6.2.2.1);
//   - percent-encodings use uppercase hex, and those of unreserved
//     characters are decoded (§6.2.2.2);
//   - "." and ".." path segments are removed (§6.2.2.3);
//   - an empty or default port (80 for http, 443 for https) and its ":"
//     are dropped, and an empty path becomes "/" (§6.2.3);
//   - query and fragment are dropped, because §4.3 item 9 compares htu
//     "ignoring any query and fragment parts".
//
// It rejects relative URLs, schemes other than http and https, URLs
// without a host, and URLs with userinfo (RFC 9110 §4.2.4 forbids it in
// http URIs, and it could make one authority look like another).
func NormalizeURL(raw string) (string, error) {
	if len(raw) > maxURLLength {
		return "", fmt.Errorf("dpop: URL longer than %d bytes", maxURLLength)
	}
	// The fragment starts at the first "#" and the query at the first "?"
	// before it (RFC 3986 §3); cutting them first means their contents,
	// which are ignored anyway, cannot make the parse fail.
	raw, _, _ = strings.Cut(raw, "#")
	raw, _, _ = strings.Cut(raw, "?")
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("dpop: parse URL: %w", err)
	}
	var defaultPort string
	switch u.Scheme { // url.Parse has lowercased it
	case "https":
		defaultPort = "443"
	case "http":
		defaultPort = "80"
	default:
		return "", errors.New("dpop: URL is not an absolute http or https URL")
	}
	if u.Opaque != "" || u.Host == "" {
		return "", errors.New("dpop: URL has no authority")
	}
	if u.User != nil {
		return "", errors.New("dpop: URL has userinfo")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("dpop: URL has an empty host")
	}
	// url.Parse unescapes the host. A "%" left in it (an IPv6 zone, or an
	// escaped "%") has no place in a public endpoint's URL and would not
	// survive a second normalisation unchanged.
	if strings.Contains(host, "%") {
		return "", errors.New("dpop: URL host contains %")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal; Hostname stripped the brackets
	}
	if port := u.Port(); port != "" && port != defaultPort {
		host += ":" + port
	}
	path := removeDotSegments(normalizePercent(u.EscapedPath()))
	if path == "" {
		path = "/"
	}
	return u.Scheme + "://" + host + path, nil
}

// normalizePercent applies RFC 3986 §6.2.2.1 and §6.2.2.2 to an escaped
// path: "%7e" becomes "~" and "%2f" becomes "%2F". url.Parse has already
// rejected malformed escapes.
func normalizePercent(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+2 >= len(p) {
			b.WriteByte(p[i])
			continue
		}
		c := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(c) {
			b.WriteByte(c)
		} else {
			const upper = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(upper[c>>4])
			b.WriteByte(upper[c&15])
		}
		i += 2
	}
	return b.String()
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// isUnreserved reports whether c is in RFC 3986 §2.3's unreserved set.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is RFC 3986 §5.2.4 for the absolute paths an http URL
// with an authority has ("" or starting with "/"). path.Clean is not a
// substitute: it also merges "//" and drops a trailing "/", which change
// the resource a URL names.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") || p[0] != '/' {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "") // "/a/." and "/a/b/.." end in "/"
		}
	}
	return "/" + strings.Join(out, "/")
}
