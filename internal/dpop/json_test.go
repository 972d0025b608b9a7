package dpop

import (
	"encoding/json"
	"strings"
	"testing"
)

var jsonCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"ok/empty object", `{}`, true},
	{"ok/whitespace", " \t\r\n{ \"a\" : 1 , \"b\":\"x\" }\n", true},
	{"ok/nested values", `{"a":{"b":[1,2,{"c":null}],"d":[]},"t":true,"f":false,"n":null}`, true},
	{"ok/numbers", `{"a":0,"b":-1.5e+10,"c":1E-2,"d":123456789012345678901234567890}`, true},
	{"ok/escapes", `{"a":"\u00e9\n\"\\\/\b\f\r\t","b":"\ud83d\ude00"}`, true},
	{"ok/escaped name", `{"\u0061":1}`, true},
	{"ok/duplicate unknown member", `{"x":1,"x":2}`, true},
	{"fail/empty", ``, false},
	{"fail/array", `[]`, false},
	{"fail/string", `"a"`, false},
	{"fail/unterminated", `{`, false},
	{"fail/member without value", `{"a"}`, false},
	{"fail/empty value", `{"a":}`, false},
	{"fail/trailing comma", `{"a":1,}`, false},
	{"fail/trailing comma in array", `{"a":[1,]}`, false},
	{"fail/missing comma", `{"a":1 "b":2}`, false},
	{"fail/trailing data", `{"a":1} x`, false},
	{"fail/two objects", `{"a":1}{"b":2}`, false},
	{"fail/unquoted name", `{a:1}`, false},
	{"fail/single quotes", `{'a':1}`, false},
	{"fail/leading zero", `{"a":01}`, false},
	{"fail/bare dot", `{"a":1.}`, false},
	{"fail/leading dot", `{"a":.5}`, false},
	{"fail/empty exponent", `{"a":1e}`, false},
	{"fail/lone minus", `{"a":-}`, false},
	{"fail/plus sign", `{"a":+1}`, false},
	{"fail/bad literal", `{"a":tru}`, false},
	{"fail/control character", "{\"a\":\"\x01\"}", false},
	{"fail/lone surrogate", `{"a":"\ud800"}`, false},
	{"fail/reversed surrogates", `{"a":"\ude00\ud83d"}`, false},
	{"fail/bad escape", `{"a":"\q"}`, false},
	{"fail/short unicode escape", `{"a":"\u00e"}`, false},
	{"fail/invalid utf-8", "{\"a\":\"\xff\"}", false},
	{"fail/invalid utf-8 in escaped string", "{\"a\":\"\\n\xff\"}", false},
	{"fail/unterminated string", `{"a":"x`, false},
	{"fail/too deep", `{"a":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`, false},
}

func TestEachMember(t *testing.T) {
	for _, tc := range jsonCases {
		t.Run(tc.name, func(t *testing.T) {
			err := eachMember([]byte(tc.in), func(_, _ []byte) error { return nil })
			if (err == nil) != tc.ok {
				t.Errorf("eachMember(%q) = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}

func TestParseMembers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func([]byte) error
		in    string
		ok    bool
	}{
		{"ok/header", header1, `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","d":null}}`, true},
		{"ok/null members count as absent", header1, `{"typ":null,"jwk":null}`, true},
		{"fail/duplicate typ", header1, `{"typ":"dpop+jwt","typ":"JWT"}`, false},
		{"fail/duplicate jwk", header1, `{"jwk":{},"jwk":{}}`, false},
		{"fail/duplicate jwk member", header1, `{"jwk":{"x":"a","x":"b"}}`, false},
		{"fail/alg not a string", header1, `{"alg":1}`, false},
		{"fail/jwk not an object", header1, `{"jwk":[]}`, false},
		{"ok/claims", claims1, `{"jti":"a","htm":"POST","htu":"https://x/","iat":1.5,"ath":"b","nonce":"c","exp":1}`, true},
		{"fail/duplicate iat", claims1, `{"iat":1,"iat":2}`, false},
		{"fail/iat string", claims1, `{"iat":"1"}`, false},
		{"fail/iat out of range", claims1, `{"iat":1e999}`, false},
		{"fail/jti number", claims1, `{"jti":1}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.parse([]byte(tc.in)); (err == nil) != tc.ok {
				t.Errorf("parse(%q) = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
	h, err := parseHeader([]byte(`{"typ":"dpop+jwt","jwk":{"kty":"EC","crv":"P-256","x":"X","y":"Y","dp":"1"},"crit":["b64"]}`))
	if err != nil || h.Typ != "dpop+jwt" || !h.Crit || h.JWK == nil || h.JWK.X != "X" || h.JWK.Y != "Y" || !h.JWK.Private {
		t.Errorf("parseHeader = %+v, %+v, %v", h, h.JWK, err)
	}
	c, err := parseClaims([]byte(`{"jti":"\u006a","iat":1.5,"nonce":null}`))
	if err != nil || c.JTI != "j" || c.IAT == nil || float64(*c.IAT) != 1.5 || c.Nonce != "" {
		t.Errorf("parseClaims = %+v, %v", c, err)
	}
}

func header1(b []byte) error { _, err := parseHeader(b); return err }
func claims1(b []byte) error { _, err := parseClaims(b); return err }

// FuzzEachMember checks the reader against encoding/json: what it accepts
// must be valid JSON, and every string member must decode to the same
// value.
func FuzzEachMember(f *testing.F) {
	for _, tc := range jsonCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, count := map[string]string{}, map[string]int{}
		err := eachMember([]byte(in), func(name, v []byte) error {
			count[string(name)]++
			if s, err := stringValue(v); err == nil && string(v) != jsonNull {
				got[string(name)] = s
			}
			return nil
		})
		if err != nil {
			return
		}
		if !json.Valid([]byte(in)) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		var std map[string]any
		dec := json.NewDecoder(strings.NewReader(in))
		dec.UseNumber() // numbers beyond float64 are valid JSON
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", in, err)
		}
		for k, s := range got {
			// With duplicate names encoding/json keeps the last value;
			// compare only names that occur once.
			if count[k] > 1 {
				continue
			}
			if std[k] != s {
				t.Fatalf("member %q = %q, encoding/json says %q", k, s, std[k])
			}
		}
	})
}
