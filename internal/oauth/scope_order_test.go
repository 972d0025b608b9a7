package oauth

import (
	"encoding/json"
	"testing"
)

// TestScopesHasUnsorted: a client's scopes come from configuration JSON in
// the operator's order; membership must not depend on that order (a
// binary search once rejected "accounts" from [openid, accounts]).
func TestScopesHasUnsorted(t *testing.T) {
	var s Scopes
	if err := json.Unmarshal([]byte(`["openid","accounts","email"]`), &s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"openid", "accounts", "email"} {
		if !s.Has(want) {
			t.Errorf("Has(%q) = false for %v", want, s)
		}
	}
	if s.Has("profile") {
		t.Errorf("Has(profile) = true for %v", s)
	}
	asked, _ := ParseScopes("accounts email")
	if !asked.SubsetOf(s) {
		t.Errorf("%v not a subset of %v", asked, s)
	}
}
