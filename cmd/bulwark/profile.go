package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

// This file holds what the client commands (login, token, curl, logout)
// share: the profile file, the flags that override it, the directories,
// and the assembly of a client.Config. The OAuth work itself is
// package client's.

// Environment variables of the client commands.
const (
	envConfigDir    = "BULWARK_CONFIG_DIR"    // profiles and DPoP keys; default os.UserConfigDir()/bulwark
	envCacheDir     = "BULWARK_CACHE_DIR"     // token cache; default os.UserCacheDir()/bulwark
	envClientSecret = "BULWARK_CLIENT_SECRET" // client_secret_basic secret, wins over client_secret_file
)

// clientDeps are what the client commands take from their host. The zero
// value (with env set) is the real one; tests replace the browser, the
// transport and the device-flow wait.
type clientDeps struct {
	env config.Env
	// openBrowser shows the authorization URL; nil starts the system's
	// opener (xdg-open, open, rundll32).
	openBrowser func(ctx context.Context, url string) error
	// transport is the base transport for every request; nil builds one
	// from the profile (ca_file).
	transport http.RoundTripper
	// sleep waits between device-flow polls; nil waits for real.
	sleep func(ctx context.Context, d time.Duration) error
}

// profile is the JSON file <config dir>/profiles/<name>.json. Paths in it
// are used as written (relative paths are relative to the working
// directory). Its member names are a file format: add, do not rename.
type profile struct {
	Issuer           string   `json:"issuer,omitempty"`
	ClientID         string   `json:"client_id,omitempty"`
	AuthMethod       string   `json:"auth_method,omitempty"`        // none | client_secret_basic | private_key_jwt | tls_client_auth
	ClientSecretFile string   `json:"client_secret_file,omitempty"` // client_secret_basic
	KeyFile          string   `json:"key_file,omitempty"`           // private_key_jwt: private JWK or PEM
	KeyID            string   `json:"key_id,omitempty"`             // kid of the assertions; default the JWK's kid
	CertFile         string   `json:"cert_file,omitempty"`          // tls_client_auth and auth_mode mtls: PEM certificate
	CertKeyFile      string   `json:"cert_key_file,omitempty"`      // its PEM private key; default cert_file
	CAFile           string   `json:"ca_file,omitempty"`            // PEM roots for the issuer and resources; default the system's
	Scopes           []string `json:"scopes,omitempty"`
	AuthMode         string   `json:"auth_mode,omitempty"`    // dpop (default) | mtls | bearer
	RedirectURL      string   `json:"redirect_url,omitempty"` // loopback redirect; default http://127.0.0.1/callback
	// Cache is where tokens are cached: "file" (the default: one file per
	// profile in the cache directory) or a redis:// or rediss:// URL,
	// which may hold a password (this file is 0600).
	Cache string `json:"cache,omitempty"`
	// InsecureAllowHTTP allows an http issuer and http resource URLs,
	// for development servers: tokens then travel in clear.
	InsecureAllowHTTP bool `json:"insecure_allow_http,omitempty"`
}

var profileNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// profileFlags are the flags every client command has: the profile name
// and an override for each profile member.
type profileFlags struct {
	name   string
	values profile
	scopes string
	cmd    *cobra.Command
}

func addProfileFlags(cmd *cobra.Command) *profileFlags {
	p := &profileFlags{cmd: cmd}
	f := cmd.Flags()
	f.StringVar(&p.name, "profile", "default", "profile `name` (a file in <config dir>/profiles)")
	f.StringVar(&p.values.Issuer, "issuer", "", "authorization server issuer `URL`")
	f.StringVar(&p.values.ClientID, "client-id", "", "client `ID`")
	f.StringVar(&p.values.AuthMethod, "auth-method", "", "client authentication: none, client_secret_basic, private_key_jwt or tls_client_auth (default: from the credentials given)")
	f.StringVar(&p.values.ClientSecretFile, "client-secret-file", "", "`file` holding the client secret (or set "+envClientSecret+")")
	f.StringVar(&p.values.KeyFile, "key-file", "", "private_key_jwt signing key `file` (private JWK or PEM)")
	f.StringVar(&p.values.KeyID, "key-id", "", "kid of the client assertions (default: the JWK's kid)")
	f.StringVar(&p.values.CertFile, "cert-file", "", "client certificate `file` (PEM) for tls_client_auth or --auth-mode mtls")
	f.StringVar(&p.values.CertKeyFile, "cert-key-file", "", "private key `file` (PEM) of --cert-file (default: --cert-file)")
	f.StringVar(&p.values.CAFile, "ca-file", "", "PEM `file` of the CAs to trust (default: the system's)")
	f.StringVar(&p.scopes, "scopes", "", "scopes to request, space- or comma-separated (default: the client's)")
	f.StringVar(&p.values.AuthMode, "auth-mode", "", "sender constraint: dpop, mtls or bearer (default dpop)")
	f.StringVar(&p.values.RedirectURL, "redirect-url", "", "loopback redirect `URL` registered for the client (default http://127.0.0.1/callback)")
	f.StringVar(&p.values.Cache, "cache", "", "token cache: file (default) or a redis://host:port/db[?key_prefix=P] `URL` shared by processes and machines (keep a password in the profile, not on the command line)")
	f.BoolVar(&p.values.InsecureAllowHTTP, "insecure-allow-http", false, "allow an http issuer and http URLs (development servers only: tokens travel in clear)")
	return p
}

// settings is a profile with the command line applied: what a command
// runs with.
type settings struct {
	name      string
	path      string // the profile file
	exists    bool   // the profile file was found
	configDir string
	cacheDir  string
	profile
}

// resolve reads the profile named by the flags and applies the flags that
// were set.
func (p *profileFlags) resolve(deps clientDeps) (*settings, error) {
	if !profileNamePattern.MatchString(p.name) {
		return nil, fmt.Errorf("profile name %q must match %s", p.name, profileNamePattern)
	}
	configDir, cacheDir, err := dirs(deps.env)
	if err != nil {
		return nil, err
	}
	s := &settings{name: p.name, configDir: configDir, cacheDir: cacheDir, path: filepath.Join(configDir, "profiles", p.name+".json")}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("profile %q: %w", p.name, err)
	default:
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s.profile); err != nil {
			return nil, fmt.Errorf("profile %q: %s: %w", p.name, s.path, err)
		}
		s.exists = true
	}
	set := func(name string, dst *string, v string) {
		if p.cmd.Flags().Changed(name) {
			*dst = v
		}
	}
	v := p.values
	set("issuer", &s.Issuer, v.Issuer)
	set("client-id", &s.ClientID, v.ClientID)
	set("auth-method", &s.AuthMethod, v.AuthMethod)
	set("client-secret-file", &s.ClientSecretFile, v.ClientSecretFile)
	set("key-file", &s.KeyFile, v.KeyFile)
	set("key-id", &s.KeyID, v.KeyID)
	set("cert-file", &s.CertFile, v.CertFile)
	set("cert-key-file", &s.CertKeyFile, v.CertKeyFile)
	set("ca-file", &s.CAFile, v.CAFile)
	set("auth-mode", &s.AuthMode, v.AuthMode)
	set("redirect-url", &s.RedirectURL, v.RedirectURL)
	set("cache", &s.Cache, v.Cache)
	if p.cmd.Flags().Changed("scopes") {
		s.Scopes = strings.Fields(strings.ReplaceAll(p.scopes, ",", " "))
	}
	if p.cmd.Flags().Changed("insecure-allow-http") {
		s.InsecureAllowHTTP = v.InsecureAllowHTTP
	}
	return s, s.check()
}

// dirs returns the configuration and cache directories.
func dirs(env config.Env) (configDir, cacheDir string, err error) {
	if configDir = env[envConfigDir]; configDir == "" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", "", fmt.Errorf("no configuration directory (set %s): %w", envConfigDir, err)
		}
		configDir = filepath.Join(d, "bulwark")
	}
	if cacheDir = env[envCacheDir]; cacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", "", fmt.Errorf("no cache directory (set %s): %w", envCacheDir, err)
		}
		cacheDir = filepath.Join(d, "bulwark")
	}
	return configDir, cacheDir, nil
}

// check lists every problem of s, each with the flag that fixes it.
func (s *settings) check() error {
	var ps []string
	if s.Issuer == "" {
		ps = append(ps, "no issuer: pass --issuer URL")
	}
	if s.ClientID == "" {
		ps = append(ps, "no client ID: pass --client-id ID")
	}
	if strings.HasPrefix(s.Issuer, "http://") && !s.InsecureAllowHTTP {
		ps = append(ps, fmt.Sprintf("issuer %s uses plain http: for a development server, pass --insecure-allow-http", s.Issuer))
	}
	switch client.AuthMethod(s.AuthMethod) {
	case "", client.AuthNone:
	case client.AuthClientSecretBasic:
		if s.ClientSecretFile == "" {
			ps = append(ps, "auth method client_secret_basic needs --client-secret-file (or "+envClientSecret+")")
		}
	case client.AuthPrivateKeyJWT:
		if s.KeyFile == "" {
			ps = append(ps, "auth method private_key_jwt needs --key-file")
		}
	case client.AuthTLSClientAuth:
		if s.CertFile == "" {
			ps = append(ps, "auth method tls_client_auth needs --cert-file")
		}
	default:
		ps = append(ps, fmt.Sprintf("unknown auth method %q: use none, client_secret_basic, private_key_jwt or tls_client_auth", s.AuthMethod))
	}
	switch client.Mode(s.AuthMode) {
	case "", client.ModeDPoP, client.ModeBearer:
	case client.ModeMTLS:
		if s.CertFile == "" {
			ps = append(ps, "auth mode mtls needs --cert-file")
		}
	default:
		ps = append(ps, fmt.Sprintf("unknown auth mode %q: use dpop, mtls or bearer", s.AuthMode))
	}
	if p := checkCache(s.Cache); p != "" {
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil
	}
	msg := fmt.Sprintf("profile %q (%s) is incomplete:\n  %s", s.name, s.path, strings.Join(ps, "\n  "))
	if !s.exists {
		msg = fmt.Sprintf("profile %q does not exist (%s) and the flags are not enough:\n  %s\n"+
			"Create it with `bulwark login --profile %s --issuer URL --client-id ID --save`",
			s.name, s.path, strings.Join(ps, "\n  "), s.name)
	}
	return errors.New(msg)
}

func (s *settings) mode() client.Mode {
	if s.AuthMode == "" {
		return client.ModeDPoP
	}
	return client.Mode(s.AuthMode)
}

// save writes the profile file (mode 0600: it names key files and may be
// all an attacker needs to find them).
func (s *settings) save() error {
	b, err := json.MarshalIndent(s.profile, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save profile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	return nil
}

// dpopKeyPath is where the profile's DPoP key lives: one key per profile,
// so that different servers cannot link a user by thumbprint.
func (s *settings) dpopKeyPath() string {
	return filepath.Join(s.configDir, "dpop-keys", s.name+".jwk")
}

// cacheKey names the profile's token cache entry. It includes a digest of
// the issuer and client, so a token is never sent to, or refreshed at, a
// server the profile has since been pointed away from.
func (s *settings) cacheKey() string {
	sum := sha256.Sum256([]byte(s.Issuer + "\x00" + s.ClientID))
	return s.name + "." + hex.EncodeToString(sum[:6])
}

// loginHint is the fix for a missing or dead token.
func (s *settings) loginHint() string {
	if s.name == "default" {
		return "run `bulwark login`"
	}
	return fmt.Sprintf("run `bulwark login --profile %s`", s.name)
}

// clientConfig assembles the client.Config for s: credentials read from
// their files, the DPoP key loaded or created, the HTTP client built.
func (s *settings) clientConfig(deps clientDeps) (*client.Config, error) {
	c := &client.Config{
		Issuer:            s.Issuer,
		ClientID:          s.ClientID,
		AuthMethod:        client.AuthMethod(s.AuthMethod),
		Mode:              s.mode(),
		Scopes:            s.Scopes,
		RedirectURL:       s.RedirectURL,
		InsecureAllowHTTP: s.InsecureAllowHTTP,
		KeyID:             s.KeyID,
		Sleep:             deps.sleep,
	}
	if s.ClientSecretFile != "" || deps.env[envClientSecret] != "" {
		c.ClientSecret = deps.env[envClientSecret]
		if c.ClientSecret == "" {
			b, err := os.ReadFile(s.ClientSecretFile)
			if err != nil {
				return nil, fmt.Errorf("client secret: %w", err)
			}
			c.ClientSecret = strings.TrimSpace(string(b))
		}
	}
	if s.KeyFile != "" {
		key, kid, err := readSigningKey(s.KeyFile)
		if err != nil {
			return nil, err
		}
		c.Key = key
		if c.KeyID == "" {
			c.KeyID = kid
		}
	}
	if s.CertFile != "" {
		keyFile := s.CertKeyFile
		if keyFile == "" {
			keyFile = s.CertFile
		}
		cert, err := tls.LoadX509KeyPair(s.CertFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificate = &cert
	}
	if c.Mode == client.ModeDPoP {
		k, err := client.LoadOrCreateDPoPKey(s.dpopKeyPath())
		if err != nil {
			return nil, err
		}
		c.DPoPKey = k
	}
	rt := deps.transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if s.CAFile != "" {
			b, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("CA file %s holds no PEM certificate", s.CAFile)
			}
			t.TLSClientConfig.RootCAs = pool
		}
		rt = t
	}
	c.HTTPClient = &http.Client{Transport: rt, Timeout: 30 * time.Second}
	return c, nil
}

// describe turns a failure of the client library into a message that
// names the problem and, where there is one, the fix.
func (s *settings) describe(err error) error {
	var re *client.RetrieveError
	switch {
	case errors.Is(err, client.ErrLoginRequired):
		return fmt.Errorf("no token cached for profile %q (or its refresh token expired or was revoked): %s", s.name, s.loginHint())
	case errors.Is(err, client.ErrAccessDenied):
		return fmt.Errorf("the request was denied on the verification page: run `bulwark login --device` again to retry")
	case errors.Is(err, client.ErrDeviceExpired):
		return fmt.Errorf("the code expired before it was approved: run `bulwark login --device` again for a new one")
	case errors.As(err, &re) && re.ErrorCode != "":
		msg := fmt.Sprintf("the authorization server refused the request: %s", re.ErrorCode)
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		if re.Response != nil {
			msg += fmt.Sprintf(" (HTTP %d)", re.Response.StatusCode)
		}
		switch re.ErrorCode {
		case "invalid_client", "unauthorized_client":
			msg += fmt.Sprintf("\ncheck the client ID and credentials of profile %q (--client-id, --auth-method, --client-secret-file, --key-file, --cert-file)", s.name)
		case "invalid_scope":
			msg += "\ncheck --scopes against the scopes the client may request"
		case "invalid_grant":
			msg += "\n" + s.loginHint()
		}
		return errors.New(msg)
	case errors.Is(err, client.ErrTokenType) && s.mode() == client.ModeDPoP:
		return fmt.Errorf("%w\nthe server did not bind the token to the DPoP key; if it does not support DPoP, use --auth-mode bearer", err)
	}
	return err
}

// readSigningKey reads a private_key_jwt key: a private JWK (as `bulwark
// serve --dev` writes) or a PEM private key (PKCS #8, SEC 1 or PKCS #1).
// It returns the JWK's kid, if any.
func readSigningKey(path string) (crypto.Signer, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("signing key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("signing key %s: mode %v allows others to read it; chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	var k crypto.Signer
	var kid string
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		k, kid, err = parsePrivateJWK(t)
	} else {
		k, err = jose.ParsePEMSigner(b)
		if err != nil && !bytes.Contains(b, []byte("-----BEGIN")) {
			err = errors.New("neither a JWK nor PEM")
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("signing key %s: %w", path, err)
	}
	return k, kid, nil
}

// parsePrivateJWK reads a private JWK (RFC 7518 §6: EC P-256, RSA or OKP
// Ed25519) with the server's own key parser and its strength checks.
func parsePrivateJWK(b []byte) (crypto.Signer, string, error) {
	k, err := jose.ParseUserJWK(b)
	if err != nil {
		return nil, "", fmt.Errorf("JWK: %w", err)
	}
	return k.Signer(), k.KeyID(), nil
}
