package login

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// DeviceFlow is the device authorization behind the /device pages
// (RFC 8628 §3.3). Package authorize implements it. Errors are
// *oauth.Error values to show as a page.
type DeviceFlow interface {
	// LookupDevice returns the pending device authorization for a user
	// code as the user typed it, with Interaction.UserCode set, or nil and
	// no error when there is none; the page must not tell a malformed,
	// unknown, expired or used code apart.
	LookupDevice(ctx context.Context, userCode string) (*oauth.Interaction, error)
	// DecideDevice records the user's answer for the pending
	// authorization behind userCode.
	DecideDevice(ctx context.Context, userCode string, approve bool, a oauth.Approval) error
}

// The steps of the device form posts, in the hidden "step" field.
const (
	deviceStepCode   = "code"   // the user entered a code
	deviceStepLogin  = "login"  // the login form, for a code entered before
	deviceStepDecide = "decide" // the consent form
)

// maxShownUserCode bounds a user_code echoed back into the form.
const maxShownUserCode = 64

// ShowDevice serves GET at the verification URI: the code entry form,
// pre-filled from verification_uri_complete's user_code. It never looks
// the code up: the user still confirms it, signs in and approves
// (RFC 8628 §5.4, remote phishing), and a GET that answered "valid" or
// "unknown" would be an oracle outside the rate limit.
func (p *Pages) ShowDevice(w http.ResponseWriter, r *http.Request) error {
	q, err := httpx.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	code := q.Get("user_code")
	if len(code) > maxShownUserCode {
		code = ""
	}
	return p.renderDevice(w, r, http.StatusOK, code, "")
}

// HandleDevice serves the form posts of the device flow: code entry, then
// login (when the browser has no session) and consent. Every post carries
// the user code and looks it up again, so each step is covered by the
// same per-IP limit on failed code entries (RFC 8628 §5.1); the consent
// page always shows, since a remembered consent would let a phished code
// through unseen (RFC 8628 §5.4).
func (p *Pages) HandleDevice(w http.ResponseWriter, r *http.Request) error {
	if p.Device == nil {
		return &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "the device flow is not enabled", Status: http.StatusNotFound}
	}
	form, err := p.checkPost(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	typed := form.Get("user_code")
	if len(typed) > maxShownUserCode {
		typed = ""
	}
	limitKey := "device:" + httpx.ClientIP(r)
	if err := p.PerIP.Exceeded(limitKey); err != nil {
		w.Header().Set("Retry-After", err.(*oauth.Error).Header["Retry-After"])
		return p.renderDevice(w, r, http.StatusTooManyRequests, typed, "Too many attempts. Wait a minute and try again.")
	}
	in, err := p.Device.LookupDevice(ctx, typed)
	if err != nil {
		return err
	}
	if in == nil {
		// Only failures count, as at login; the answer is the same for
		// every kind of wrong code.
		p.PerIP.Allow(limitKey)
		p.Log.InfoContext(ctx, "device code not accepted")
		return p.renderDevice(w, r, http.StatusBadRequest, typed, "That code is not valid. Check the code on your device and try again.")
	}
	s, _, err := p.session(r)
	if err != nil {
		return err
	}
	switch form.Get("step") {
	case deviceStepCode:
	case deviceStepLogin:
		loginKey := "login:" + httpx.ClientIP(r)
		if err := p.PerIP.Exceeded(loginKey); err != nil {
			w.Header().Set("Retry-After", err.(*oauth.Error).Header["Retry-After"])
			return p.renderDeviceLogin(w, r, http.StatusTooManyRequests, in, form.Get("username"), "Too many attempts. Wait a minute and try again.")
		}
		u, err := p.authenticate(ctx, form.Get("username"), form.Get("password"))
		if err != nil {
			var oe *oauth.Error
			if errors.As(err, &oe) {
				return err
			}
			p.PerIP.Allow(loginKey)
			p.Log.InfoContext(ctx, "login failed", slog.String("reason", err.Error()))
			return p.renderDeviceLogin(w, r, http.StatusUnauthorized, in, form.Get("username"), "Incorrect username or password.")
		}
		if s, err = p.startSession(w, r, u.Subject); err != nil {
			return err
		}
	case deviceStepDecide:
		if s == nil {
			return p.renderDeviceLogin(w, r, http.StatusOK, in, "", "Your session ended. Sign in again.")
		}
		var approve bool
		switch form.Get("decision") {
		case "approve":
			approve = true
		case "deny":
		default:
			return oauth.InvalidRequest("decision must be approve or deny")
		}
		if err := p.Device.DecideDevice(ctx, in.UserCode, approve, oauth.Approval{Subject: s.Subject, AuthTime: s.AuthTime, Scopes: in.Scopes}); err != nil {
			return err
		}
		return p.renderDeviceDone(w, in, approve)
	default:
		return oauth.InvalidRequest("unknown step")
	}
	if s == nil {
		return p.renderDeviceLogin(w, r, http.StatusOK, in, "", "")
	}
	u, err := p.Users.Get(ctx, s.Subject)
	if err != nil {
		return oauth.Unavailable(err)
	}
	return p.renderDeviceConsent(w, r, in, u.Username)
}

func (p *Pages) renderDevice(w http.ResponseWriter, r *http.Request, status int, code, msg string) error {
	return p.render(w, status, "device.html", pageData{
		Title: "Connect a device", Action: p.BasePath + devicePath, CSRF: p.csrfToken(w, r),
		UserCode: code, Error: msg,
	})
}

func (p *Pages) renderDeviceLogin(w http.ResponseWriter, r *http.Request, status int, in *oauth.Interaction, username, msg string) error {
	return p.render(w, status, "login.html", pageData{
		Title: "Sign in", Action: p.BasePath + devicePath, CSRF: p.csrfToken(w, r),
		Hidden:     []hiddenField{{"step", deviceStepLogin}, {"user_code", in.UserCode}},
		ClientName: in.ClientName, ClientID: in.ClientID, Username: username, Error: msg,
	})
}

func (p *Pages) renderDeviceConsent(w http.ResponseWriter, r *http.Request, in *oauth.Interaction, username string) error {
	return p.render(w, http.StatusOK, "consent.html", pageData{
		Title: "Consent", Action: p.BasePath + devicePath, CSRF: p.csrfToken(w, r),
		Hidden:     []hiddenField{{"step", deviceStepDecide}, {"user_code", in.UserCode}},
		ClientName: in.ClientName, ClientID: in.ClientID, Username: username,
		Scopes: scopeViews(in.Scopes), UserCode: in.UserCode,
	})
}

func (p *Pages) renderDeviceDone(w http.ResponseWriter, in *oauth.Interaction, approved bool) error {
	d := pageData{Title: "Device connected", Description: in.ClientName + " now has the access you allowed."}
	if !approved {
		d = pageData{Title: "Request denied", Description: in.ClientName + " was not given access."}
	}
	return p.render(w, http.StatusOK, "device_done.html", d)
}

// devicePath is the verification URI's path below the issuer; package
// discovery names the same path.
const devicePath = "/device"
