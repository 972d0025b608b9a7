package client

import (
	"strings"
)

// Challenge is one challenge of a WWW-Authenticate header (RFC 9110
// §11.6.1), such as DPoP error="use_dpop_nonce" (RFC 9449 §7.1, §9) or
// Bearer error="invalid_token" (RFC 6750 §3).
type Challenge struct {
	// Scheme is the auth-scheme as sent; compare it case-insensitively.
	Scheme string
	// Params are the auth-params, names lower-cased, quoted values
	// unquoted. A token68 challenge has none.
	Params map[string]string
}

// ParseChallenges parses the values of every WWW-Authenticate header of a
// response (RFC 9110 §11.6.1: a comma-separated list of challenges, each
// a scheme followed by a token68 or auth-params). The input is untrusted:
// malformed parts are skipped, never a panic, and the result holds what
// could be read.
func ParseChallenges(values []string) []Challenge {
	var out []Challenge
	for _, v := range values {
		out = append(out, parseChallengeList(v)...)
	}
	return out
}

// maxChallenges bounds the work done on one header.
const maxChallenges = 32

func parseChallengeList(s string) []Challenge {
	var out []Challenge
	p := &wwwParser{s: s}
	for len(out) < maxChallenges {
		p.skipListSeparators()
		if p.eof() {
			break
		}
		scheme := p.token()
		if scheme == "" {
			// Not a challenge: skip to the next list element.
			p.skipTo(',')
			continue
		}
		ch := Challenge{Scheme: scheme}
		p.skipSpace()
		// A token68 is token68 chars followed by '=' padding and then the
		// end of the element; an auth-param is token BWS "=" BWS value.
		if _, ok := p.token68(); ok {
			out = append(out, ch)
			continue
		}
		for len(ch.Params) < maxChallenges {
			save := p.i
			name := p.token()
			if name == "" {
				break
			}
			p.skipSpace()
			if !p.consume('=') {
				// A bare token: the next challenge's scheme.
				p.i = save
				break
			}
			p.skipSpace()
			var val string
			if p.peek() == '"' {
				val = p.quoted()
			} else {
				val = p.token()
			}
			if ch.Params == nil {
				ch.Params = map[string]string{}
			}
			ch.Params[strings.ToLower(name)] = val
			p.skipSpace()
			if !p.consume(',') {
				if !p.eof() {
					// Garbage after the value: skip to the next element.
					p.skipTo(',')
					p.consume(',')
				}
				continue
			}
			p.skipListSeparators()
		}
		out = append(out, ch)
	}
	return out
}

// wwwParser reads a WWW-Authenticate value from position i.
type wwwParser struct {
	s string
	i int
}

func (p *wwwParser) eof() bool { return p.i >= len(p.s) }

func (p *wwwParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *wwwParser) consume(c byte) bool {
	if p.peek() == c && !p.eof() {
		p.i++
		return true
	}
	return false
}

func (p *wwwParser) skipSpace() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *wwwParser) skipListSeparators() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// skipTo advances to the next c outside a quoted string (or the end).
func (p *wwwParser) skipTo(c byte) {
	for !p.eof() && p.s[p.i] != c {
		if p.s[p.i] == '"' {
			p.quoted()
			continue
		}
		p.i++
	}
}

// token reads an RFC 9110 §5.6.2 token.
func (p *wwwParser) token() string {
	start := p.i
	for !p.eof() && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 reads an RFC 9110 §11.2 token68 if one stands here and ends the
// list element; otherwise it leaves the position unchanged.
func (p *wwwParser) token68() (string, bool) {
	start := p.i
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == start {
		return "", false
	}
	k := j
	for k < len(p.s) && p.s[k] == '=' {
		k++
	}
	e := k
	for e < len(p.s) && (p.s[e] == ' ' || p.s[e] == '\t') {
		e++
	}
	if e < len(p.s) && p.s[e] != ',' {
		return "", false
	}
	p.i = e
	return p.s[start:k], true
}

// quoted reads an RFC 9110 §5.6.4 quoted-string starting at '"' and
// returns its unescaped content. An unterminated string runs to the end.
func (p *wwwParser) quoted() string {
	p.i++ // opening quote
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if !p.eof() {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// challengeError returns the error param of the first challenge with
// scheme (case-insensitive, RFC 9110 §11.1), or of any challenge when
// scheme is empty.
func challengeError(chs []Challenge, scheme string) string {
	for _, ch := range chs {
		if scheme == "" || strings.EqualFold(ch.Scheme, scheme) {
			if e := ch.Params["error"]; e != "" {
				return e
			}
		}
	}
	return ""
}
