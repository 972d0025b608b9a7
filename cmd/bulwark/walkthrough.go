package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"text/template"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/discovery"
)

// newPKCE returns a fresh code_verifier and its S256 code_challenge.
// RFC 7636 §4.1 recommends "a 32-octet sequence" base64url-encoded, giving
// the 43-character minimum; §4.2: code_challenge =
// BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))
// (https://www.rfc-editor.org/rfc/rfc7636#section-4.1).
func newPKCE() (verifier, challenge string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	verifier = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// walkthroughTemplate is the --dev guide. Every command is complete, with
// the issuer and the PKCE values of this run filled in, so it can be
// pasted as is; only values the server returns are left as <…>.
var walkthroughTemplate = template.Must(template.New("walkthrough").Funcs(template.FuncMap{"sh": shellQuote}).Parse(`
Bulwark is running in development mode. The demo credentials below are public:
never expose this server.

  issuer        {{.Issuer}}
  user          {{.User}} / {{.Password}}
  clients       {{.SecretClient}}  client_secret_basic, secret {{.Secret}}
                {{.PublicClient}}  public client, PKCE only
                {{.FAPIClient}}    FAPI 2.0, private_key_jwt; private key in {{.KeyFile}}
  redirect URI  {{.RedirectURI}}  (nothing needs to listen there)

Authorization code flow with {{.SecretClient}}:

1. Discovery:

   curl -s {{sh .DiscoveryURL}}

2. A PKCE pair generated for this run:

   code_verifier   {{.Verifier}}
   code_challenge  {{.Challenge}}   (BASE64URL(SHA-256(code_verifier)))

3. Push the authorization request (PAR); the answer holds a request_uri:

   curl -s -u {{.SecretClient}}:{{.Secret}} \
     -d response_type=code -d client_id={{.SecretClient}} \
     -d redirect_uri={{.RedirectURI}} \
     -d scope='openid profile' \
     -d code_challenge={{.Challenge}} -d code_challenge_method=S256 \
     -d state=xyz \
     {{sh .PARURL}}

4. Before the request_uri expires (expires_in), open in a browser and log in as {{.User}}:

   {{.AuthorizeURL}}?client_id={{.SecretClient}}&request_uri=<request_uri from above>

   The browser ends at {{.RedirectURI}}?code=…&state=xyz&iss=…
   Copy the code from the address bar.

5. Exchange the code for tokens (once, within a minute):

   curl -s -u {{.SecretClient}}:{{.Secret}} \
     -d grant_type=authorization_code -d code=<code> \
     -d redirect_uri={{.RedirectURI}} \
     -d code_verifier={{.Verifier}} \
     {{sh .TokenURL}}

6. Userinfo with the access_token:

   curl -s -H 'Authorization: Bearer <access_token>' {{sh .UserinfoURL}}

7. Introspection:

   curl -s -u {{.SecretClient}}:{{.Secret}} -d token=<access_token> {{sh .IntrospectURL}}

8. Revocation of the refresh_token (ends the grant and its access tokens):

   curl -s -u {{.SecretClient}}:{{.Secret}} -d token=<refresh_token> -d token_type_hint=refresh_token {{sh .RevokeURL}}

Client credentials grant, no user involved:

   curl -s -u {{.SecretClient}}:{{.Secret}} -d grant_type=client_credentials -d scope=api {{sh .TokenURL}}

`))

// walkthrough renders the --dev guide for issuer with this run's PKCE pair.
func walkthrough(issuer, verifier, challenge string) string {
	var b strings.Builder
	err := walkthroughTemplate.Execute(&b, map[string]string{
		"Issuer":        issuer,
		"User":          config.DemoUsername,
		"Password":      config.DemoPassword,
		"SecretClient":  config.DemoSecretClientID,
		"Secret":        config.DemoClientSecret,
		"PublicClient":  config.DemoPublicClientID,
		"FAPIClient":    config.DemoFAPIClientID,
		"KeyFile":       demoKeyFile,
		"RedirectURI":   config.DemoRedirectURI,
		"Verifier":      verifier,
		"Challenge":     challenge,
		"DiscoveryURL":  issuer + "/.well-known/openid-configuration",
		"PARURL":        issuer + discovery.PathPAR,
		"AuthorizeURL":  issuer + discovery.PathAuthorize,
		"TokenURL":      issuer + discovery.PathToken,
		"UserinfoURL":   issuer + discovery.PathUserinfo,
		"IntrospectURL": issuer + discovery.PathIntrospect,
		"RevokeURL":     issuer + discovery.PathRevoke,
	})
	if err != nil {
		// The template is fixed and its data are plain strings.
		panic(err)
	}
	return b.String()
}

// shellQuote returns s as one POSIX shell word: unchanged when it holds
// only characters no shell interprets, else in single quotes.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
