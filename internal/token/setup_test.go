package token

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/testenv/testclock"
)

const (
	testIssuer  = "https://as.example"
	redirectURI = "https://app.example/cb"
	testSecret  = "client-secret-0123456789"
	subject     = "user-1"
)

// Test client IDs.
const (
	fapiID   = "fapi"   // fapi2, private_key_jwt: code, refresh, client_credentials
	fapi2ID  = "fapi-2" // fapi2, private_key_jwt, own key
	stdID    = "std"    // standard, client_secret_post: code, refresh, client_credentials
	publicID = "public" // standard, none: code, refresh
	noRTID   = "no-rt"  // standard, client_secret_post: code only
	apiID    = "api"    // standard, client_secret_post: client_credentials, tokens for rsID
	rsID     = "rs"     // standard, client_secret_post: a resource server that introspects
)

// clock is the settable test clock.
type clock = testclock.Clock

func newClock() *clock { return testclock.New() }

var (
	keysOnce                  sync.Once
	keysErr                   error
	serverKey, otherServerKey *jose.PrivateKey
	clientKeys                map[string]*jose.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		clientKeys = map[string]*jose.PrivateKey{}
		for _, p := range []**jose.PrivateKey{&serverKey, &otherServerKey} {
			if *p, keysErr = jose.GenerateKey(jose.ES256); keysErr != nil {
				return
			}
		}
		for _, id := range []string{fapiID, fapi2ID} {
			if clientKeys[id], keysErr = jose.GenerateKey(jose.ES256); keysErr != nil {
				return
			}
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
}

type env struct {
	svc   *Service
	st    *store.Store
	clock *clock
}

func newEnv(t testing.TB) *env {
	t.Helper()
	testKeys(t)
	ctx := context.Background()
	st := memory.New()
	clk := newClock()
	reg := &clients.Registry{
		Store: st.Clients, Replay: st.Replay, Secrets: secret.NewVerifier(0, 0, clk.Now),
		Issuer: testIssuer, Now: clk.Now,
	}
	all := []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}
	pkj := func(id string) clients.Client {
		keys, _ := json.Marshal(map[string]any{"keys": []any{clientKeys[id].Public()}})
		return clients.Client{
			ID: id, ProfileName: clients.ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: keys,
			RedirectURIs: []string{redirectURI}, GrantTypes: all, Scopes: oauth.NewScopes("openid", "profile", "accounts"),
		}
	}
	post := func(id string, grants []string, scopes ...string) clients.Client {
		return clients.Client{
			ID: id, ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthClientSecretPost,
			RedirectURIs: []string{redirectURI}, GrantTypes: grants, Scopes: oauth.NewScopes(scopes...),
		}
	}
	api := post(apiID, []string{oauth.GrantClientCredentials}, "api")
	api.Audience = []string{rsID}
	cheap := secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}
	for _, c := range []clients.Client{
		pkj(fapiID), pkj(fapi2ID),
		post(stdID, all, "openid", "profile", "api"),
		post(noRTID, []string{oauth.GrantAuthorizationCode}, "openid"),
		api,
		post(rsID, []string{oauth.GrantClientCredentials}, "introspect"),
		{ID: publicID, ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthNone, RedirectURIs: []string{redirectURI},
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}, Scopes: oauth.NewScopes("openid", "offline_access")},
	} {
		sec := ""
		if c.AuthMethod == oauth.AuthClientSecretPost {
			sec = testSecret
		}
		if err := reg.Register(ctx, &c, sec, cheap); err != nil {
			t.Fatal(err)
		}
	}
	return &env{st: st, clock: clk, svc: &Service{
		Clients: reg, Store: st, Signer: jose.NewSigner(serverKey), Keys: jose.NewKeySet(serverKey.Public()),
		Issuer: testIssuer, Now: clk.Now,
		DPoP: &dpop.Verifier{
			Replay: st.Replay, IsReplayed: func(err error) bool { return errors.Is(err, store.ErrReplayed) },
			Nonces: dpop.NewNonces([]byte("token-test-nonce-secret-0123456789abcdef"), time.Minute), Now: clk.Now,
		},
	}}
}

// creds returns valid credentials for client id.
func (e *env) creds(t testing.TB, id string) clients.Credentials {
	t.Helper()
	switch id {
	case fapiID, fapi2ID:
		now := e.clock.Now().Unix()
		a, err := jose.SignWithKey(clientKeys[id], "", false, map[string]any{
			"iss": id, "sub": id, "aud": testIssuer, "iat": now, "exp": now + 60, "jti": random(16),
		})
		if err != nil {
			t.Fatal(err)
		}
		return clients.Credentials{ClientID: id, AssertionType: oauth.ClientAssertionTypeJWT, Assertion: a}
	case publicID:
		return clients.Credentials{ClientID: id}
	default:
		return clients.Credentials{ClientID: id, PostSecret: testSecret, HasPostSecret: true}
	}
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// issueCode stores an authorization code for client the way package
// authorize does, and returns it with its PKCE verifier.
func (e *env) issueCode(t testing.TB, client string, mutate func(*oauth.CodeData)) (code, verifier string) {
	t.Helper()
	verifier = random(32)
	now := e.clock.Now()
	d := oauth.CodeData{
		RedirectURI: redirectURI, CodeChallenge: s256(verifier), Subject: subject,
		AuthTime: now.Add(-time.Minute), Scopes: oauth.NewScopes("openid", "profile"), Nonce: "n-0S6_WzA2Mj",
	}
	if mutate != nil {
		mutate(&d)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	code = random(32)
	if err := e.st.Codes.Put(context.Background(), store.Hash(code), &store.AuthorizationCode{
		ClientID: client, GrantID: random(32), Params: b, ExpiresAt: now.Add(60 * time.Second),
	}); err != nil {
		t.Fatal(err)
	}
	return code, verifier
}

// codeRequest is the token request that redeems code.
func (e *env) codeRequest(t testing.TB, client, code, verifier string) *Request {
	return &Request{
		GrantType: oauth.GrantAuthorizationCode, Code: code, CodeVerifier: verifier,
		RedirectURI: redirectURI, Credentials: e.creds(t, client),
	}
}

// redeem redeems a fresh code for client and returns the token response.
func (e *env) redeem(t testing.TB, client string, mutate func(*oauth.CodeData)) *oauth.TokenResponse {
	t.Helper()
	code, v := e.issueCode(t, client, mutate)
	res, err := e.svc.Exchange(context.Background(), e.codeRequest(t, client, code, v))
	if err != nil {
		t.Fatalf("redeem code: %v", err)
	}
	return res
}

func (e *env) refresh(t testing.TB, client, rt string) (*oauth.TokenResponse, error) {
	return e.svc.Exchange(context.Background(), &Request{GrantType: oauth.GrantRefreshToken, RefreshToken: rt, Credentials: e.creds(t, client)})
}

// access verifies an access token like a resource server that introspects.
func (e *env) access(t testing.TB, tok string) (*accessClaims, bool) {
	t.Helper()
	c, err := e.svc.verifyAccess(context.Background(), tok)
	if err != nil && err != errInactive {
		t.Fatal(err)
	}
	return c, err == nil
}

// errCode returns the OAuth error code of err, or "" for nil.
func errCode(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	oe, ok := oauth.As(err)
	if !ok {
		t.Fatalf("error is not an *oauth.Error: %v", err)
	}
	return oe.Code
}
