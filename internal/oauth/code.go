package oauth

import "time"

// CodeData is what an authorization code stands for: written by the
// authorization endpoint, read by the token endpoint. It is stored as JSON
// in store.AuthorizationCode.Params, so field names are a storage format.
type CodeData struct {
	RedirectURI   string    `json:"redirect_uri"`
	CodeChallenge string    `json:"code_challenge"`
	Subject       string    `json:"sub"`
	AuthTime      time.Time `json:"auth_time"`
	Scopes        Scopes    `json:"scope,omitempty"`
	Nonce         string    `json:"nonce,omitempty"`
	DPoPJKT       string    `json:"dpop_jkt,omitempty"`
	Resource      []string  `json:"resource,omitempty"`
}
