package config

import (
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
)

// Storage drivers accepted in storage.driver.
const (
	// DriverSQLite keeps all state in one SQLite file (storage.dsn).
	DriverSQLite = "sqlite"
	// DriverMemory keeps all state in process memory; everything, signing
	// keys included, is lost on restart.
	DriverMemory = "memory"
	// DriverPostgres keeps all state in PostgreSQL (storage.dsn is a
	// postgres:// URL), shared by every node of a deployment.
	DriverPostgres = "postgres"
)

// Cache drivers accepted in cache.driver.
const (
	// CacheNone keeps the short-lived state in the storage back end.
	CacheNone = "none"
	// CacheRedis keeps the replay guard, pushed requests, codes, sessions
	// and rate-limit counters in Redis (cache.url).
	CacheRedis = "redis"
)

// EnvPrefix starts the name of every environment variable Load reads.
const EnvPrefix = "BULWARK_"

// File is the decoded configuration: the YAML file with the environment
// overlay applied on top of Default. It is plain data; Validate reports
// what is wrong with it and AuthServer turns it into the typed role
// configuration. A File is not safe for concurrent modification, but
// Validate and AuthServer only read it.
//
// Each field's yaml tag is its key in the file; its environment variable
// is EnvPrefix plus the upper-cased key path joined with '_'
// (tokens.par_ttl → BULWARK_TOKENS_PAR_TTL).
type File struct {
	// Issuer is the issuer identifier (RFC 8414 §2) every token and the
	// discovery document carry: an https URL without query, fragment or
	// trailing '/'; plain http only on a loopback host.
	Issuer string `yaml:"issuer"`
	// Listen is the TCP address (host:port) the server accepts connections on.
	Listen string `yaml:"listen"`
	// TLS enables HTTPS on Listen.
	TLS TLS `yaml:"tls"`
	// Storage selects where state (clients, users, keys, codes, tokens) is kept.
	Storage Storage `yaml:"storage"`
	// Cache selects where the short-lived, cross-node state is kept.
	Cache Cache `yaml:"cache"`
	// Log configures the JSON log written to standard error.
	Log Log `yaml:"log"`
	// Tokens holds the lifetimes of tokens, requests and sessions.
	Tokens Tokens `yaml:"tokens"`
	// RateLimits bounds requests per client IP and per client.
	RateLimits RateLimits `yaml:"rate_limits"`
	// DPoP configures the checks of DPoP proofs (RFC 9449) and the server nonces.
	DPoP DPoP `yaml:"dpop"`
	// MTLS configures mutual-TLS client authentication and certificate-bound tokens (RFC 8705).
	MTLS MTLS `yaml:"mtls"`
	// Clients are registered at every start, overwriting stored
	// registrations with the same client_id. Each entry uses the RFC 7591
	// metadata names (client_id, client_name, profile,
	// token_endpoint_auth_method, jwks or jwks_uri, redirect_uris,
	// grant_types, scopes, id_token_signed_response_alg,
	// access_token_audience) plus client_secret.
	Clients []Client `yaml:"clients"`
	// Users are created at every start. Each entry has username, password
	// and an optional subject; every other key (email, name, …) becomes an
	// OpenID Connect claim of the user.
	Users []User `yaml:"users"`
	// Admin configures the admin API and Dynamic Client Registration.
	Admin Admin `yaml:"admin"`
	// Gateway configures `bulwark gateway`, the reverse proxy that checks access tokens before requests reach an API; `bulwark serve` ignores it.
	Gateway Gateway `yaml:"gateway"`
	// BFF configures `bulwark bff`, the Backend-for-Frontend that logs browser users in and proxies their API calls with tokens kept server-side; `bulwark serve` ignores it.
	BFF BFF `yaml:"bff"`

	// origin maps a key path ("tokens.par_ttl", "clients[0].jwks") to
	// where its value was set ("bulwark.yaml:12" or an environment
	// variable), so problems can point at the line to fix. Keys set by
	// Default are absent. Written only by Load and WithDemo.
	origin map[string]string
}

// TLS is the server certificate. Both files or neither must be set; with
// neither, the server speaks plain HTTP, which Validate permits only for a
// loopback issuer.
type TLS struct {
	// CertFile is the PEM certificate chain, leaf first.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of the leaf certificate.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile is a PEM bundle of the CAs that tls_client_auth client certificates must chain to; empty trusts none (self_signed_tls_client_auth still works).
	ClientCAFile string `yaml:"client_ca_file"`
}

// DPoP configures proof checking. Proofs are accepted from MaxAge in the
// past to MaxFuture in the future; each jti is remembered that long.
type DPoP struct {
	// MaxAge is how old a proof's iat may be; at most 300s.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxFuture is how far in the future a proof's iat may lie; FAPI 2.0 requires 10s to 60s.
	MaxFuture time.Duration `yaml:"max_future"`
	// NonceLifetime is the time step of server nonces (RFC 9449 §8); a nonce is accepted for up to twice this.
	NonceLifetime time.Duration `yaml:"nonce_lifetime"`
	// NonceSecret keys the nonces; every node of a cluster needs the same one (at least 32 characters). Empty derives it from the shared signing keys.
	NonceSecret string `yaml:"nonce_secret"`
}

// MTLS configures the dedicated mutual-TLS listener and certificates
// forwarded by a TLS-terminating proxy. The main TLS listener always
// requests (never requires) a client certificate.
type MTLS struct {
	// Listen is the address of a dedicated mutual-TLS listener (tls must be configured); empty runs none.
	Listen string `yaml:"listen"`
	// BaseURL is the external https base URL of that listener, advertised in mtls_endpoint_aliases.
	BaseURL string `yaml:"base_url"`
	// ProxyHeader names the header in which a TLS-terminating proxy forwards the client certificate (URL-escaped PEM, PEM or base64 DER); empty ignores such headers.
	ProxyHeader string `yaml:"proxy_header"`
	// TrustedProxies are the IP addresses or CIDR ranges whose ProxyHeader is believed; from anyone else the header is removed.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Replay stores the gateway can keep DPoP proof jti values in
// (gateway.replay_store).
const (
	// ReplayMemory keeps them in process memory: enough for one gateway
	// process, not for several behind one load balancer.
	ReplayMemory = "memory"
	// ReplayStorage uses the back end of the storage section, shared by
	// every gateway (and authorization server) that opens it.
	ReplayStorage = "storage"
)

// DPoP nonce policies of the gateway (gateway.dpop.nonce).
const (
	NonceOff      = "off"
	NonceOptional = "optional"
	NonceRequired = "required"
)

// Gateway is the gateway role's section. Validate checks it only when one
// of its keys is set; File.Gateway also requires base_url and routes.
type Gateway struct {
	// Listen is the TCP address (host:port) the gateway accepts API requests on.
	Listen string `yaml:"listen"`
	// AdminListen is a separate address for /healthz, /readyz and /metrics; empty serves them on listen, where they take precedence over routes.
	AdminListen string `yaml:"admin_listen"`
	// BaseURL is the gateway's external URL as clients call it (https; plain http only on a loopback host), without a trailing '/'. A DPoP proof's htu must be it plus the request path; the Host and X-Forwarded-* headers of a request are never used instead.
	BaseURL string `yaml:"base_url"`
	// TLS enables HTTPS on listen. The handshake requests, but never requires, a client certificate, for certificate-bound tokens.
	TLS GatewayTLS `yaml:"tls"`
	// Issuer is the authorization server whose access tokens are accepted; its metadata and JWKS are discovered from it. Empty means the top-level issuer.
	Issuer string `yaml:"issuer"`
	// IssuerCAFile is a PEM bundle of the CAs the authorization server's certificate must chain to, for its metadata, JWKS and introspection; empty uses the system roots.
	IssuerCAFile string `yaml:"issuer_ca_file"`
	// Audiences are the aud values a token may carry on routes that set none; empty means resource_metadata.resource.
	Audiences []string `yaml:"audiences"`
	// SenderConstraint selects which sender-constrained tokens are accepted: "any" (DPoP-bound or certificate-bound) or "dpop" (certificate-bound tokens are refused).
	SenderConstraint string `yaml:"sender_constraint"`
	// Leeway is the clock skew tolerated on a token's exp, nbf and iat and a DPoP proof's iat; at most 60s.
	Leeway time.Duration `yaml:"leeway"`
	// ReplayStore keeps DPoP proof jti values single-use: "memory" (one gateway process) or "storage" (the storage section's back end, shared by every gateway that opens it).
	ReplayStore string `yaml:"replay_store"`
	// DPoP configures the gateway's own DPoP nonces (RFC 9449 §9).
	DPoP GatewayDPoP `yaml:"dpop"`
	// Introspection lets the gateway ask the issuer's introspection endpoint (RFC 7662) about tokens, which also catches revoked ones; unset (no client_id) accepts JWT access tokens on their signature alone.
	Introspection GatewayIntrospection `yaml:"introspection"`
	// MTLS configures client certificates forwarded by a TLS-terminating proxy in front of the gateway.
	MTLS GatewayMTLS `yaml:"mtls"`
	// ResourceMetadata is the RFC 9728 protected resource metadata served at /.well-known/oauth-protected-resource.
	ResourceMetadata GatewayMetadata `yaml:"resource_metadata"`
	// Routes map request paths to upstream APIs; the longest matching path_prefix wins. A request no route matches gets 404.
	Routes []Route `yaml:"routes"`
}

// GatewayTLS is the gateway's server certificate; both files or neither.
type GatewayTLS struct {
	// CertFile is the PEM certificate chain, leaf first.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of the leaf certificate.
	KeyFile string `yaml:"key_file"`
}

// GatewayDPoP configures resource-server nonces, which are separate from
// the authorization server's (RFC 9449 §9).
type GatewayDPoP struct {
	// Nonce is the nonce policy: "off", "optional" (nonces are handed out and checked when present) or "required" (a proof without a current nonce gets use_dpop_nonce).
	Nonce string `yaml:"nonce"`
	// NonceSecret keys the nonces (at least 32 characters); every gateway node needs the same one, and it must differ from dpop.nonce_secret. Empty with nonces on uses a random secret per process.
	NonceSecret string `yaml:"nonce_secret"`
}

// GatewayIntrospection holds the gateway's credentials at the issuer's
// introspection endpoint. The authorization server answers only for
// tokens whose aud names client_id or that were issued to it.
type GatewayIntrospection struct {
	// ClientID is the gateway's client_id at the authorization server; empty turns introspection off.
	ClientID string `yaml:"client_id"`
	// ClientSecret authenticates the gateway with client_secret_basic.
	ClientSecret string `yaml:"client_secret"`
	// PrivateKeyFile is a PEM private key (PKCS #8, SEC 1 or PKCS #1; P-256, Ed25519 or RSA of 2048 bits or more) that authenticates the gateway with private_key_jwt instead of client_secret.
	PrivateKeyFile string `yaml:"private_key_file"`
	// KeyID is the kid of private_key_file's key, sent in the assertion header; empty sends none.
	KeyID string `yaml:"key_id"`
	// SignedResponse asks for, and then requires, RFC 9701 signed introspection responses.
	SignedResponse bool `yaml:"signed_response"`
	// CacheTTL is how long an answer is reused, and so how long a revoked token may still pass; 0s asks on every request, at most 5m.
	CacheTTL time.Duration `yaml:"cache_ttl"`
}

// GatewayMTLS configures certificates forwarded by a TLS-terminating proxy.
type GatewayMTLS struct {
	// ProxyHeader names the header in which a TLS-terminating proxy forwards the client certificate (URL-escaped PEM, PEM or base64 DER); empty ignores such headers.
	ProxyHeader string `yaml:"proxy_header"`
	// TrustedProxies are the IP addresses or CIDR ranges whose ProxyHeader is believed; from anyone else the header is removed.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// GatewayMetadata is the gateway's RFC 9728 protected resource metadata.
type GatewayMetadata struct {
	// Resource is the protected resource identifier (RFC 9728 §2 resource): an https URL on the base_url's host; empty means base_url.
	Resource string `yaml:"resource"`
	// ScopesSupported are the scopes listed as scopes_supported; empty lists every route's scopes.
	ScopesSupported []string `yaml:"scopes_supported"`
	// Documentation is a URL of human-readable documentation of the API (resource_documentation).
	Documentation string `yaml:"documentation"`
	// Name is the human-readable resource_name.
	Name string `yaml:"name"`
}

// Route is one gateway route: which requests it takes, what their access
// token must allow, and where they go.
type Route struct {
	// Name labels the route in metrics, logs and policy input; empty means path_prefix.
	Name string `yaml:"name"`
	// PathPrefix selects requests by path: "/accounts" takes /accounts and everything below it, not /accountsx.
	PathPrefix string `yaml:"path_prefix"`
	// Methods are the HTTP methods the route takes, upper case; empty takes every method.
	Methods []string `yaml:"methods"`
	// Upstream is the http(s) URL requests are proxied to; its path is prepended to the request path.
	Upstream string `yaml:"upstream"`
	// UpstreamCAFile is a PEM bundle of the CAs the upstream's certificate must chain to; empty uses the system roots.
	UpstreamCAFile string `yaml:"upstream_ca_file"`
	// StripPrefix removes path_prefix from the path before it is appended to the upstream URL.
	StripPrefix bool `yaml:"strip_prefix"`
	// Resource makes the route its own protected resource (RFC 9728): an https URL on the base_url's host whose metadata is served at the well-known path for it; empty means resource_metadata.resource.
	Resource string `yaml:"resource"`
	// Scopes must all be in the access token, or the request gets 403 insufficient_scope.
	Scopes []string `yaml:"scopes"`
	// Audiences are the aud values accepted on this route (one must be in the token, or 403); empty means resource if set, else gateway.audiences.
	Audiences []string `yaml:"audiences"`
	// AllowBearer also accepts tokens that are not sender-constrained, sent with the Bearer scheme; FAPI 2.0 forbids this.
	AllowBearer bool `yaml:"allow_bearer"`
	// Policy is a Rego file evaluated for every request that passed the token checks; its rule allow must be true or the request gets 403 access_denied. Empty means no policy.
	Policy string `yaml:"policy"`
	// PolicyHeaders are the request headers the policy sees in input.headers; Authorization, DPoP, Cookie and Proxy-Authorization cannot be listed.
	PolicyHeaders []string `yaml:"policy_headers"`
	// ForwardHeaders names the headers that carry the token's identity to the upstream; inbound copies of them are always removed.
	ForwardHeaders ForwardHeaders `yaml:"forward_headers"`
	// ForwardAuthorization passes the Authorization and DPoP headers to the upstream; by default they are removed.
	ForwardAuthorization bool `yaml:"forward_authorization"`
	// ConnectTimeout bounds connecting to the upstream; 0s means 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Timeout bounds the whole exchange with the upstream, streaming the bodies included; 0s means 60s.
	Timeout time.Duration `yaml:"timeout"`
}

// ForwardHeaders maps identity values to upstream request headers. An
// empty value uses the default X-Bulwark-… header; "-" forwards nothing.
type ForwardHeaders struct {
	// Subject receives the token's sub; default X-Bulwark-Subject.
	Subject string `yaml:"subject"`
	// ClientID receives the token's client_id; default X-Bulwark-Client-Id.
	ClientID string `yaml:"client_id"`
	// Scopes receives the token's scopes, space-separated; default X-Bulwark-Scopes.
	Scopes string `yaml:"scopes"`
	// JKT receives the DPoP key thumbprint of a DPoP-bound token; default X-Bulwark-Jkt.
	JKT string `yaml:"jkt"`
	// X5T receives the certificate thumbprint (x5t#S256) of a certificate-bound token; default X-Bulwark-X5t.
	X5T string `yaml:"x5t"`
}

// Storage selects the back end.
type Storage struct {
	// Driver selects the back end: "sqlite", "postgres" or "memory".
	Driver string `yaml:"driver"`
	// DSN is the back end's data source: for sqlite the database file path, for postgres a postgres:// URL (pool_max_conns, connect_timeout, statement_timeout and search_path are URL parameters).
	DSN string `yaml:"dsn"`
	// MigrateOnStart applies pending postgres schema migrations when the server starts; with false the schema must already be current (bulwark migrate). SQLite always migrates on open.
	MigrateOnStart bool `yaml:"migrate_on_start"`
}

// Cache moves the short-lived state every node must see at once (replay
// guard, pushed requests, codes, sessions, rate-limit counters) out of
// the storage back end.
type Cache struct {
	// Driver is "none" (keep everything in storage) or "redis".
	Driver string `yaml:"driver"`
	// URL is the Redis URL, redis://host:port/db or rediss:// for TLS; addr= parameters name further Redis Cluster nodes.
	URL string `yaml:"url"`
	// Prefix starts every Redis key, so deployments can share one Redis.
	Prefix string `yaml:"prefix"`
}

// Log configures logging.
type Log struct {
	// Level is the minimum level logged: debug, info, warn or error.
	Level string `yaml:"level"`
}

// Tokens holds lifetimes, written as Go duration strings ("90s", "5m",
// "720h"). Zero is never a valid value here: Validate rejects it rather
// than let the role quietly substitute its own default.
type Tokens struct {
	// AccessTokenTTL is the lifetime of JWT access tokens.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
	// IDTokenTTL is the lifetime of ID tokens.
	IDTokenTTL time.Duration `yaml:"id_token_ttl"`
	// RefreshTokenTTL is the lifetime of refresh tokens.
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	// PARTTL is the expires_in of a pushed request_uri; FAPI 2.0 requires it below 600s.
	PARTTL time.Duration `yaml:"par_ttl"`
	// LoginTTL is how long the user has to log in and consent once the authorization request arrived.
	LoginTTL time.Duration `yaml:"login_ttl"`
	// SessionTTL is the lifetime of the user's browser session at the server.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// ClockSkew is how far in the future a received JWT's iat or nbf may lie; FAPI 2.0 requires 10s to 60s.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// SecretCacheTTL is how long a successful client-secret check is remembered, and so how long a replaced secret may still work.
	SecretCacheTTL time.Duration `yaml:"secret_cache_ttl"`
	// DeviceCodeTTL is the expires_in of RFC 8628 device and user codes: how long the user has to enter the code and approve; 1m to 1h.
	DeviceCodeTTL time.Duration `yaml:"device_code_ttl"`
	// DevicePollInterval is the interval a device must wait between token requests (RFC 8628 §3.2); 1s to 60s, growing by 5s on every slow_down.
	DevicePollInterval time.Duration `yaml:"device_poll_interval"`
}

// RateLimits are fixed-window limits, kept per server process, or shared
// by every node when cache.driver is redis. A limit of 0 turns that
// limit off.
type RateLimits struct {
	// Window is the length of one rate-limit window.
	Window time.Duration `yaml:"window"`
	// LoginPerIP limits failed login form posts per client IP and window, and separately failed device user-code entries (RFC 8628 §5.1).
	LoginPerIP int `yaml:"login_per_ip"`
	// TokenPerClient limits token requests per client_id and window.
	TokenPerClient int `yaml:"token_per_client"`
	// TokenPerIP limits token requests per client IP and window.
	TokenPerIP int `yaml:"token_per_ip"`
	// PARPerClient limits pushed authorization requests per client_id and window, and separately device authorization requests.
	PARPerClient int `yaml:"par_per_client"`
	// PARPerIP limits pushed authorization requests per client IP and window, and separately device authorization requests.
	PARPerIP int `yaml:"par_per_ip"`
}

// Client is one statically configured client. Its metadata is decoded
// under the JSON (RFC 7591) names of clients.Client, so client metadata
// added there is configurable without a change here.
type Client struct {
	// Metadata is the registration as package clients validates it.
	Metadata clients.Client
	// Secret is the plaintext client_secret of a client_secret_basic or
	// client_secret_post client. It is hashed with argon2id before it is
	// stored and must not be set for other methods.
	Secret string
}

// User is one statically configured end user.
type User struct {
	// Username is what the user types on the login page.
	Username string
	// Password is the plaintext password; it is hashed with argon2id
	// before it is stored.
	Password string
	// Subject is the stable sub claim; empty means one derived from the
	// username (authserver.SubjectFor).
	Subject string
	// Claims are the user's OpenID Connect claims (email, name, …),
	// released per scope at the userinfo endpoint.
	Claims map[string]any
}

// Default returns the configuration used for every key the file and the
// environment leave unset: a loopback issuer over plain HTTP, SQLite under
// ./bulwark-data, and the token lifetimes the FAPI 2.0 profile suggests.
func Default() *File {
	return &File{
		Issuer:  "http://127.0.0.1:8080",
		Listen:  "127.0.0.1:8080",
		Storage: Storage{Driver: DriverSQLite, DSN: "./bulwark-data/bulwark.db", MigrateOnStart: true},
		Cache:   Cache{Driver: CacheNone, URL: "redis://127.0.0.1:6379/0", Prefix: "bulwark:"},
		Log:     Log{Level: "info"},
		Tokens: Tokens{
			AccessTokenTTL:  5 * time.Minute,
			IDTokenTTL:      5 * time.Minute,
			RefreshTokenTTL: 720 * time.Hour,
			PARTTL:          60 * time.Second,
			LoginTTL:        10 * time.Minute,
			SessionTTL:      8 * time.Hour,
			ClockSkew:       10 * time.Second,
			SecretCacheTTL:  5 * time.Minute,
			// Time to find a phone; short enough to bound guessing of
			// user codes (RFC 8628 §5.1).
			DeviceCodeTTL:      10 * time.Minute,
			DevicePollInterval: 5 * time.Second,
		},
		RateLimits: RateLimits{Window: time.Minute, LoginPerIP: 20},
		DPoP:       DPoP{MaxAge: 60 * time.Second, MaxFuture: 10 * time.Second, NonceLifetime: 5 * time.Minute},
		Admin:      defaultAdmin(),
		Gateway: Gateway{
			Listen: "127.0.0.1:8090", SenderConstraint: "any", Leeway: 10 * time.Second,
			ReplayStore: ReplayMemory, DPoP: GatewayDPoP{Nonce: NonceOff}, Introspection: GatewayIntrospection{CacheTTL: 30 * time.Second},
		},
		BFF: BFF{
			Listen: "127.0.0.1:8070", DPoP: "auto", SessionStore: SessionStoreMemory,
			SessionLifetime: time.Hour, IdleTimeout: 30 * time.Minute, RefreshInterval: 15 * time.Minute,
			Cookie: BFFCookie{Name: "__Host-bulwark-session", SameSite: "lax"}, CSRFHeader: "X-CSRF", GroupsClaim: "groups",
		},
	}
}

// source returns where key's value came from, looking at the key's
// ancestors when the key itself was not recorded (a problem with
// clients[0].redirect_uris[1] points at clients[0].redirect_uris).
func (f *File) source(key string) string {
	for k := key; k != ""; k = parentKey(k) {
		if s, ok := f.origin[k]; ok {
			return s
		}
	}
	return ""
}

// parentKey strips the last ".name" or "[i]" from a key path.
func parentKey(k string) string {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == '.' || k[i] == '[' {
			return k[:i]
		}
	}
	return ""
}
