package admin

import (
	"context"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// ConsentView is a remembered consent.
type ConsentView struct {
	Subject   string    `json:"subject"`
	ClientID  string    `json:"client_id"`
	Scopes    string    `json:"scope"`
	GrantedAt time.Time `json:"granted_at"`
}

func consentView(c *store.Consent) ConsentView {
	return ConsentView{Subject: c.Subject, ClientID: c.ClientID, Scopes: c.Scopes, GrantedAt: c.GrantedAt}
}

// ListConsents returns one page of the consents of a user (ordered by
// client_id) or, with subject empty, of a client (ordered by subject).
func (s *Service) ListConsents(ctx context.Context, subject, clientID string, p store.Page) (Page[ConsentView], error) {
	if subject == "" && clientID == "" {
		return Page[ConsentView]{}, oauth.InvalidRequest("subject or client_id is required")
	}
	cs, err := s.Store.Consents.List(ctx, store.ConsentQuery{Subject: subject, ClientID: clientID, Page: p})
	if err != nil {
		return Page[ConsentView]{}, storeErr(err)
	}
	key := func(c *store.Consent) string { return c.ClientID }
	if subject == "" {
		key = func(c *store.Consent) string { return c.Subject }
	}
	return pageOf(cs, p, consentView, key), nil
}

// RevokeConsent forgets the user's consent to the client and revokes the
// grants behind it: its refresh tokens fail with invalid_grant and its
// access tokens introspect inactive.
func (s *Service) RevokeConsent(ctx context.Context, who Caller, subject, clientID string) (err error) {
	defer func() {
		s.record(ctx, who.Actor, "consent.revoke", target("consent", subject+"/"+clientID), err, nil)
	}()
	if subject == "" || clientID == "" {
		return oauth.InvalidRequest("subject and client_id are required")
	}
	if _, err := s.Store.Consents.Get(ctx, subject, clientID); err != nil {
		return storeErr(err)
	}
	return s.revokeConsent(ctx, subject, clientID)
}

func (s *Service) revokeConsent(ctx context.Context, subject, clientID string) error {
	// Grants first: a failure after this leaves a consent without
	// tokens, never tokens without a consent.
	if err := s.Store.Grants.RevokeAll(ctx, clientID, subject); err != nil {
		return storeErr(err)
	}
	return storeErr(s.Store.Consents.Delete(ctx, subject, clientID))
}

// Applications lists the clients the user has authorised, for the
// account page (it implements login.Account).
func (s *Service) Applications(ctx context.Context, subject string) ([]oauth.Application, error) {
	out := []oauth.Application{}
	after := ""
	for {
		cs, err := s.Store.Consents.List(ctx, store.ConsentQuery{Subject: subject, Page: store.Page{After: after, Limit: store.MaxPageLimit}})
		if err != nil {
			return nil, storeErr(err)
		}
		for _, c := range cs {
			app := oauth.Application{ClientID: c.ClientID, GrantedAt: c.GrantedAt}
			app.Scopes, _ = oauth.ParseScopes(c.Scopes)
			if cl, err := s.Clients.Get(ctx, c.ClientID); err == nil {
				app.ClientName = cl.Name
			} else if err != clients.ErrUnknownClient {
				return nil, storeErr(err)
			}
			out = append(out, app)
			after = c.ClientID
		}
		if len(cs) < store.MaxPageLimit {
			return out, nil
		}
	}
}

// RevokeApplication is RevokeConsent by the user themself, from the
// account page (it implements login.Account). Revoking an application
// the user never authorised is not an error, so the answer reveals
// nothing about other users.
func (s *Service) RevokeApplication(ctx context.Context, subject, clientID string) (err error) {
	defer func() {
		s.record(ctx, "user:"+subject, "consent.revoke", target("consent", subject+"/"+clientID), err, nil)
	}()
	if clientID == "" {
		return oauth.InvalidRequest("client_id is required")
	}
	return s.revokeConsent(ctx, subject, clientID)
}
