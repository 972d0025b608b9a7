package clients

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

type authCase struct {
	name       string
	creds      func(t *testing.T, e *env) Credentials
	wantClient string // "" means failure
	wantCode   string
	wantReason string
}

func runAuthCases(t *testing.T, e *env, tests []authCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := e.reg.Authenticate(context.Background(), tt.creds(t, e))
			if tt.wantClient != "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if c == nil || c.ID != tt.wantClient {
					t.Fatalf("client = %v, want %s", c, tt.wantClient)
				}
				return
			}
			if err == nil {
				t.Fatalf("Authenticate succeeded for %s, want %s", c.ID, tt.wantCode)
			}
			if c != nil {
				t.Errorf("a failed authentication returned client %s", c.ID)
			}
			if got := errCode(t, err); got != tt.wantCode {
				t.Errorf("code = %s, want %s (%v)", got, tt.wantCode, err)
			}
			var ae *AuthError
			if tt.wantReason != "" && (!errors.As(err, &ae) || ae.Reason != tt.wantReason) {
				t.Errorf("reason = %v, want %s (%v)", ae, tt.wantReason, err)
			}
		})
	}
}

// pkj returns a case body: an assertion for client signed with k, its
// claims changed by mutate.
func pkj(client string, k **jose.PrivateKey, mutate func(now int64, c map[string]any)) func(*testing.T, *env) Credentials {
	return func(t *testing.T, e *env) Credentials {
		now := e.clock.Now().Unix()
		a := e.assertion(t, *k, client, func(c map[string]any) {
			if mutate != nil {
				mutate(now, c)
			}
		})
		return pkjCreds(client, a)
	}
}

func setAud(v any) func(int64, map[string]any) {
	return func(_ int64, c map[string]any) { c["aud"] = v }
}

// TestAuthenticatePrivateKeyJWT covers RFC 7523 §3 and OIDC Core §9 as
// tightened by FAPI 2.0 SP §5.3.2.1-8 (aud) and -13 (clock skew), and the
// alg allow-list of §5.4.1.
func TestAuthenticatePrivateKeyJWT(t *testing.T) {
	e := newEnv(t)
	const bad, malformed = ReasonBadAssertion, ReasonMalformed
	inv := oauth.ErrInvalidClient
	tests := []authCase{
		{"ok/fapi2_ES256", pkj(fapiClient, &esKey, nil), fapiClient, "", ""},
		{"ok/fapi2_PS256", pkj(fapiClient, &psKey, nil), fapiClient, "", ""},
		{"ok/fapi2_EdDSA", pkj(fapiClient, &edKey, nil), fapiClient, "", ""},
		{"ok/fapi2_PS256_key_without_alg", func(t *testing.T, e *env) Credentials {
			return pkjCreds(fapiClient, signRaw(t, "PS256", rsaRawKID, e.claims(fapiClient)))
		}, fapiClient, "", ""},
		{"ok/client_id_from_sub", func(t *testing.T, e *env) Credentials {
			c := pkj(fapiClient, &esKey, nil)(t, e)
			c.ClientID = ""
			return c
		}, fapiClient, "", ""},
		{"ok/iat_nbf_8s_future", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["iat"], c["nbf"] = now+8, now+8 }), fapiClient, "", ""},
		{"ok/iat_nbf_10s_future", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["iat"], c["nbf"], c["exp"] = now+10, now+10, now+70 }), fapiClient, "", ""},
		{"ok/no_iat", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { delete(c, "iat") }), fapiClient, "", ""},
		{"ok/exp_5min", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["exp"] = now + 300 }), fapiClient, "", ""},

		// Algorithms outside PS256/ES256/EdDSA, even from a registered key.
		{"fail/alg_RS256", func(t *testing.T, e *env) Credentials {
			return pkjCreds(fapiClient, signRaw(t, "RS256", rsaRawKID, e.claims(fapiClient)))
		}, "", inv, bad},
		{"fail/alg_none", func(t *testing.T, e *env) Credentials {
			return pkjCreds(fapiClient, signRaw(t, "none", rsaRawKID, e.claims(fapiClient)))
		}, "", inv, bad},
		{"fail/alg_HS256", func(t *testing.T, e *env) Credentials {
			return pkjCreds(fapiClient, signRaw(t, "HS256", rsaRawKID, e.claims(fapiClient)))
		}, "", inv, bad},

		// iss and sub must both be the client_id.
		{"fail/iss_other", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { c["iss"] = otherClient }), "", inv, bad},
		{"fail/iss_missing", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { delete(c, "iss") }), "", inv, bad},
		{"fail/sub_other", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { c["sub"] = otherClient }), "", inv, bad},
		{"fail/sub_missing", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { delete(c, "sub") }), "", inv, bad},
		{"fail/sub_missing_no_client_id", func(t *testing.T, e *env) Credentials {
			c := pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { delete(c, "sub") })(t, e)
			c.ClientID = ""
			return c
		}, "", inv, malformed},

		// exp is required and short.
		{"fail/exp_missing", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { delete(c, "exp") }), "", inv, bad},
		{"fail/exp_5min_past", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["iat"], c["exp"] = now-360, now-300 }), "", inv, bad},
		{"fail/exp_10min_future", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["exp"] = now + 600 }), "", inv, bad},
		{"fail/exp_string", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["exp"] = "tomorrow" }), "", inv, bad},

		// FAPI 2.0 SP §5.3.2.1-13: up to 10 s ahead is fine, more than 60 s is not.
		{"fail/iat_nbf_61s_future", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["iat"], c["nbf"], c["exp"] = now+61, now+61, now+121 }), "", inv, bad},
		{"fail/nbf_61s_future", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["nbf"], c["exp"] = now+61, now+121 }), "", inv, bad},
		{"fail/iat_61s_future", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["iat"], c["exp"] = now+61, now+121 }), "", inv, bad},
		{"fail/iat_6min_old", pkj(fapiClient, &esKey, func(now int64, c map[string]any) { c["iat"] = now - 360 }), "", inv, bad},

		// jti is required.
		{"fail/jti_missing", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { delete(c, "jti") }), "", inv, bad},
		{"fail/jti_empty", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { c["jti"] = "" }), "", inv, bad},
		{"fail/jti_too_long", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { c["jti"] = strings.Repeat("j", 257) }), "", inv, bad},

		// FAPI 2.0 SP §5.3.2.1-8: only the issuer, as a string.
		{"ok/fapi2_aud_issuer", pkj(fapiClient, &esKey, setAud(testIssuer)), fapiClient, "", ""},
		{"fail/fapi2_aud_array_of_issuer", pkj(fapiClient, &esKey, setAud([]string{testIssuer})), "", inv, bad},
		{"fail/fapi2_aud_array_issuer_other", pkj(fapiClient, &esKey, setAud([]string{testIssuer, "https://other.example"})), "", inv, bad},
		{"fail/fapi2_aud_token_url", pkj(fapiClient, &esKey, setAud(testTokenURL)), "", inv, bad},
		{"fail/fapi2_aud_par_url", pkj(fapiClient, &esKey, setAud(testPARURL)), "", inv, bad},
		{"fail/fapi2_aud_other", pkj(fapiClient, &esKey, setAud("https://other.example")), "", inv, bad},
		{"fail/fapi2_aud_trailing_slash", pkj(fapiClient, &esKey, setAud(testIssuer+"/")), "", inv, bad},
		{"fail/fapi2_aud_missing", pkj(fapiClient, &esKey, func(_ int64, c map[string]any) { delete(c, "aud") }), "", inv, bad},
		{"fail/fapi2_aud_empty_array", pkj(fapiClient, &esKey, setAud([]string{})), "", inv, bad},
		{"fail/fapi2_aud_number", pkj(fapiClient, &esKey, setAud(42)), "", inv, bad},

		// RFC 7523 §3 / RFC 9126 §2 for the standard profile.
		{"ok/standard_aud_issuer", pkj(stdPKJClient, &esKey, setAud(testIssuer)), stdPKJClient, "", ""},
		{"ok/standard_aud_token_url", pkj(stdPKJClient, &esKey, setAud(testTokenURL)), stdPKJClient, "", ""},
		{"ok/standard_aud_par_url", pkj(stdPKJClient, &esKey, setAud(testPARURL)), stdPKJClient, "", ""},
		{"ok/standard_aud_array_with_issuer", pkj(stdPKJClient, &esKey, setAud([]string{"https://other.example", testIssuer})), stdPKJClient, "", ""},
		{"fail/standard_aud_other", pkj(stdPKJClient, &esKey, setAud("https://other.example")), "", inv, bad},
		{"fail/standard_aud_missing", pkj(stdPKJClient, &esKey, func(_ int64, c map[string]any) { delete(c, "aud") }), "", inv, bad},

		// Signature and key binding.
		{"fail/unregistered_key", pkj(fapiClient, &esKey2, nil), "", inv, bad},
		{"fail/other_clients_key", pkj(otherClient, &esKey, nil), "", inv, bad},
		{"fail/client_id_names_other_client", func(t *testing.T, e *env) Credentials {
			c := pkj(fapiClient, &esKey, nil)(t, e)
			c.ClientID = otherClient
			return c
		}, "", inv, bad},
		{"fail/tampered_payload", func(t *testing.T, e *env) Credentials {
			a := strings.Split(e.assertion(t, esKey, fapiClient, nil), ".")
			b := strings.Split(e.assertion(t, esKey, fapiClient, func(c map[string]any) { c["exp"] = c["exp"].(int64) + 1 }), ".")
			return pkjCreds(fapiClient, a[0]+"."+b[1]+"."+a[2])
		}, "", inv, bad},
		{"fail/assertion_type_wrong", func(t *testing.T, e *env) Credentials {
			c := pkj(fapiClient, &esKey, nil)(t, e)
			c.AssertionType = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
			return c
		}, "", inv, malformed},
		{"fail/assertion_type_missing", func(t *testing.T, e *env) Credentials {
			c := pkj(fapiClient, &esKey, nil)(t, e)
			c.AssertionType = ""
			return c
		}, "", inv, malformed},
		{"fail/assertion_missing", func(t *testing.T, e *env) Credentials { return pkjCreds(fapiClient, "") }, "", inv, bad},
		{"fail/assertion_garbage", func(t *testing.T, e *env) Credentials { return pkjCreds(fapiClient, "a.b.c") }, "", inv, bad},
		{"fail/unknown_client", pkj("ghost", &esKey, nil), "", inv, ReasonUnknownClient},
		{"fail/assertion_for_secret_client", pkj(basicClient, &esKey, nil), "", inv, ReasonWrongMethod},
	}
	runAuthCases(t, e, tests)
}

// TestAuthenticateSecretsAndNone covers client_secret_basic, client_secret_post
// and none (RFC 6749 §2.3.1, §2.1).
func TestAuthenticateSecretsAndNone(t *testing.T) {
	e := newEnv(t)
	inv := oauth.ErrInvalidClient
	basic := func(id, sec string) Credentials {
		return Credentials{BasicID: id, BasicSecret: sec, HasBasic: true}
	}
	post := func(id, sec string) Credentials {
		return Credentials{ClientID: id, PostSecret: sec, HasPostSecret: true}
	}
	static := func(c Credentials) func(*testing.T, *env) Credentials {
		return func(*testing.T, *env) Credentials { return c }
	}
	tests := []authCase{
		{"ok/basic", static(basic(basicClient, testSecret)), basicClient, "", ""},
		{"ok/basic_with_same_client_id", static(Credentials{ClientID: basicClient, BasicID: basicClient, BasicSecret: testSecret, HasBasic: true}), basicClient, "", ""},
		{"ok/post", static(post(postClient, testSecret)), postClient, "", ""},
		{"fail/basic_wrong_secret", static(basic(basicClient, testSecret+"x")), "", inv, ReasonBadSecret},
		{"fail/basic_secret_prefix", static(basic(basicClient, testSecret[:len(testSecret)-1])), "", inv, ReasonBadSecret},
		{"fail/basic_empty_secret", static(basic(basicClient, "")), "", inv, ReasonBadSecret},
		{"fail/post_wrong_secret", static(post(postClient, "wrong-secret-0123456789")), "", inv, ReasonBadSecret},
		{"fail/post_empty_secret", static(post(postClient, "")), "", inv, ReasonBadSecret},
		{"fail/basic_and_post", static(Credentials{ClientID: basicClient, BasicID: basicClient, BasicSecret: testSecret, HasBasic: true, PostSecret: testSecret, HasPostSecret: true}), "", oauth.ErrInvalidRequest, ReasonMalformed},
		{"fail/basic_and_assertion", func(t *testing.T, e *env) Credentials {
			c := pkj(fapiClient, &esKey, nil)(t, e)
			c.BasicID, c.BasicSecret, c.HasBasic = fapiClient, testSecret, true
			return c
		}, "", oauth.ErrInvalidRequest, ReasonMalformed},
		{"fail/post_and_assertion", func(t *testing.T, e *env) Credentials {
			c := pkj(fapiClient, &esKey, nil)(t, e)
			c.PostSecret, c.HasPostSecret = testSecret, true
			return c
		}, "", oauth.ErrInvalidRequest, ReasonMalformed},
		{"fail/post_for_basic_client", static(post(basicClient, testSecret)), "", inv, ReasonWrongMethod},
		{"fail/basic_for_post_client", static(basic(postClient, testSecret)), "", inv, ReasonWrongMethod},
		{"fail/basic_client_id_mismatch", static(Credentials{ClientID: postClient, BasicID: basicClient, BasicSecret: testSecret, HasBasic: true}), "", inv, ReasonMalformed},
		{"fail/secret_for_pkj_client", static(basic(fapiClient, testSecret)), "", inv, ReasonWrongMethod},
		{"fail/secret_for_public_client", static(post(publicClient, testSecret)), "", inv, ReasonWrongMethod},
		{"fail/basic_unknown_client", static(basic("ghost", testSecret)), "", inv, ReasonUnknownClient},

		{"ok/none_public", static(Credentials{ClientID: publicClient}), publicClient, "", ""},
		{"fail/none_for_basic_client", static(Credentials{ClientID: basicClient}), "", inv, ReasonWrongMethod},
		{"fail/none_for_post_client", static(Credentials{ClientID: postClient}), "", inv, ReasonWrongMethod},
		{"fail/none_for_fapi2_client", static(Credentials{ClientID: fapiClient}), "", inv, ReasonWrongMethod},
		{"fail/none_unknown_client", static(Credentials{ClientID: "ghost"}), "", inv, ReasonUnknownClient},
		{"fail/nothing", static(Credentials{}), "", inv, ReasonMalformed},
	}
	runAuthCases(t, e, tests)
}

// TestAssertionSingleUse: OIDC Core §9 makes jti single-use; replays are
// refused per client.
func TestAssertionSingleUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.assertion(t, esKey, fapiClient, nil)
	if _, err := e.reg.Authenticate(ctx, pkjCreds(fapiClient, a)); err != nil {
		t.Fatalf("first use: %v", err)
	}
	var ae *AuthError
	_, err := e.reg.Authenticate(ctx, pkjCreds(fapiClient, a))
	if !errors.As(err, &ae) || ae.Reason != ReasonReplayed || errCode(t, err) != oauth.ErrInvalidClient {
		t.Fatalf("replay: err = %v, want invalid_client/%s", err, ReasonReplayed)
	}
	// A different assertion with the same jti is a replay too.
	jti := randomID()
	first := e.assertion(t, esKey, fapiClient, func(c map[string]any) { c["jti"] = jti })
	e.clock.Advance(time.Second)
	second := e.assertion(t, esKey, fapiClient, func(c map[string]any) { c["jti"] = jti })
	if _, err := e.reg.Authenticate(ctx, pkjCreds(fapiClient, first)); err != nil {
		t.Fatalf("first jti use: %v", err)
	}
	if _, err := e.reg.Authenticate(ctx, pkjCreds(fapiClient, second)); !errors.As(err, &ae) || ae.Reason != ReasonReplayed {
		t.Fatalf("same jti, new assertion: err = %v, want %s", err, ReasonReplayed)
	}
	// The guard is per client: another client may use the same jti.
	other := e.assertion(t, esKey, stdPKJClient, func(c map[string]any) { c["jti"] = jti })
	if _, err := e.reg.Authenticate(ctx, pkjCreds(stdPKJClient, other)); err != nil {
		t.Fatalf("same jti, other client: %v", err)
	}
	// A failed assertion does not burn its jti.
	jti2 := randomID()
	badAud := e.assertion(t, esKey, fapiClient, func(c map[string]any) { c["jti"], c["aud"] = jti2, testTokenURL })
	if _, err := e.reg.Authenticate(ctx, pkjCreds(fapiClient, badAud)); err == nil {
		t.Fatal("token URL aud accepted for fapi2")
	}
	good := e.assertion(t, esKey, fapiClient, func(c map[string]any) { c["jti"] = jti2 })
	if _, err := e.reg.Authenticate(ctx, pkjCreds(fapiClient, good)); err != nil {
		t.Fatalf("jti of a refused assertion: %v", err)
	}
}

type failingReplay struct{}

func (failingReplay) Use(context.Context, string, time.Time) error {
	return errors.Join(store.ErrUnavailable, errors.New("replay back end down"))
}

// TestAuthenticateStoreOutage: an unavailable replay guard or client store
// fails the request as temporarily_unavailable; the check is never skipped.
func TestAuthenticateStoreOutage(t *testing.T) {
	e := newEnv(t)
	e.reg.Replay = failingReplay{}
	_, err := e.reg.Authenticate(context.Background(), pkjCreds(fapiClient, e.assertion(t, esKey, fapiClient, nil)))
	if got := errCode(t, err); got != oauth.ErrTemporarilyUnavailable {
		t.Errorf("replay outage: code = %q, want temporarily_unavailable", got)
	}

	e = newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.reg.Authenticate(ctx, Credentials{BasicID: basicClient, BasicSecret: testSecret, HasBasic: true})
	if got := errCode(t, err); got != oauth.ErrTemporarilyUnavailable {
		t.Errorf("client store outage: code = %q, want temporarily_unavailable", got)
	}
}

var parseCredentialsCases = []struct {
	name       string
	header     string
	form       string
	want       Credentials
	wantErrors bool
}{
	{"ok/none", "", "client_id=app", Credentials{ClientID: "app"}, false},
	{"ok/basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("app:s3cret")), "", Credentials{BasicID: "app", BasicSecret: "s3cret", HasBasic: true}, false},
	{"ok/basic_lowercase_scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("app:s3cret")), "", Credentials{BasicID: "app", BasicSecret: "s3cret", HasBasic: true}, false},
	{"ok/basic_form_urlencoded", "Basic " + base64.StdEncoding.EncodeToString([]byte("my+app%3A1:p%40ss%3Aword")), "", Credentials{BasicID: "my app:1", BasicSecret: "p@ss:word", HasBasic: true}, false},
	{"ok/basic_empty_secret", "Basic " + base64.StdEncoding.EncodeToString([]byte("app:")), "", Credentials{BasicID: "app", HasBasic: true}, false},
	{"ok/post", "", "client_id=app&client_secret=s3cret", Credentials{ClientID: "app", PostSecret: "s3cret", HasPostSecret: true}, false},
	{"ok/post_empty_secret", "", "client_id=app&client_secret=", Credentials{ClientID: "app", HasPostSecret: true}, false},
	{"ok/assertion", "", "client_assertion_type=t&client_assertion=a.b.c", Credentials{AssertionType: "t", Assertion: "a.b.c"}, false},
	{"ok/bearer_ignored", "Bearer abc", "client_id=app", Credentials{ClientID: "app"}, false},
	{"ok/dpop_ignored", "DPoP abc", "", Credentials{}, false},
	{"ok/scheme_only_ignored", "Basic", "", Credentials{}, false},
	{"fail/basic_not_base64", "Basic !!!", "", Credentials{}, true},
	{"fail/basic_no_colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("app")), "", Credentials{}, true},
	{"fail/basic_bad_escape_id", "Basic " + base64.StdEncoding.EncodeToString([]byte("a%zz:s")), "", Credentials{}, true},
	{"fail/basic_bad_escape_secret", "Basic " + base64.StdEncoding.EncodeToString([]byte("a:%")), "", Credentials{}, true},
}

func TestParseCredentials(t *testing.T) {
	for _, tt := range parseCredentialsCases {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCredentials(tt.header, form)
			if tt.wantErrors {
				if code := errCode(t, err); code != oauth.ErrInvalidClient {
					t.Fatalf("code = %q, want invalid_client", code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCredentials = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseCredentials: hostile Authorization headers and forms never panic,
// errors are invalid_client, and decoded Basic credentials survive a
// re-encoding round trip.
func FuzzParseCredentials(f *testing.F) {
	for _, tt := range parseCredentialsCases {
		f.Add(tt.header, tt.form)
	}
	f.Fuzz(func(t *testing.T, header, rawForm string) {
		form, _ := url.ParseQuery(rawForm) // a partial form is still a form
		c, err := ParseCredentials(header, form)
		if err != nil {
			if oe, ok := oauth.As(err); !ok || oe.Code != oauth.ErrInvalidClient {
				t.Fatalf("error %v is not invalid_client", err)
			}
			return
		}
		if c.ClientID != form.Get("client_id") || c.HasPostSecret != form.Has("client_secret") || c.Assertion != form.Get("client_assertion") {
			t.Fatalf("form fields not carried over: %+v", c)
		}
		if !c.HasBasic {
			if c.BasicID != "" || c.BasicSecret != "" {
				t.Fatalf("Basic fields set without HasBasic: %+v", c)
			}
			return
		}
		enc := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.BasicID) + ":" + url.QueryEscape(c.BasicSecret)))
		c2, err := ParseCredentials("Basic "+enc, nil)
		if err != nil || c2.BasicID != c.BasicID || c2.BasicSecret != c.BasicSecret {
			t.Fatalf("round trip of %q/%q: %+v, %v", c.BasicID, c.BasicSecret, c2, err)
		}
	})
}
