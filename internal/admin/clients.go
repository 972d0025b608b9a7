package admin

import (
	"context"
	"errors"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// ClientView is a client as the admin API shows it: its metadata, where it
// comes from, and, only in the answer that created it, its secret.
type ClientView struct {
	*clients.Client
	// Static marks a client from the configuration file (read-only).
	Static bool `json:"static"`
	// Dynamic marks a client registered through RFC 7591.
	Dynamic   bool      `json:"dynamic,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// Secret is the new client_secret, present once: in the answer to
	// create and rotate-secret; it is stored only as an argon2id hash.
	Secret string `json:"client_secret,omitempty"`
}

func (s *Service) view(rec *store.Client) (ClientView, error) {
	c, err := clients.FromRecord(rec)
	if err != nil {
		return ClientView{}, oauth.ServerError(err)
	}
	return ClientView{Client: c, Static: s.Static[c.ID], Dynamic: rec.RegistrationHash != "", UpdatedAt: rec.UpdatedAt}, nil
}

// ListClients returns one page of clients ordered by client_id.
func (s *Service) ListClients(ctx context.Context, p store.Page) (Page[ClientView], error) {
	recs, err := s.Store.Clients.List(ctx, p)
	if err != nil {
		return Page[ClientView]{}, storeErr(err)
	}
	out := Page[ClientView]{Items: []ClientView{}}
	for _, rec := range recs {
		v, err := s.view(rec)
		if err != nil {
			return Page[ClientView]{}, err
		}
		out.Items = append(out.Items, v)
	}
	if len(recs) == p.Size() {
		out.Next = recs[len(recs)-1].ID
	}
	return out, nil
}

// GetClient returns one client.
func (s *Service) GetClient(ctx context.Context, id string) (ClientView, error) {
	rec, err := s.Store.Clients.Get(ctx, id)
	if err != nil {
		return ClientView{}, storeErr(err)
	}
	return s.view(rec)
}

// CreateClient registers c (client_id chosen by the caller, or drawn when
// empty). A secret method gets a fresh 256-bit secret, returned once.
func (s *Service) CreateClient(ctx context.Context, who Caller, c *clients.Client) (v ClientView, err error) {
	defer func() { s.record(ctx, who.Actor, "client.create", target("client", c.ID), err, nil) }()
	if c.ID == "" {
		c.ID = newSecret()[:22]
	}
	if _, err := s.Store.Clients.Get(ctx, c.ID); err == nil {
		return ClientView{}, errExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return ClientView{}, storeErr(err)
	}
	if blocked, err := s.Store.Revocations.IsRevoked(ctx, deletedClientKey(c.ID)); err != nil {
		return ClientView{}, storeErr(err)
	} else if blocked {
		return ClientView{}, errRecentlyDeleted
	}
	return s.save(ctx, c, &store.Client{}, true)
}

// save checks c with clients.Check and stores it over rec (whose hashes
// it keeps, unless the secret must change): a secret method without a
// stored secret, or newSecret, draws one; any other method drops it.
func (s *Service) save(ctx context.Context, c *clients.Client, rec *store.Client, newSecretWanted bool) (ClientView, error) {
	plain := ""
	if c.UsesSecret() && (newSecretWanted || rec.SecretHash == "") {
		plain = newSecret()
	}
	check := plain
	if c.UsesSecret() && plain == "" {
		// The stored secret stays; Check only needs to know there is one.
		check = "stored-secret-unchanged"
	}
	if errs := clients.Check(c, check); len(errs) > 0 {
		return ClientView{}, metadataError(errs)
	}
	switch {
	case plain != "":
		h, err := secret.Hash(plain, s.params())
		if err != nil {
			return ClientView{}, oauth.ServerError(err)
		}
		rec.SecretHash = h
	case !c.UsesSecret():
		rec.SecretHash = ""
	}
	if err := s.Clients.Save(ctx, c, rec); err != nil {
		return ClientView{}, storeErr(err)
	}
	return ClientView{Client: c, Static: s.Static[c.ID], Dynamic: rec.RegistrationHash != "", UpdatedAt: rec.UpdatedAt, Secret: plain}, nil
}

// UpdateClient replaces the metadata of client id with c. The secret is
// kept unless the authentication method no longer uses one (or newly
// does: then one is drawn and returned).
func (s *Service) UpdateClient(ctx context.Context, who Caller, id string, c *clients.Client) (v ClientView, err error) {
	defer func() { s.record(ctx, who.Actor, "client.update", target("client", id), err, nil) }()
	if s.Static[id] {
		return ClientView{}, errReadOnly
	}
	if c.ID != "" && c.ID != id {
		return ClientView{}, &oauth.Error{Code: "invalid_client_metadata", Description: "client_id cannot change"}
	}
	c.ID = id
	rec, err := s.Store.Clients.Get(ctx, id)
	if err != nil {
		return ClientView{}, storeErr(err)
	}
	return s.save(ctx, c, rec, false)
}

// RotateSecret draws a new secret for a secret-method client and returns
// it once; the old one stops working (on other nodes within the secret
// cache's lifetime, tokens.secret_cache_ttl).
func (s *Service) RotateSecret(ctx context.Context, who Caller, id string) (v ClientView, err error) {
	defer func() { s.record(ctx, who.Actor, "client.rotate_secret", target("client", id), err, nil) }()
	if s.Static[id] {
		return ClientView{}, errReadOnly
	}
	rec, err := s.Store.Clients.Get(ctx, id)
	if err != nil {
		return ClientView{}, storeErr(err)
	}
	c, err := clients.FromRecord(rec)
	if err != nil {
		return ClientView{}, oauth.ServerError(err)
	}
	if !c.UsesSecret() {
		return ClientView{}, &oauth.Error{Code: "invalid_request", Description: "the client does not authenticate with a secret"}
	}
	return s.save(ctx, c, rec, true)
}

// DeleteClient removes a client and everything it was given: all its
// grants are revoked first (so its refresh and access tokens stop
// working), then the users' consents to it, then the registration.
func (s *Service) DeleteClient(ctx context.Context, who Caller, id string) (err error) {
	defer func() { s.record(ctx, who.Actor, "client.delete", target("client", id), err, nil) }()
	if s.Static[id] {
		return errReadOnly
	}
	if _, err := s.Store.Clients.Get(ctx, id); err != nil {
		return storeErr(err)
	}
	return s.deleteClient(ctx, id)
}

// deleteClient is the cascade behind DeleteClient and RFC 7592 DELETE.
func (s *Service) deleteClient(ctx context.Context, id string) error {
	ttl := s.AccessTokenTTL
	if ttl <= 0 {
		ttl = DefaultAccessTokenTTL
	}
	// First, so that a failure later leaves the ID blocked rather than
	// reusable with live tokens.
	if err := s.Store.Revocations.Revoke(ctx, deletedClientKey(id), s.now().Add(ttl)); err != nil {
		return storeErr(err)
	}
	if err := s.Store.Grants.RevokeAll(ctx, id, ""); err != nil {
		return storeErr(err)
	}
	for {
		cs, err := s.Store.Consents.List(ctx, store.ConsentQuery{ClientID: id, Page: store.Page{Limit: store.MaxPageLimit}})
		if err != nil {
			return storeErr(err)
		}
		for _, c := range cs {
			if err := s.Store.Consents.Delete(ctx, c.Subject, id); err != nil {
				return storeErr(err)
			}
		}
		if len(cs) < store.MaxPageLimit {
			break
		}
	}
	return storeErr(s.Clients.Delete(ctx, id))
}
