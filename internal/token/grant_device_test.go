package token

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// Device-grant test clients, registered by newDeviceEnv.
const (
	tvID    = "tv"    // standard, none: device_code, refresh_token
	kioskID = "kiosk" // standard, none: device_code only
)

func newDeviceEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	for _, c := range []clients.Client{
		{ID: tvID, ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthNone,
			GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}, Scopes: oauth.NewScopes("openid", "profile")},
		{ID: kioskID, ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthNone,
			GrantTypes: []string{oauth.GrantDeviceCode}, Scopes: oauth.NewScopes("profile")},
	} {
		if err := e.svc.Clients.Register(t.Context(), &c, "", secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// issueDevice stores a device authorization for client the way package
// authorize does, lets mutate change it, and returns the device code.
func (e *env) issueDevice(t *testing.T, client string, mutate func(*store.DeviceCode)) string {
	t.Helper()
	code := random(32)
	d := &store.DeviceCode{
		ClientID: client, UserCodeHash: store.Hash("user:" + code), Scopes: "openid profile",
		ExpiresAt: e.clock.Now().Add(10 * time.Minute), Interval: 5 * time.Second, Status: store.DevicePending,
	}
	if client == kioskID {
		d.Scopes = "profile"
	}
	if mutate != nil {
		mutate(d)
	}
	if err := e.st.DeviceCodes.Put(t.Context(), store.Hash(code), d); err != nil {
		t.Fatal(err)
	}
	return code
}

// decide records the user's answer as the /device pages would.
func (e *env) decide(t *testing.T, code string, status store.DeviceStatus) {
	t.Helper()
	if err := e.st.DeviceCodes.Decide(t.Context(), store.Hash(code), status, subject, e.clock.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// deviceCreds authenticates the device clients (public) and the others.
func (e *env) deviceCreds(t *testing.T, client string) clients.Credentials {
	if client == tvID || client == kioskID {
		return clients.Credentials{ClientID: client}
	}
	return e.creds(t, client)
}

func (e *env) poll(t *testing.T, client, code string) (*oauth.TokenResponse, error) {
	t.Helper()
	return e.svc.Exchange(t.Context(), &Request{GrantType: oauth.GrantDeviceCode, DeviceCode: code, Credentials: e.deviceCreds(t, client), EndpointURL: tokenURL})
}

// TestDeviceGrant covers each answer of RFC 8628 §3.5 to one poll.
func TestDeviceGrant(t *testing.T) {
	tests := []struct {
		name   string
		client string
		// setup prepares the device code (already issued to tvID unless
		// code is overridden) before the poll.
		setup    func(t *testing.T, e *env, code string)
		code     func(code string) string
		wantErr  string
		wantID   bool // id_token expected
		wantRT   bool // refresh_token expected
		wantCode int  // HTTP status of the error; 400 unless set
	}{
		{name: "ok/pending_first_poll", client: tvID, wantErr: oauth.ErrAuthorizationPending},
		{name: "ok/pending_after_interval", client: tvID, setup: func(t *testing.T, e *env, c string) {
			e.poll(t, tvID, c)
			e.clock.Advance(5 * time.Second)
		}, wantErr: oauth.ErrAuthorizationPending},
		{name: "ok/slow_down", client: tvID, setup: func(t *testing.T, e *env, c string) {
			e.poll(t, tvID, c)
			e.clock.Advance(4 * time.Second)
		}, wantErr: oauth.ErrSlowDown},
		{name: "ok/approved", client: tvID, setup: func(t *testing.T, e *env, c string) { e.decide(t, c, store.DeviceApproved) },
			wantID: true, wantRT: true},
		{name: "ok/approved_polled_too_fast", client: tvID, setup: func(t *testing.T, e *env, c string) {
			e.poll(t, tvID, c)
			e.decide(t, c, store.DeviceApproved)
		}, wantID: true, wantRT: true},
		{name: "ok/approved_no_openid_no_refresh", client: kioskID, setup: func(t *testing.T, e *env, c string) { e.decide(t, c, store.DeviceApproved) }},
		{name: "fail/denied", client: tvID, setup: func(t *testing.T, e *env, c string) { e.decide(t, c, store.DeviceDenied) },
			wantErr: oauth.ErrAccessDenied},
		{name: "fail/expired", client: tvID, setup: func(t *testing.T, e *env, c string) { e.clock.Advance(10 * time.Minute) },
			wantErr: oauth.ErrExpiredToken},
		{name: "fail/expired_after_approval", client: tvID, setup: func(t *testing.T, e *env, c string) {
			e.decide(t, c, store.DeviceApproved)
			e.clock.Advance(10 * time.Minute)
		}, wantErr: oauth.ErrExpiredToken},
		{name: "fail/used", client: tvID, setup: func(t *testing.T, e *env, c string) {
			e.decide(t, c, store.DeviceApproved)
			if _, err := e.poll(t, tvID, c); err != nil {
				t.Fatal(err)
			}
		}, wantErr: oauth.ErrInvalidGrant},
		{name: "fail/other_client", client: kioskID, setup: func(t *testing.T, e *env, c string) { e.decide(t, c, store.DeviceApproved) },
			wantErr: oauth.ErrInvalidGrant},
		{name: "fail/unknown", client: tvID, code: func(string) string { return random(32) }, wantErr: oauth.ErrInvalidGrant},
		{name: "fail/missing", client: tvID, code: func(string) string { return "" }, wantErr: oauth.ErrInvalidRequest},
		{name: "fail/oversized", client: tvID, code: func(c string) string { return strings.Repeat(c, 4) }, wantErr: oauth.ErrInvalidGrant},
		{name: "fail/not_registered", client: publicID, wantErr: oauth.ErrUnauthorizedClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDeviceEnv(t)
			issuedTo := tvID
			if tt.client == kioskID && !strings.Contains(tt.name, "other_client") {
				issuedTo = kioskID
			}
			code := e.issueDevice(t, issuedTo, nil)
			if tt.setup != nil {
				tt.setup(t, e, code)
			}
			if tt.code != nil {
				code = tt.code(code)
			}
			res, err := e.poll(t, tt.client, code)
			if got := errCode(t, err); got != tt.wantErr {
				t.Fatalf("error = %q (%v), want %q", got, err, tt.wantErr)
			}
			if err != nil {
				oe, _ := oauth.As(err)
				want := tt.wantCode
				if want == 0 && tt.wantErr != oauth.ErrUnauthorizedClient {
					want = http.StatusBadRequest
				}
				if want != 0 && oe.HTTPStatus() != want {
					t.Errorf("HTTP status = %d, want %d", oe.HTTPStatus(), want)
				}
				if res != nil {
					t.Error("a failed poll returned tokens")
				}
				return
			}
			if res.AccessToken == "" || res.TokenType != oauth.TokenTypeBearer {
				t.Errorf("response = %+v, want a Bearer access token", res)
			}
			if (res.IDToken != "") != tt.wantID || (res.RefreshToken != "") != tt.wantRT {
				t.Errorf("id_token %v, refresh_token %v; want %v, %v", res.IDToken != "", res.RefreshToken != "", tt.wantID, tt.wantRT)
			}
			at, ok := e.access(t, res.AccessToken)
			if !ok || at.Subject != subject || at.ClientID != tt.client || at.GrantID == "" {
				t.Errorf("access token claims = %+v (active %v)", at, ok)
			}
			if tt.wantID && (res.Scope != "openid profile" || at.AuthTime == 0) {
				t.Errorf("scope %q, auth_time %d", res.Scope, at.AuthTime)
			}
		})
	}
}

// TestDeviceGrantPolling walks one device code through the RFC 8628 §3.5
// states in order, with the interval growing on every slow_down.
func TestDeviceGrantPolling(t *testing.T) {
	e := newDeviceEnv(t)
	code := e.issueDevice(t, tvID, nil)
	steps := []struct {
		advance time.Duration
		decide  store.DeviceStatus
		want    string
	}{
		{0, "", oauth.ErrAuthorizationPending},
		{1 * time.Second, "", oauth.ErrSlowDown},              // interval 5 s → 10 s
		{6 * time.Second, "", oauth.ErrSlowDown},              // 6 s < 10 s → 15 s
		{15 * time.Second, "", oauth.ErrAuthorizationPending}, // on time
		{14 * time.Second, "", oauth.ErrSlowDown},             // 14 s < 15 s → 20 s
		{20 * time.Second, store.DeviceApproved, ""},
		{20 * time.Second, "", oauth.ErrInvalidGrant}, // tokens only once
	}
	for i, st := range steps {
		e.clock.Advance(st.advance)
		if st.decide != "" {
			e.decide(t, code, st.decide)
		}
		_, err := e.poll(t, tvID, code)
		if got := errCode(t, err); got != st.want {
			t.Fatalf("poll #%d (+%v): error %q (%v), want %q", i, st.advance, got, err, st.want)
		}
	}
}

// TestDeviceGrantOnce races polls of one approved device code: exactly one
// gets tokens.
func TestDeviceGrantOnce(t *testing.T) {
	e := newDeviceEnv(t)
	code := e.issueDevice(t, tvID, nil)
	e.decide(t, code, store.DeviceApproved)
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.svc.Exchange(context.Background(), &Request{GrantType: oauth.GrantDeviceCode, DeviceCode: code, Credentials: clients.Credentials{ClientID: tvID}})
			errs <- err
		}()
	}
	wins := 0
	for range n {
		// The code is approved, so a poll that came too fast still gets
		// tokens if it wins; every loser hears invalid_grant.
		switch err := <-errs; errCode(t, err) {
		case "":
			wins++
		case oauth.ErrInvalidGrant:
		default:
			t.Errorf("loser got %v, want invalid_grant", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d polls got tokens, want exactly 1", wins)
	}
}

// TestDeviceGrantDPoP checks that phase 4 binds device-grant tokens like
// any other: a poll with a DPoP proof gets a DPoP token with cnf.jkt, and
// the public client's refresh token is bound to the same key.
func TestDeviceGrantDPoP(t *testing.T) {
	e := newDeviceEnv(t)
	key, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	proof := func() []string {
		p, err := dpop.NewProof(key, dpop.ProofParams{Method: "POST", URL: tokenURL, Now: e.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return []string{p}
	}
	code := e.issueDevice(t, tvID, nil)
	e.decide(t, code, store.DeviceApproved)
	res, err := e.svc.Exchange(t.Context(), &Request{
		GrantType: oauth.GrantDeviceCode, DeviceCode: code, Credentials: e.deviceCreds(t, tvID),
		DPoPProofs: proof(), EndpointURL: tokenURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.TokenType != oauth.TokenTypeDPoP {
		t.Errorf("token_type = %q, want DPoP", res.TokenType)
	}
	at, _ := e.access(t, res.AccessToken)
	if at.Cnf["jkt"] != key.Public().Thumbprint() {
		t.Errorf("cnf = %v, want the proof key's jkt", at.Cnf)
	}
	// RFC 9449 §5: the public client's refresh token needs the same key.
	_, err = e.svc.Exchange(t.Context(), &Request{GrantType: oauth.GrantRefreshToken, RefreshToken: res.RefreshToken, Credentials: e.deviceCreds(t, tvID)})
	if errCode(t, err) != oauth.ErrInvalidDPoPProof {
		t.Errorf("refresh without the DPoP key = %v, want invalid_dpop_proof", err)
	}
}
