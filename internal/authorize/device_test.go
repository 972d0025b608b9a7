package authorize

import (
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
)

const (
	deviceID        = "tv"
	verificationURI = testIssuer + "/device"
)

// newDeviceEnv is newEnv with a public client registered for the device
// grant and the verification URI configured.
func newDeviceEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	c := clients.Client{
		ID: deviceID, Name: "Living Room TV", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthNone,
		GrantTypes: []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}, Scopes: oauth.NewScopes("openid", "profile"),
	}
	if err := e.svc.Clients.Register(t.Context(), &c, "", secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Clients.Get(t.Context(), deviceID)
	if err != nil {
		t.Fatal(err)
	}
	e.clients[deviceID] = got
	e.svc.VerificationURI = verificationURI
	return e
}

var displayCode = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

func TestDeviceAuthorize(t *testing.T) {
	tests := []struct {
		name, client, scope string
		wantErr             string
	}{
		{"ok/scopes", deviceID, "openid profile", ""},
		{"ok/no_scope", deviceID, "", ""},
		{"fail/grant_not_registered", publicID, "openid", oauth.ErrUnauthorizedClient},
		{"fail/scope_not_registered", deviceID, "openid email", oauth.ErrInvalidScope},
		{"fail/scope_malformed", deviceID, "openid \"profile\"", oauth.ErrInvalidScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDeviceEnv(t)
			res, err := e.svc.DeviceAuthorize(t.Context(), e.clients[tt.client], DeviceRequest{Scope: tt.scope})
			if got := errCode(t, err); got != tt.wantErr {
				t.Fatalf("error = %q (%v), want %q", got, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(res.DeviceCode) < 43 {
				t.Errorf("device_code %q carries less than 256 bits", res.DeviceCode)
			}
			if !displayCode.MatchString(res.UserCode) {
				t.Errorf("user_code %q is not XXXX-XXXX from the RFC 8628 §6.1 alphabet", res.UserCode)
			}
			if res.VerificationURI != verificationURI {
				t.Errorf("verification_uri = %q, want %q", res.VerificationURI, verificationURI)
			}
			u, err := url.Parse(res.VerificationURIComplete)
			if err != nil || u.Query().Get("user_code") != res.UserCode || res.VerificationURIComplete[:len(verificationURI)] != verificationURI {
				t.Errorf("verification_uri_complete = %q, want %s?user_code=%s", res.VerificationURIComplete, verificationURI, res.UserCode)
			}
			if res.ExpiresIn != 600 || res.Interval != 5 {
				t.Errorf("expires_in, interval = %d, %d; want 600, 5", res.ExpiresIn, res.Interval)
			}
			// Both codes are stored only as hashes.
			code, _ := NormalizeUserCode(res.UserCode)
			hash, rec, err := e.st.DeviceCodes.GetByUserCode(t.Context(), userCodeHash(code))
			if err != nil {
				t.Fatalf("GetByUserCode: %v", err)
			}
			if hash != store.Hash(res.DeviceCode) {
				t.Errorf("record stored under %q, want the hash of the device code", hash)
			}
			want := store.DeviceCode{
				ClientID: deviceID, UserCodeHash: userCodeHash(code), Scopes: tt.scope,
				ExpiresAt: e.clock.Now().Add(10 * time.Minute), Interval: 5 * time.Second, Status: store.DevicePending,
			}
			if rec.ClientID != want.ClientID || rec.Scopes != want.Scopes || !rec.ExpiresAt.Equal(want.ExpiresAt) ||
				rec.Interval != want.Interval || rec.Status != want.Status {
				t.Errorf("stored %+v, want %+v", rec, want)
			}
		})
	}
}

func TestDeviceAuthorizeSettings(t *testing.T) {
	e := newDeviceEnv(t)
	e.svc.DeviceCodeTTL, e.svc.DevicePollInterval = 90*time.Second, 7*time.Second
	res, err := e.svc.DeviceAuthorize(t.Context(), e.clients[deviceID], DeviceRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExpiresIn != 90 || res.Interval != 7 {
		t.Errorf("expires_in, interval = %d, %d; want 90, 7", res.ExpiresIn, res.Interval)
	}
}

func TestDeviceDecision(t *testing.T) {
	approval := oauth.Approval{Subject: "alice"}
	tests := []struct {
		name string
		// typed turns the issued user code into what the user enters.
		typed   func(code string) string
		advance time.Duration
		approve bool
		// found is whether LookupDevice finds it; then DecideDevice runs.
		found      bool
		wantStatus store.DeviceStatus
	}{
		{"ok/approve", func(c string) string { return c }, 0, true, true, store.DeviceApproved},
		{"ok/deny", func(c string) string { return c }, 0, false, true, store.DeviceDenied},
		{"ok/typed_loosely", func(c string) string { return " " + lower(c[:4]) + " " + c[5:] }, 0, true, true, store.DeviceApproved},
		{"fail/wrong_code", func(string) string { return "BBBB-BBBB" }, 0, true, false, store.DevicePending},
		{"fail/malformed", func(string) string { return "hello" }, 0, true, false, store.DevicePending},
		{"fail/expired", func(c string) string { return c }, 10 * time.Minute, true, false, store.DevicePending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDeviceEnv(t)
			ctx := t.Context()
			res, err := e.svc.DeviceAuthorize(ctx, e.clients[deviceID], DeviceRequest{Scope: "openid profile"})
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tt.advance)
			in, err := e.svc.LookupDevice(ctx, tt.typed(res.UserCode))
			if err != nil {
				t.Fatalf("LookupDevice: %v", err)
			}
			if (in != nil) != tt.found {
				t.Fatalf("LookupDevice found %v, want %v", in != nil, tt.found)
			}
			if in != nil {
				if in.UserCode != res.UserCode || in.ClientID != deviceID || in.ClientName != "Living Room TV" ||
					in.Scopes.String() != "openid profile" || in.Handle != "" {
					t.Errorf("interaction = %+v", in)
				}
				if err := e.svc.DecideDevice(ctx, tt.typed(res.UserCode), tt.approve, approval); err != nil {
					t.Fatalf("DecideDevice: %v", err)
				}
				// The first decision stands and the code is no longer
				// pending: it cannot be found or decided again.
				if again, err := e.svc.LookupDevice(ctx, res.UserCode); again != nil || err != nil {
					t.Errorf("LookupDevice after the decision = %v, %v; want nil, nil", again, err)
				}
				if err := e.svc.DecideDevice(ctx, res.UserCode, !tt.approve, approval); errCode(t, err) != oauth.ErrInvalidRequest {
					t.Errorf("second DecideDevice = %v, want invalid_request", err)
				}
			} else if err := e.svc.DecideDevice(ctx, tt.typed(res.UserCode), true, approval); errCode(t, err) != oauth.ErrInvalidRequest {
				t.Errorf("DecideDevice of an unknown code = %v, want invalid_request", err)
			}
			rec, _, err := e.st.DeviceCodes.Poll(ctx, store.Hash(res.DeviceCode), e.clock.Now(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != tt.wantStatus {
				t.Errorf("status = %q, want %q", rec.Status, tt.wantStatus)
			}
			if tt.wantStatus != store.DevicePending && rec.Subject != "alice" {
				t.Errorf("subject = %q, want alice", rec.Subject)
			}
		})
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
