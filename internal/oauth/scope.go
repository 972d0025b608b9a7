package oauth

import (
	"slices"
	"strings"
)

// Scopes is a set of scope tokens kept sorted and free of duplicates, so two
// equal sets compare equal as strings (consent is remembered by set).
type Scopes []string

// ParseScopes splits a space-delimited scope parameter (RFC 6749 §3.3).
// It returns ok=false if any token has characters outside %x21 / %x23-5B /
// %x5D-7E.
func ParseScopes(s string) (Scopes, bool) {
	fields := strings.Split(s, " ")
	out := make(Scopes, 0, len(fields))
	for _, f := range fields {
		if f == "" {
			continue
		}
		for i := 0; i < len(f); i++ {
			c := f[i]
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, false
			}
		}
		out = append(out, f)
	}
	return NewScopes(out...), true
}

// NewScopes returns the sorted, de-duplicated set of the given tokens.
func NewScopes(s ...string) Scopes {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// String renders the set as a scope parameter.
func (s Scopes) String() string { return strings.Join(s, " ") }

// Has reports whether scope is in the set. It does not rely on s being
// sorted: a Scopes decoded from JSON or built as a literal keeps its
// order, and a binary search over it would miss members.
func (s Scopes) Has(scope string) bool { return slices.Contains(s, scope) }

// SubsetOf reports whether every scope in s is also in other.
func (s Scopes) SubsetOf(other Scopes) bool {
	for _, v := range s {
		if !other.Has(v) {
			return false
		}
	}
	return true
}

// Union returns the set of scopes in s or other.
func (s Scopes) Union(other Scopes) Scopes {
	return NewScopes(append(slices.Clone(s), other...)...)
}
