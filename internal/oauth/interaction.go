package oauth

import "time"

// Interaction describes an authorization request waiting for the end user:
// what the login and consent pages need to show and decide. Handle is an
// opaque, unguessable reference to the stored request; it carries no
// authority beyond finishing this one request.
type Interaction struct {
	Handle     string
	ClientID   string
	ClientName string
	Scopes     Scopes
	// Prompt holds the OIDC prompt values (none, login, consent).
	Prompt []string
	// MaxAge is the OIDC max_age in seconds, or -1 when absent.
	MaxAge int
	// LoginHint is the OIDC login_hint, shown pre-filled; never trusted.
	LoginHint string
	// UserCode is set, and Handle empty, for a device authorization
	// (RFC 8628 §3.3): the user code in display form, which the consent
	// page shows so the user can match it against the device. Knowing it
	// is what lets a logged-in user decide, so every use is rate-limited.
	UserCode string
}

// Approval is the end user's decision to let the interaction proceed.
type Approval struct {
	Subject  string
	AuthTime time.Time
	// Scopes are the scopes granted (the requested ones, consented to).
	Scopes Scopes
}

// Application is a client a user has authorised, as the account page
// shows it: the remembered consent and the client's display name.
type Application struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name,omitempty"`
	Scopes     Scopes    `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
}
