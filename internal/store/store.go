package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Implementations wrap them; callers match with errors.Is.
var (
	// ErrNotFound means the record does not exist or has expired.
	ErrNotFound = errors.New("store: not found")
	// ErrReplayed means a single-use value was already used.
	ErrReplayed = errors.New("store: already used")
	// ErrConflict means a record with the same key already exists.
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable means the back end could not be reached; the caller
	// must fail closed.
	ErrUnavailable = errors.New("store: unavailable")
)

// Hash returns the storage key for a secret value (code, request_uri,
// refresh token, session ID): base64url(SHA-256(secret)). The values hashed
// this way carry at least 128 bits of entropy, so an unsalted fast hash is
// enough; person-chosen secrets use argon2id in package clients instead.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DeviceGrantID is the ID of the grant behind the device authorization
// whose device code hashes to deviceCodeHash. The user's approval
// records the grant under it and the poll that turns the approval into
// tokens finds it there, so a consent revoked in between (Grants.RevokeAll)
// is seen; derived, it needs no column of its own. It reveals nothing of
// the device code.
func DeviceGrantID(deviceCodeHash string) string {
	return "device." + Hash("grant:"+deviceCodeHash)
}

// Store bundles the aggregates one back end (or a combination of back ends)
// provides. Every field must be non-nil.
type Store struct {
	Clients       Clients
	Users         Users
	Keys          Keys
	Requests      Requests
	Codes         Codes
	Grants        Grants
	RefreshTokens RefreshTokens
	Revocations   Revocations
	Consents      Consents
	Sessions      Sessions
	Replay        Replay
	// DeviceCodes holds RFC 8628 device authorizations.
	DeviceCodes DeviceCodes
	// Audit holds the audit log of administrative and security events.
	Audit Audit
	// Ping reports whether every back end answers; used by /readyz.
	Ping func(ctx context.Context) error
	// Checks names each back end with its own Ping, for a readiness
	// report per dependency ("postgres", "redis"). Nil means the store is
	// one back end, reported under the name "storage" through Ping.
	Checks []Check
	// Close releases connections. It may be nil.
	Close func() error
}

// Client is a registered client as stored. SecretHash is an argon2id PHC
// string; the plaintext secret is never stored. Metadata holds the client's
// registration as JSON (owned and interpreted by package clients), so new
// client metadata needs no schema change.
type Client struct {
	ID         string
	SecretHash string
	// RegistrationHash is the Hash of the client's RFC 7592 registration
	// access token; empty for a client registered otherwise.
	RegistrationHash string
	Metadata         []byte
	UpdatedAt        time.Time
}

// Clients stores client registrations.
type Clients interface {
	// Get returns the client or ErrNotFound.
	Get(ctx context.Context, id string) (*Client, error)
	// Put inserts or replaces the client.
	Put(ctx context.Context, c *Client) error
	// Delete removes the client; deleting a missing client is not an error.
	Delete(ctx context.Context, id string) error
	// List returns one page of clients ordered by ID: at most p.Limit
	// clients whose ID sorts after p.After (byte order).
	List(ctx context.Context, p Page) ([]*Client, error)
}

// Page selects one page of a listing in its documented order: at most
// Limit records whose key comes after After ("" starts at the
// beginning). Limit ≤ 0 means DefaultPageLimit; a back end caps it at
// MaxPageLimit. Paging by key, not by offset, keeps pages stable while
// records are added or removed.
type Page struct {
	After string
	Limit int
}

// Page sizes.
const (
	// DefaultPageLimit is the page size when Page.Limit is not set.
	DefaultPageLimit = 100
	// MaxPageLimit bounds any page, so one request cannot load a table.
	MaxPageLimit = 1000
)

// Size returns the effective page size of p.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// User is an end-user account. PasswordHash is an argon2id PHC string.
// Claims holds OpenID Connect standard claims as JSON (name, email, …).
type User struct {
	Subject      string
	Username     string
	PasswordHash string
	Claims       []byte
	Disabled     bool
}

// Users stores end-user accounts.
type Users interface {
	// Get returns the user by subject or ErrNotFound.
	Get(ctx context.Context, subject string) (*User, error)
	// GetByUsername returns the user by login name or ErrNotFound.
	GetByUsername(ctx context.Context, username string) (*User, error)
	// Put inserts or replaces the user, keyed by Subject. A different
	// subject with the same Username is ErrConflict.
	Put(ctx context.Context, u *User) error
	// List returns one page of users ordered by Subject (byte order).
	List(ctx context.Context, p Page) ([]*User, error)
}

// SigningKey is one of the server's own signing keys. Private holds the
// private JWK as JSON. A key is published in JWKS from CreatedAt until
// RetiredAt (if set), and may sign while Active from ActiveFrom on; of the
// keys of one algorithm that may sign, the one with the latest ActiveFrom
// does. Publishing a key before it signs (ActiveFrom after CreatedAt) lets
// every verifier fetch it first; since the choice depends only on the
// stored records and the clock, every node makes the same one.
type SigningKey struct {
	ID        string
	Algorithm string
	Private   []byte
	Active    bool
	CreatedAt time.Time
	RetiredAt *time.Time
	// ActiveFrom is when the key starts signing; zero means from
	// CreatedAt. It is set by Add and never changed by Update.
	ActiveFrom time.Time
}

// Keys stores the server's signing keys.
type Keys interface {
	// List returns every key, oldest first.
	List(ctx context.Context) ([]*SigningKey, error)
	// Add inserts a new key; an existing ID is ErrConflict.
	Add(ctx context.Context, k *SigningKey) error
	// Update replaces the Active and RetiredAt fields of an existing key.
	Update(ctx context.Context, k *SigningKey) error
}

// AuthorizationRequest is a validated authorization request, stored under
// the hash of its PAR request_uri (or of an internal handle when the client
// did not use PAR). Params is the request's validated parameters as JSON,
// owned by package authorize.
type AuthorizationRequest struct {
	ClientID  string
	Params    []byte
	ExpiresAt time.Time
}

// Requests stores pushed and in-flight authorization requests.
type Requests interface {
	// Put stores the request under hash; an existing hash is ErrConflict.
	Put(ctx context.Context, hash string, r *AuthorizationRequest) error
	// Get returns the request without consuming it (the user may reload
	// the login page), or ErrNotFound when missing, expired or consumed.
	Get(ctx context.Context, hash string) (*AuthorizationRequest, error)
	// Consume atomically marks the request used and returns it. A second
	// Consume gets ErrReplayed (or ErrNotFound once it is purged).
	Consume(ctx context.Context, hash string) (*AuthorizationRequest, error)
}

// AuthorizationCode is an issued authorization code, stored under the hash
// of the code. GrantID names the grant the code's tokens belong to, so a
// replayed code can revoke them (RFC 6749 §4.1.2). Params is owned by
// package token/authorize (redirect URI, PKCE challenge, nonce, …).
type AuthorizationCode struct {
	ClientID  string
	GrantID   string
	Params    []byte
	ExpiresAt time.Time
}

// Codes stores authorization codes.
type Codes interface {
	// Put stores the code under hash; an existing hash is ErrConflict.
	Put(ctx context.Context, hash string, c *AuthorizationCode) error
	// Consume atomically marks the code used and returns it. Every later
	// Consume of the same hash fails with ErrReplayed and still returns the
	// record (so the caller can revoke the grant), until the record is
	// purged some time after expiry. An expired, unused code is
	// ErrNotFound.
	Consume(ctx context.Context, hash string) (*AuthorizationCode, error)
}

// Grant is the authorization a user gave a client (or a client gave
// itself, for client_credentials with refresh). Every token carries its
// grant ID; revoking the grant revokes them all.
type Grant struct {
	ID        string
	ClientID  string
	Subject   string
	Scopes    string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	Revoked   bool
	// Params holds grant-wide data such as claims or the sender-constraint
	// binding, owned by package token.
	Params []byte
}

// Grants stores grants.
type Grants interface {
	// Put stores a new grant; an existing ID is ErrConflict.
	Put(ctx context.Context, g *Grant) error
	// Get returns the grant or ErrNotFound. Revoked grants are returned with
	// Revoked set, so callers can tell revoked from unknown.
	Get(ctx context.Context, id string) (*Grant, error)
	// Revoke marks the grant revoked. Revoking a missing or revoked grant is
	// not an error.
	Revoke(ctx context.Context, id string) error
	// RevokeAll marks every grant of clientID revoked, or only those of
	// clientID and subject when subject is not empty: the cascade behind
	// deleting a client and revoking a consent. It is one statement, so a
	// grant created concurrently is either revoked or created after it.
	RevokeAll(ctx context.Context, clientID, subject string) error
}

// RefreshToken is a refresh token stored under its hash.
//
// RotatedAt is set when the token was exchanged for a successor (standard
// profile rotation); a rotated token stays in the store until ExpiresAt so
// that reuse can be detected.
type RefreshToken struct {
	GrantID   string
	ClientID  string
	Scopes    string
	ExpiresAt time.Time
	CreatedAt time.Time
	RotatedAt *time.Time
	// Params holds per-token data such as the DPoP key binding.
	Params []byte
}

// RefreshTokens stores refresh tokens.
type RefreshTokens interface {
	// Put stores a new token under hash; an existing hash is ErrConflict.
	Put(ctx context.Context, hash string, t *RefreshToken) error
	// Get returns the token, rotated or not, or ErrNotFound when missing or
	// expired.
	Get(ctx context.Context, hash string) (*RefreshToken, error)
	// Rotate atomically marks the token at oldHash rotated at the given time
	// and stores next under newHash. If oldHash was already rotated it
	// returns ErrReplayed and stores nothing; if it is missing, ErrNotFound.
	Rotate(ctx context.Context, oldHash string, at time.Time, newHash string, next *RefreshToken) error
	// Delete removes the token; a missing token is not an error.
	Delete(ctx context.Context, hash string) error
}

// Revocations remembers revoked JWT access tokens by jti until they would
// have expired anyway.
type Revocations interface {
	// Revoke records jti as revoked until exp.
	Revoke(ctx context.Context, jti string, exp time.Time) error
	// IsRevoked reports whether jti was revoked.
	IsRevoked(ctx context.Context, jti string) (bool, error)
}

// Consent is the set of scopes a user granted a client, remembered so the
// consent page is not shown again for the same or a smaller set.
type Consent struct {
	Subject   string
	ClientID  string
	Scopes    string
	GrantedAt time.Time
}

// Consents stores remembered consents.
type Consents interface {
	// Get returns the consent or ErrNotFound.
	Get(ctx context.Context, subject, clientID string) (*Consent, error)
	// Put inserts or replaces the consent for (Subject, ClientID).
	Put(ctx context.Context, c *Consent) error
	// Delete removes it; a missing consent is not an error.
	Delete(ctx context.Context, subject, clientID string) error
	// List returns one page of the consents of q.Subject ordered by
	// ClientID, or, when q.Subject is empty, of q.ClientID ordered by
	// Subject; q.Page.After is a key of that order. With both empty it
	// lists nothing.
	List(ctx context.Context, q ConsentQuery) ([]*Consent, error)
}

// ConsentQuery selects consents by user or by client.
type ConsentQuery struct {
	Subject  string
	ClientID string
	Page     Page
}

// Session is an end-user's browser session at the authorization server,
// stored under the hash of the cookie value.
type Session struct {
	Subject   string
	AuthTime  time.Time
	ExpiresAt time.Time
	// Hash is the key the session is stored under; only List sets it,
	// and Put ignores it. It is a SHA-256 of 256 random bits, so showing
	// it to an operator does not reveal the cookie.
	Hash string
}

// Sessions stores browser sessions.
type Sessions interface {
	// Put stores the session under hash; an existing hash is ErrConflict.
	Put(ctx context.Context, hash string, s *Session) error
	// Get returns the session or ErrNotFound when missing or expired.
	Get(ctx context.Context, hash string) (*Session, error)
	// Delete removes the session; a missing session is not an error.
	Delete(ctx context.Context, hash string) error
	// List returns one page of the unexpired sessions of subject ordered
	// by Hash, each with Hash set. A subject is required: sessions are
	// found per user, which every back end (Redis too) can index.
	List(ctx context.Context, subject string, p Page) ([]*Session, error)
}

// Replay is the replay guard for one-time values: client assertion and DPoP
// proof jti values. Keys are namespaced by the caller ("assertion:" …).
type Replay interface {
	// Use records key as used until exp. If key was already used and has
	// not expired it returns ErrReplayed. It is atomic across all callers of
	// the same back end.
	Use(ctx context.Context, key string, exp time.Time) error
}

// DeviceStatus is where a device authorization stands. It only moves
// forward: pending → approved → consumed, or pending → denied.
type DeviceStatus string

// The device authorization states.
const (
	// DevicePending waits for the user to enter the user code and decide
	// (RFC 8628 §3.3); the token endpoint answers authorization_pending.
	DevicePending DeviceStatus = "pending"
	// DeviceApproved means the user approved; the next poll gets tokens.
	DeviceApproved DeviceStatus = "approved"
	// DeviceDenied means the user denied; polls get access_denied.
	DeviceDenied DeviceStatus = "denied"
	// DeviceConsumed means tokens were issued; the device code is spent.
	DeviceConsumed DeviceStatus = "consumed"
)

// DeviceCode is a device authorization (RFC 8628 §3.1–3.2), stored under
// the hash of its device_code (256 random bits) and found from the
// browser by UserCodeHash, the hash of the normalised user_code.
//
// The user code has only about 34.6 bits, so its hash does not keep it
// from someone who can read the store; it keeps it out of the database
// in plain form, and the code's real protection is its short life and
// the rate limit on code entry (RFC 8628 §5.1).
type DeviceCode struct {
	ClientID     string
	UserCodeHash string
	// Scopes are the requested scopes, space-separated.
	Scopes    string
	ExpiresAt time.Time
	// Interval is the minimum time between two polls; Poll raises it when
	// the client polls too fast.
	Interval time.Duration
	// PolledAt is the time of the last poll; zero before the first.
	PolledAt time.Time
	Status   DeviceStatus
	// Subject and AuthTime are the deciding user's, set by Decide.
	Subject  string
	AuthTime time.Time
	// Params holds further request data as JSON, owned by package
	// authorize (and read by package token); it may be empty.
	Params []byte
}

// DeviceCodes stores device authorizations. Every state change is one
// atomic step; a back end implements the five methods and runs the
// storetest "DeviceCodes" cases.
type DeviceCodes interface {
	// Put stores a new authorization under hash. It is ErrConflict when an
	// unexpired record already has the same hash or the same
	// UserCodeHash, so the caller can draw a new user code; expired
	// records never block a Put.
	Put(ctx context.Context, hash string, d *DeviceCode) error
	// GetByUserCode returns the device-code hash and the record of the
	// unexpired authorization with userCodeHash, whatever its status, or
	// ErrNotFound.
	GetByUserCode(ctx context.Context, userCodeHash string) (hash string, d *DeviceCode, err error)
	// Decide atomically records the user's answer to a pending,
	// unexpired authorization: status (DeviceApproved or DeviceDenied),
	// subject and authTime. Exactly one of concurrent callers wins; the
	// rest, and every later call, get ErrReplayed. A missing or expired
	// record is ErrNotFound.
	Decide(ctx context.Context, hash string, status DeviceStatus, subject string, authTime time.Time) error
	// Poll atomically records a token request for the authorization at
	// time at and returns the record as it is after the poll. tooFast
	// reports that at came less than Interval after the previous poll
	// (RFC 8628 §3.5 slow_down); then the stored Interval has grown by
	// step, for this and every later poll. Unlike the other methods it
	// also returns records past ExpiresAt, for as long as the back end
	// keeps them (the memory and SQLite stores: 10 minutes), so the caller
	// can tell expired_token from an unknown code; the caller checks
	// ExpiresAt. A missing record is ErrNotFound.
	Poll(ctx context.Context, hash string, at time.Time, step time.Duration) (d *DeviceCode, tooFast bool, err error)
	// Consume atomically moves an approved, unexpired authorization to
	// DeviceConsumed and returns it: tokens are issued once. Exactly one
	// of concurrent callers wins; the rest, and every later call, get
	// ErrReplayed. A record that is missing, expired, pending or denied is
	// ErrNotFound.
	Consume(ctx context.Context, hash string) (*DeviceCode, error)
}

// AuditEvent is one entry of the audit log: who did what to which
// record, and whether it worked. It must never carry a secret (a client
// secret, password, token or registration access token); Details holds
// non-secret context as a JSON object.
type AuditEvent struct {
	// ID orders the log: callers use a time-ordered unique value
	// (NewAuditID), so byte order is time order.
	ID   string
	Time time.Time
	// Action names the event, such as "client.create", "consent.revoke",
	// "token.revoke" or "client.auth_failed".
	Action string
	// Actor is who acted: "admin-token", "user:<sub>", "client:<id>" or
	// "token:<sub>" for an admin access token.
	Actor string
	// Target is the record acted on ("client:<id>", "user:<sub>", …).
	Target string
	// Outcome is "success" or "failure".
	Outcome string
	// Details is a JSON object with further, non-secret context; it may
	// be empty.
	Details []byte
}

// AuditQuery selects a page of the audit log, newest first: Page.After
// is the ID of the last event of the previous page, and the page holds
// older events only. Action, when set, keeps only events of that action.
type AuditQuery struct {
	Action string
	Page   Page
}

// Audit stores the audit log. It is append-only: nothing in the contract
// changes or removes an entry.
type Audit interface {
	// Append adds the event; an existing ID is ErrConflict.
	Append(ctx context.Context, e *AuditEvent) error
	// List returns one page of events, newest (highest ID) first.
	List(ctx context.Context, q AuditQuery) ([]*AuditEvent, error)
}

// NewAuditID returns a unique ID whose byte order is the order of t:
// 13 hex digits of Unix milliseconds, then 16 random hex digits.
func NewAuditID(t time.Time) string {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic("store: no randomness: " + err.Error())
	}
	return fmt.Sprintf("%013x%s", t.UnixMilli(), hex.EncodeToString(r[:]))
}
