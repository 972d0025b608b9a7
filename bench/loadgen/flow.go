package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

// flowWorkload measures the whole FAPI 2.0 authorization code flow for
// a user who already has a session and remembered consent: PAR with
// private_key_jwt → GET /authorize (303 with the code) → token request
// with private_key_jwt, PKCE and, when dpopKey is set, a DPoP proof (the
// PAR request carries none and no dpop_jkt, so the code is bound at the
// token endpoint). It signs in and consents once, untimed, through the
// server's own login and consent forms. Paths are Bulwark's.
func flowWorkload(hc *http.Client, o options, key, dpopKey *jose.PrivateKey, count int) (workload, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return workload{}, err
	}
	hc.Jar = jar
	verifier, challenge := pkce()
	par := func() (url.Values, error) {
		v, err := assertionForm(key, o.client, o.aud)
		if err != nil {
			return nil, err
		}
		v.Set("response_type", "code")
		v.Set("redirect_uri", o.redirectURI)
		v.Set("scope", o.scope)
		v.Set("code_challenge", challenge)
		v.Set("code_challenge_method", "S256")
		v.Set("state", "loadgen")
		return v, nil
	}
	if err := signIn(hc, o, par); err != nil {
		return workload{}, fmt.Errorf("sign-in: %w", err)
	}
	type prepared struct {
		par, tok url.Values
		proof    string
	}
	preps := make([]prepared, count)
	tokenURL := o.issuer + o.tokenPath
	return workload{
		prepare: func(from, to int) error {
			return parallel(from, to, func(i int) error {
				p, err := par()
				if err != nil {
					return err
				}
				t, err := assertionForm(key, o.client, o.aud)
				if err != nil {
					return err
				}
				t.Set("grant_type", "authorization_code")
				t.Set("redirect_uri", o.redirectURI)
				t.Set("code_verifier", verifier)
				preps[i] = prepared{par: p, tok: t}
				if dpopKey != nil {
					preps[i].proof, err = dpop.NewProof(dpopKey, dpop.ProofParams{Method: http.MethodPost, URL: tokenURL})
				}
				return err
			})
		},
		do: func(hc *http.Client, i int) error {
			loc, err := authorize(hc, o, preps[i].par)
			if err != nil {
				return err
			}
			code := loc.Query().Get("code")
			if code == "" {
				return fmt.Errorf("authorize: no code in %s", loc.Redacted())
			}
			preps[i].tok.Set("code", code)
			b, err := post(hc, tokenURL, []byte(preps[i].tok.Encode()), preps[i].proof, http.StatusOK)
			if err == nil && dpopKey != nil {
				err = checkDPoPBound(b)
			}
			return err
		},
	}, nil
}

// authorize pushes the request and follows the authorization endpoint's
// redirect, returning its Location (the client's callback).
func authorize(hc *http.Client, o options, par url.Values) (*url.URL, error) {
	body, err := post(hc, o.issuer+"/par", []byte(par.Encode()), "", http.StatusCreated)
	if err != nil {
		return nil, err
	}
	var pr struct {
		RequestURI string `json:"request_uri"`
	}
	if err := json.Unmarshal(body, &pr); err != nil {
		return nil, err
	}
	resp, err := hc.Get(o.issuer + "/authorize?" + url.Values{"client_id": {o.client}, "request_uri": {pr.RequestURI}}.Encode())
	if err != nil {
		return nil, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		return &url.URL{}, &pageError{resp.StatusCode, page}
	}
	return url.Parse(resp.Header.Get("Location"))
}

// pageError is an authorization endpoint answer that is a page, not a
// redirect: the login or consent form on first use.
type pageError struct {
	status int
	page   []byte
}

func (e *pageError) Error() string { return fmt.Sprintf("authorize: status %d", e.status) }

var hiddenField = regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`)

// signIn runs one flow through the login and consent forms so later flows
// need neither.
func signIn(hc *http.Client, o options, par func() (url.Values, error)) error {
	p, err := par()
	if err != nil {
		return err
	}
	_, err = authorize(hc, o, p)
	pe, ok := err.(*pageError)
	if !ok {
		return fmt.Errorf("expected the login page, got %v", err)
	}
	form := fields(pe.page)
	form.Set("username", o.username)
	form.Set("password", o.password)
	resp, err := hc.PostForm(o.issuer+"/login", form)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login: status %d", resp.StatusCode)
	}
	form = fields(page)
	form.Set("decision", "approve")
	resp, err = hc.PostForm(o.issuer+"/consent", form)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("consent: status %d", resp.StatusCode)
	}
	return nil
}

// fields collects a page's hidden form fields.
func fields(page []byte) url.Values {
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(page), -1) {
		if m[1] != "username" && m[1] != "password" {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return v
}

// pkce returns an RFC 7636 S256 verifier and challenge. One pair serves
// every flow of a run: each code is single-use on its own.
func pkce() (verifier, challenge string) {
	var b [32]byte
	rand.Read(b[:])
	verifier = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(verifier))
	return verifier, strings.TrimRight(base64.RawURLEncoding.EncodeToString(sum[:]), "=")
}
