package mtls

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// attr is one attribute of a relative distinguished name.
type attr struct{ typ, value string }

// shortNames maps the OIDs Go's pkix.Name.String prints in dotted form, and
// the long names people write, to the RFC 4514 §3 short names, so both
// sides of a comparison use one spelling.
var shortNames = map[string]string{
	"2.5.4.3": "CN", "COMMONNAME": "CN",
	"2.5.4.5": "SERIALNUMBER",
	"2.5.4.6": "C", "COUNTRYNAME": "C",
	"2.5.4.7": "L", "LOCALITYNAME": "L",
	"2.5.4.8": "ST", "STATEORPROVINCENAME": "ST", "S": "ST",
	"2.5.4.9": "STREET", "STREETADDRESS": "STREET",
	"2.5.4.10": "O", "ORGANIZATIONNAME": "O",
	"2.5.4.11": "OU", "ORGANIZATIONALUNITNAME": "OU",
	"2.5.4.17":                   "POSTALCODE",
	"0.9.2342.19200300.100.1.25": "DC", "DOMAINCOMPONENT": "DC",
	"0.9.2342.19200300.100.1.1": "UID", "USERID": "UID",
	"1.2.840.113549.1.9.1": "EMAILADDRESS", "E": "EMAILADDRESS",
}

// maxDN bounds the DN strings parsed, registration or certificate.
const maxDN = 4096

// parseDN parses an RFC 4514 string into RDNs (each a sorted set of
// attributes), in the order written. It handles backslash escapes (§2.4),
// hex-escaped pairs and '+'-joined multi-valued RDNs; "#"-prefixed BER
// values are kept as written.
func parseDN(s string) ([][]attr, error) {
	if len(s) > maxDN {
		return nil, errors.New("mtls: distinguished name too long")
	}
	var rdns [][]attr
	var cur []attr
	var typ strings.Builder
	var val strings.Builder
	inValue := false
	flush := func(endRDN bool) error {
		t := strings.ToUpper(strings.TrimSpace(typ.String()))
		if t == "" || !inValue {
			return fmt.Errorf("mtls: malformed distinguished name %q", s)
		}
		if n, ok := shortNames[t]; ok {
			t = n
		}
		cur = append(cur, attr{t, strings.TrimSpace(val.String())})
		typ.Reset()
		val.Reset()
		inValue = false
		if endRDN {
			sortAttrs(cur)
			rdns = append(rdns, cur)
			cur = nil
		}
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case !inValue && c == '=':
			inValue = true
		case !inValue:
			typ.WriteByte(c)
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("mtls: malformed distinguished name %q", s)
			}
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				b, _ := hex.DecodeString(s[i+1 : i+3])
				val.Write(b)
				i += 2
			} else {
				val.WriteByte(s[i+1])
				i++
			}
		case c == ',' || c == ';':
			if err := flush(true); err != nil {
				return nil, err
			}
		case c == '+':
			if err := flush(false); err != nil {
				return nil, err
			}
		default:
			val.WriteByte(c)
		}
	}
	if err := flush(true); err != nil {
		return nil, err
	}
	return rdns, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func sortAttrs(a []attr) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && (a[j].typ < a[j-1].typ || a[j].typ == a[j-1].typ && a[j].value < a[j-1].value); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// equalDN compares two parsed DNs RDN by RDN. Attribute types are already
// canonical; values compare case-insensitively with inner runs of spaces
// folded, as the caseIgnoreMatch rule of RFC 4517 §4.2.11 that X.520
// naming attributes use.
func equalDN(a, b [][]attr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j].typ != b[i][j].typ || !strings.EqualFold(fold(a[i][j].value), fold(b[i][j].value)) {
				return false
			}
		}
	}
	return true
}

func fold(s string) string { return strings.Join(strings.Fields(s), " ") }
