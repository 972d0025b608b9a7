package bff

import (
	"net/url"
	"strings"
)

// maxReturnPath bounds the rd parameter.
const maxReturnPath = 2048

// localPath validates the rd return path of /oauth2/start and sign_out:
// only a path on this origin is accepted, never another site (RFC 9700
// §4.11 open redirectors; FAPI 2.0 SP §5.3.3.1-4). Browsers treat "//host"
// and "/\host" as scheme-relative URLs and strip tabs and newlines before
// parsing, so anything that is not a plain "/path?query" with printable
// characters and no backslash is refused. Empty means "/".
func localPath(rd string) (string, bool) {
	if rd == "" {
		return "/", true
	}
	if len(rd) > maxReturnPath || rd[0] != '/' || strings.HasPrefix(rd, "//") || strings.ContainsRune(rd, '\\') {
		return "", false
	}
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c < 0x21 || c >= 0x7f {
			// Controls, space and non-ASCII: a browser may drop or
			// reinterpret them; a real path percent-encodes them.
			return "", false
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	// A path that decodes to "//" or "/\" is safe as a Location (the
	// browser does not decode it), but refuse it anyway: some upstream
	// might redirect to its decoded form.
	if strings.HasPrefix(u.Path, "//") || strings.HasPrefix(u.Path, "/\\") {
		return "", false
	}
	return rd, true
}
