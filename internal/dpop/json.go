package dpop

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// This file reads the two small JSON objects of a proof (the JOSE header
// and the claims) without reflection. Verify runs on every token and
// resource request, and a reflection-based decoder spends on these few
// hundred bytes a sizeable fraction of the ES256 verification itself.
//
// The reader is strict (RFC 8259): it accepts exactly one object and
// nothing after it, rejects invalid UTF-8, control characters in strings,
// lone surrogates, malformed numbers and nesting deeper than maxDepth.
// Member names are compared case-sensitively (RFC 7515 §4, RFC 7519 §4),
// and a member Verify reads may appear only once: RFC 7515 §4 lets a
// parser "either reject JWSs with duplicate Header Parameter names or use
// a JSON parser that returns only the lexically last duplicate member
// name", and rejecting leaves no doubt about which value was signed.

// maxDepth bounds the nesting of values Verify skips over.
const maxDepth = 16

var errJSON = errors.New("dpop: invalid JSON")

// jsonNull is the literal a member may hold to mean "absent".
const jsonNull = "null"

// eachMember calls fn with the name and raw value of every member of the
// JSON object in b, in order. Values are validated before fn sees them.
// name may alias b: compare it, and copy it to keep it.
func eachMember(b []byte, fn func(name, value []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errJSON
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return errJSON
		}
		return nil
	}
	for {
		name, next, err := readString(b, i)
		if err != nil {
			return err
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return errJSON
		}
		start := skipSpace(b, i+1)
		end, err := skipValue(b, start, 0)
		if err != nil {
			return err
		}
		if err := fn(name, b[start:end]); err != nil {
			return err
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return errJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			if skipSpace(b, i+1) != len(b) {
				return errJSON
			}
			return nil
		default:
			return errJSON
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errJSON
	}
	switch c := b[i]; {
	case c == '"':
		_, next, err := readString(b, i)
		return next, err
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return 0, errJSON
		}
		return skipContainer(b, i, depth+1)
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(b, i)
	}
	for _, lit := range [...]string{"true", "false", jsonNull} {
		if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
			return i + len(lit), nil
		}
	}
	return 0, errJSON
}

// skipContainer skips the object or array starting at b[i].
func skipContainer(b []byte, i, depth int) (int, error) {
	closer, isObject := byte(']'), b[i] == '{'
	if isObject {
		closer = '}'
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == closer {
		return i + 1, nil
	}
	for {
		if isObject {
			_, next, err := readString(b, i)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, next)
			if i >= len(b) || b[i] != ':' {
				return 0, errJSON
			}
			i = skipSpace(b, i+1)
		}
		next, err := skipValue(b, i, depth)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, next)
		if i >= len(b) {
			return 0, errJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case closer:
			return i + 1, nil
		default:
			return 0, errJSON
		}
	}
}

// skipNumber checks the RFC 8259 §6 number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func skipNumber(b []byte, i int) (int, error) {
	digits := func(i int) int {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(i)
	default:
		return 0, errJSON
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, errJSON
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, errJSON
		}
		i = j
	}
	return i, nil
}

// readString decodes the JSON string starting at b[i] and returns it with
// the index just past its closing quote. The result aliases b unless the
// string has escapes.
func readString(b []byte, i int) ([]byte, int, error) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, errJSON
	}
	start := i + 1
	// Fast path: no escapes, which is every string a proof normally has.
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !utf8.Valid(b[start:j]) {
				return nil, 0, errJSON
			}
			return b[start:j], j + 1, nil
		case c == '\\':
			return readEscaped(b, start)
		case c < 0x20:
			return nil, 0, errJSON
		}
	}
	return nil, 0, errJSON
}

// readEscaped is readString for strings with escapes.
func readEscaped(b []byte, start int) ([]byte, int, error) {
	out := make([]byte, 0, 64)
	for j := start; j < len(b); {
		c := b[j]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return nil, 0, errJSON
			}
			return out, j + 1, nil
		case c < 0x20:
			return nil, 0, errJSON
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(b) {
			return nil, 0, errJSON
		}
		switch e := b[j+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := readUnicodeEscape(b, j)
			if n == 0 {
				return nil, 0, errJSON
			}
			out = utf8.AppendRune(out, r)
			j += n
			continue
		default:
			return nil, 0, errJSON
		}
		j += 2
	}
	return nil, 0, errJSON
}

// readUnicodeEscape decodes the \uXXXX escape at b[j] (a surrogate pair
// takes two) and returns the rune and the bytes used, 0 if invalid.
func readUnicodeEscape(b []byte, j int) (rune, int) {
	r1, ok := hex4(b, j)
	if !ok {
		return 0, 0
	}
	if !utf16.IsSurrogate(r1) {
		return r1, 6
	}
	r2, ok := hex4(b, j+6)
	if !ok {
		return 0, 0
	}
	r := utf16.DecodeRune(r1, r2)
	if r == utf8.RuneError {
		return 0, 0 // a lone or reversed surrogate
	}
	return r, 12
}

// hex4 decodes the four hex digits of a \u escape starting at b[j].
func hex4(b []byte, j int) (rune, bool) {
	if len(b)-j < 6 || b[j] != '\\' || b[j+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[j+2:j+6]), 16, 16)
	return rune(n), err == nil
}

// stringValue decodes a member value that must be a string (or null,
// which counts as absent).
func stringValue(v []byte) (string, error) {
	if string(v) == jsonNull {
		return "", nil
	}
	s, _, err := readString(v, 0)
	return string(s), err
}

// numberValue decodes a member value that must be a number. present is
// false for null.
func numberValue(v []byte) (f float64, present bool, err error) {
	if string(v) == jsonNull {
		return 0, false, nil
	}
	if len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return 0, false, errJSON
	}
	f, err = strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, false, errJSON // out of float64 range
	}
	return f, true, nil
}

// onceSet rejects a second occurrence of a member Verify reads.
type onceSet uint32

func (s *onceSet) first(bit int) error {
	if *s&(1<<bit) != 0 {
		return errors.New("dpop: duplicate JSON member")
	}
	*s |= 1 << bit
	return nil
}

// member binds the name of a string member to where its value goes.
type member struct {
	name string
	dst  *string
}

// readMembers reads the JSON object b. The string members named in strs
// are stored in their dst, each at most once; every other member goes to
// other, if not nil.
func readMembers(b []byte, strs []member, other func(name, v []byte) error) error {
	var seen onceSet
	return eachMember(b, func(name, v []byte) error {
		for i, m := range strs {
			if m.name == string(name) {
				if err := seen.first(i); err != nil {
					return err
				}
				var err error
				*m.dst, err = stringValue(v)
				return err
			}
		}
		if other == nil {
			return nil
		}
		return other(name, v)
	})
}

// parseHeader reads a proof's JOSE header.
func parseHeader(b []byte) (header, error) {
	var h header
	var seen onceSet
	err := readMembers(b, []member{{"typ", &h.Typ}, {"alg", &h.Alg}}, func(name, v []byte) error {
		switch string(name) {
		case "crit":
			h.Crit = true
			return seen.first(0)
		case "jwk":
			if err := seen.first(1); err != nil || string(v) == jsonNull {
				return err
			}
			var err error
			h.JWK, err = parseJWK(v)
			return err
		}
		return nil
	})
	return h, err
}

// parseJWK reads the members of an embedded JWK.
func parseJWK(b []byte) (*jose.HeaderJWK, error) {
	var j jose.HeaderJWK
	err := readMembers(b, []member{
		{"kty", &j.Kty}, {"crv", &j.Crv}, {"x", &j.X}, {"y", &j.Y}, {"n", &j.N}, {"e", &j.E},
		{"alg", &j.Alg}, {"use", &j.Use}, {"kid", &j.KeyID},
	}, func(name, _ []byte) error {
		if jose.IsPrivateJWKMember(string(name)) {
			j.Private = true
		}
		return nil
	})
	return &j, err
}

// parseClaims reads a proof's claims.
func parseClaims(b []byte) (claims, error) {
	var c claims
	var seen onceSet
	strs := []member{{"jti", &c.JTI}, {"htm", &c.HTM}, {"htu", &c.HTU}, {"ath", &c.ATH}, {"nonce", &c.Nonce}}
	err := readMembers(b, strs, func(name, v []byte) error {
		if string(name) != "iat" {
			return nil
		}
		if err := seen.first(0); err != nil {
			return err
		}
		f, ok, err := numberValue(v)
		if ok {
			d := jose.NumericDate(f)
			c.IAT = &d
		}
		return err
	})
	return c, err
}
