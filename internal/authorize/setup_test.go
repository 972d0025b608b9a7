package authorize

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/testenv/testclock"
)

const (
	testIssuer = "https://as.example"
	appURI     = "https://app.example/cb"
	loopURI    = "http://127.0.0.1/cb"
	oneURI     = "https://one.example/cb?tenant=7"
)

// Test client IDs.
const (
	fapiID   = "fapi"   // fapi2, private_key_jwt; appURI and loopURI
	fapi1ID  = "fapi1"  // fapi2, private_key_jwt; only appURI
	publicID = "public" // standard, none; loopURI and appURI
	oneID    = "one"    // standard, none; only oneURI
	ccID     = "cc"     // standard, client_credentials only
)

// verifier and challenge are a fixed PKCE pair (RFC 7636 appendix B).
const (
	verifier  = "dBjftJeZ4CVP-mJ92K9Bl0QOBh9Hu5OMuAKQXFK1Sbo"
	challenge = "E9Melhoa2OwvFWCvFPfmnp2h6pM2O1WWZnNQAPvhSYM"
)

// clock is the settable test clock.
type clock = testclock.Clock

func newClock() *clock { return testclock.New() }

// clientIDs lists the test clients; fuzz targets pick one by index.
var clientIDs = []string{fapiID, fapi1ID, publicID, oneID, ccID}

type env struct {
	svc     *Service
	st      *store.Store
	clock   *clock
	clients map[string]*clients.Client
}

var (
	keyOnce sync.Once
	key     *jose.PrivateKey
	keyErr  error
)

func newEnv(t testing.TB) *env {
	t.Helper()
	keyOnce.Do(func() { key, keyErr = jose.GenerateKey(jose.ES256) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	ctx := context.Background()
	st := memory.New()
	clk := newClock()
	reg := &clients.Registry{Store: st.Clients, Replay: st.Replay, Issuer: testIssuer, Now: clk.Now}
	keys, _ := json.Marshal(map[string]any{"keys": []any{key.Public()}})
	cheap := secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}
	for _, c := range []struct {
		c   clients.Client
		sec string
	}{
		{clients.Client{
			ID: fapiID, Name: "FAPI App", ProfileName: clients.ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: keys,
			RedirectURIs: []string{appURI, loopURI}, GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			Scopes: oauth.Scopes{"openid", "accounts", "profile"}, // unsorted on purpose
		}, ""},
		{clients.Client{
			ID: fapi1ID, ProfileName: clients.ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: keys,
			RedirectURIs: []string{appURI}, Scopes: oauth.NewScopes("openid"),
		}, ""},
		{clients.Client{
			ID: publicID, ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthNone,
			RedirectURIs: []string{loopURI, appURI}, Scopes: oauth.NewScopes("openid", "profile", "email"),
		}, ""},
		{clients.Client{
			ID: oneID, ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthNone,
			RedirectURIs: []string{oneURI}, Scopes: oauth.NewScopes("openid"),
		}, ""},
		{clients.Client{
			ID: ccID, ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthClientSecretBasic,
			GrantTypes: []string{oauth.GrantClientCredentials}, RedirectURIs: []string{appURI}, Scopes: oauth.NewScopes("api"),
		}, "cc-secret-0123456789"},
	} {
		if err := reg.Register(ctx, &c.c, c.sec, cheap); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{st: st, clock: clk, clients: map[string]*clients.Client{}, svc: &Service{
		Clients: reg, Store: st, Issuer: testIssuer,
		PARTTL: 60 * time.Second, LoginTTL: 10 * time.Minute, Now: clk.Now,
	}}
	for _, id := range clientIDs {
		c, err := reg.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		e.clients[id] = c
	}
	return e
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

func isPage(err error) bool {
	var pe *PageError
	return errors.As(err, &pe)
}

func asRedirect(err error) (*RedirectError, bool) {
	var re *RedirectError
	ok := errors.As(err, &re)
	return re, ok
}
