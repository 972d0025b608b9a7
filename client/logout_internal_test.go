package client

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzLogoutTokenClaims feeds arbitrary claim sets to the logout token
// rules: they must never panic, and an accepted set must satisfy every
// rule of OIDC Back-Channel Logout 1.0 §2.6.
func FuzzLogoutTokenClaims(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(`{"iss":"https://op","aud":"c","iat":1800000000,"jti":"j","sub":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`)
	f.Add(`{"iss":"https://op","aud":["c","d"],"iat":1800000000,"jti":"j","sid":"x","events":{"http://schemas.openid.net/event/backchannel-logout":{}},"nonce":"n"}`)
	f.Add(`{"iss":"https://op","aud":"c","iat":1e300,"jti":"j","sub":"s","events":{"http://schemas.openid.net/event/backchannel-logout":null}}`)
	f.Add(`{"events":[]}`)
	f.Fuzz(func(t *testing.T, payload string) {
		var cl logoutTokenClaims
		if json.Unmarshal([]byte(payload), &cl) != nil {
			return
		}
		if cl.check("https://op", "c", now) != nil {
			return
		}
		if cl.Issuer != "https://op" || !cl.Audience.Contains("c") || cl.ID == "" || (cl.Subject == "" && cl.SID == "") ||
			cl.Nonce != nil || cl.IssuedAt == nil {
			t.Fatalf("accepted %s", payload)
		}
		var ev map[string]any
		if json.Unmarshal(cl.Events[backchannelLogoutEvent], &ev) != nil || ev == nil {
			t.Fatalf("accepted events %s", payload)
		}
	})
}
