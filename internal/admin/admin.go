package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// DefaultScope is the scope an access token needs to call the admin API.
const DefaultScope = "bulwark:admin"

// Service carries out admin, registration and account operations. Store,
// Clients and Audit are required. It is safe for concurrent use.
type Service struct {
	Store   *store.Store
	Clients *clients.Registry
	// Static are the IDs of the clients from configuration, which every
	// start overwrites; the API shows them but refuses to change them.
	Static map[string]bool
	// TokenHashes are the SHA-256 digests of the configured admin tokens;
	// empty accepts no admin token.
	TokenHashes [][sha256.Size]byte
	// Scope is the scope an access token needs; empty means DefaultScope.
	Scope string
	// Tokens checks access tokens of this server; nil accepts none.
	Tokens TokenChecker
	// Keys lists and rotates signing keys; nil refuses key operations.
	Keys Keys
	// Audit records an event (log and store). It must not block long.
	Audit func(ctx context.Context, e *store.AuditEvent)
	// Registration is the RFC 7591 policy.
	Registration Registration
	// SecretParams are the argon2id parameters for new client secrets and
	// passwords; zero means secret.DefaultParams.
	SecretParams secret.Params
	// AccessTokenTTL is the longest life of an access token of this
	// server. A deleted client's ID cannot be given to a new client for
	// that long: client_credentials tokens belong to no grant, and die
	// with their client only while no client of that ID exists. Zero
	// means DefaultAccessTokenTTL.
	AccessTokenTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultAccessTokenTTL is the reuse block of a deleted client_id when
// Service.AccessTokenTTL is zero: the server's default access-token life.
const DefaultAccessTokenTTL = 5 * time.Minute

// deletedClientKey is the Revocations entry that blocks a deleted
// client_id from reuse until its last access token has expired.
func deletedClientKey(id string) string { return "deleted-client:" + id }

// Caller is who makes an admin request, as recorded in the audit log.
type Caller struct {
	// Actor is "admin-token" or "token:<sub>" for an admin access token.
	Actor string
}

// TokenInfo is what a TokenChecker learned about a valid access token.
type TokenInfo struct {
	Subject  string
	ClientID string
	Scopes   oauth.Scopes
}

// Keys is the signing-key administration package authserver provides.
type Keys interface {
	// List returns every key, oldest first.
	List(ctx context.Context) ([]*store.SigningKey, error)
	// Rotate adds a key per algorithm that signs after publishAhead and
	// retires the current ones retireAfter later (authserver.RotateKeys).
	Rotate(ctx context.Context, publishAhead, retireAfter time.Duration) (added, retiring []*store.SigningKey, err error)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) params() secret.Params {
	if s.SecretParams == (secret.Params{}) {
		return secret.DefaultParams
	}
	return s.SecretParams
}

func (s *Service) scope() string {
	if s.Scope == "" {
		return DefaultScope
	}
	return s.Scope
}

// HashToken is how admin tokens are kept: SHA-256 of the token, which
// must be long and random (config requires 32 characters or more).
func HashToken(tok string) [sha256.Size]byte { return sha256.Sum256([]byte(tok)) }

// adminToken reports whether tok is a configured admin token. Every hash
// is compared, in constant time, so timing tells nothing of which one
// matched or how much of it.
func (s *Service) adminToken(tok string) bool {
	h := HashToken(tok)
	ok := 0
	for _, want := range s.TokenHashes {
		ok |= subtle.ConstantTimeCompare(h[:], want[:])
	}
	return ok == 1
}

// record writes one audit event for an action; err decides the outcome.
// details must not contain secrets.
func (s *Service) record(ctx context.Context, actor, action, target string, err error, details map[string]any) {
	e := &store.AuditEvent{Time: s.now(), Action: action, Actor: actor, Target: target, Outcome: "success"}
	if err != nil {
		e.Outcome = "failure"
		if details == nil {
			details = map[string]any{}
		}
		if oe, ok := oauth.As(err); ok {
			details["error"] = oe.Code
		} else {
			details["error"] = "server_error"
		}
	}
	if len(details) > 0 {
		e.Details, _ = json.Marshal(details)
	}
	s.Audit(ctx, e)
}

// newSecret returns 256 random bits, base64url: client secrets and
// registration access tokens.
func newSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("admin: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Errors of the admin API. They are oauth.Errors so httpx.WriteError
// renders them like every other failure.
var (
	errNotFound        = &oauth.Error{Code: "not_found", Description: "no such record", Status: 404}
	errReadOnly        = &oauth.Error{Code: "read_only", Description: "the client comes from the configuration file; change it there", Status: 409}
	errExists          = &oauth.Error{Code: "conflict", Description: "a record with that key already exists", Status: 409}
	errRecentlyDeleted = &oauth.Error{Code: "conflict", Description: "a client with this client_id was deleted less than an access-token lifetime ago; its tokens would work again: choose another client_id or retry later", Status: 409}
)

// storeErr maps a store failure: a missing record is 404, anything else
// fails closed as 503.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errNotFound
	case errors.Is(err, store.ErrConflict):
		return errExists
	}
	return oauth.Unavailable(err)
}

// metadataError turns field problems into invalid_client_metadata (or
// invalid_redirect_uri when every problem is a redirect URI), RFC 7591
// §3.2.2, naming each field.
func metadataError(errs []clients.FieldError) error {
	code := "invalid_redirect_uri"
	desc := ""
	for i, fe := range errs {
		if len(fe.Field) < len("redirect_uris") || fe.Field[:len("redirect_uris")] != "redirect_uris" {
			code = "invalid_client_metadata"
		}
		if i > 0 {
			desc += "; "
		}
		desc += fe.Error()
	}
	return &oauth.Error{Code: code, Description: desc}
}

// Page is one page of a listing with the cursor of the next; Next is
// empty on the last page.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// pageOf builds a Page from a store page of the requested size.
func pageOf[T, R any](recs []R, p store.Page, view func(R) T, key func(R) string) Page[T] {
	out := Page[T]{Items: make([]T, 0, len(recs))}
	for _, r := range recs {
		out.Items = append(out.Items, view(r))
	}
	if len(recs) == p.Size() && len(recs) > 0 {
		out.Next = key(recs[len(recs)-1])
	}
	return out
}

func target(kind, id string) string { return fmt.Sprintf("%s:%s", kind, id) }
