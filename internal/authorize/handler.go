package authorize

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
)

// UI shows the end-user pages of an authorization: login, consent, and
// error pages. Package login implements it.
type UI interface {
	// Show continues the interaction in the browser: it renders the login
	// or consent page, or completes the request when the user is already
	// logged in and has consented.
	Show(w http.ResponseWriter, r *http.Request, in *oauth.Interaction) error
	// ShowError renders an error page. It never redirects.
	ShowError(w http.ResponseWriter, r *http.Request, status int, e *oauth.Error)
}

// Handler is the HTTP edge of PAR and the authorization endpoint.
type Handler struct {
	Service *Service
	UI      UI
	Log     *slog.Logger
	// PerIP and PerClient rate-limit the PAR endpoint; nil disables.
	PerIP, PerClient *httpx.RateLimiter
	Metrics          *telemetry.Metrics
	// PARURL is the configured external URL of the PAR endpoint this
	// handler serves (the mTLS alias on the mTLS listener).
	PARURL string
	// Certs finds client certificates; nil reads the TLS connection only.
	Certs *httpx.CertSource
}

// PAR serves POST to the pushed authorization request endpoint
// (RFC 9126 §2): client authentication exactly as at the token endpoint,
// 201 with request_uri and expires_in on success.
func (h *Handler) PAR(w http.ResponseWriter, r *http.Request) error {
	form, c, err := h.authenticate(w, r, "par:")
	if err != nil {
		return err
	}
	proofs := r.Header.Values(dpop.HeaderName)
	if v := h.Service.DPoP; v != nil && v.Nonces != nil && len(proofs) > 0 {
		// RFC 9449 §8.2: a fresh nonce rides on every response.
		w.Header().Set(dpop.NonceHeaderName, v.Nonces.Current())
	}
	res, err := h.Service.Push(r.Context(), c, PushRequest{Params: form, DPoPProofs: proofs, EndpointURL: h.PARURL})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, res)
	return nil
}

// DeviceAuthorization serves POST to the device authorization endpoint
// (RFC 8628 §3.1): client authentication exactly as at the token
// endpoint, 200 with the device and user codes on success (§3.2). It
// shares the PAR endpoint's rate limits, under its own keys.
func (h *Handler) DeviceAuthorization(w http.ResponseWriter, r *http.Request) error {
	form, c, err := h.authenticate(w, r, "device:")
	if err != nil {
		return err
	}
	res, err := h.Service.DeviceAuthorize(r.Context(), c, DeviceRequest{Scope: form.Get("scope")})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, res)
	return nil
}

// authenticate is the front half of PAR and device authorization: rate
// limits per IP and per client (under the endpoint's key prefix), the
// bounded form, and client authentication exactly as at the token endpoint
// (the client certificate included).
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, limitPrefix string) (url.Values, *clients.Client, error) {
	if err := h.PerIP.Allow(limitPrefix + httpx.ClientIP(r)); err != nil {
		return nil, nil, err
	}
	form, err := httpx.ParseForm(w, r, 0)
	if err != nil {
		return nil, nil, err
	}
	creds, err := clients.ParseCredentials(r.Header.Get("Authorization"), form)
	if err != nil {
		return nil, nil, err
	}
	if creds.Certificate, creds.Intermediates, err = h.Certs.Certificate(r); err != nil {
		return nil, nil, err
	}
	if err := h.PerClient.Allow(limitPrefix + creds.ClientID + creds.BasicID); err != nil {
		return nil, nil, err
	}
	c, err := h.Service.Clients.Authenticate(r.Context(), creds)
	if err != nil {
		countAuthFailure(h.Metrics, err)
		return nil, nil, err
	}
	return form, c, nil
}

func countAuthFailure(m *telemetry.Metrics, err error) {
	var ae *clients.AuthError
	if errors.As(err, &ae) {
		m.ClientAuthFailed(ae.Reason)
	}
}

// Authorize serves GET and POST at the authorization endpoint
// (RFC 6749 §3.1: both methods must be supported).
func (h *Handler) Authorize(w http.ResponseWriter, r *http.Request) error {
	var q url.Values
	var err error
	if r.Method == http.MethodPost {
		q, err = httpx.ParseForm(w, r, 0)
	} else {
		q, err = httpx.ParseQuery(r.URL.RawQuery)
	}
	if err != nil {
		h.UI.ShowError(w, r, http.StatusBadRequest, asOAuth(err))
		return nil
	}
	in, err := h.Service.Begin(r.Context(), q)
	if err != nil {
		h.render(w, r, err)
		return nil
	}
	if err := h.UI.Show(w, r, in); err != nil {
		h.render(w, r, err)
	}
	return nil
}

// render turns an authorization endpoint failure into a redirect (when the
// redirect URI was validated) or an error page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, err error) {
	var re *RedirectError
	if errors.As(err, &re) {
		h.Log.InfoContext(r.Context(), "authorization error sent to client", slog.String("error", re.Err.Code))
		// RFC 9700 §4.12: 303, never 307, after a request that may carry
		// credentials.
		http.Redirect(w, r, re.Location, http.StatusSeeOther)
		return
	}
	var pe *PageError
	if errors.As(err, &pe) {
		h.Log.InfoContext(r.Context(), "authorization error shown to user", slog.String("error", pe.Err.Code), slog.Any("cause", pe.Err.Cause))
		h.UI.ShowError(w, r, pe.Err.HTTPStatus(), pe.Err)
		return
	}
	oe := asOAuth(err)
	h.Log.ErrorContext(r.Context(), "authorization failed", slog.String("error", oe.Code), slog.Any("cause", err))
	h.UI.ShowError(w, r, oe.HTTPStatus(), oe)
}

// Render is render for other packages' handlers on the same flow (the
// login and consent form posts), so every authorization failure takes the
// same path.
func (h *Handler) Render(w http.ResponseWriter, r *http.Request, err error) { h.render(w, r, err) }
