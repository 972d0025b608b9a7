package admin

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// UserView is a user as the admin API shows it; never the password hash.
type UserView struct {
	Subject  string         `json:"subject"`
	Username string         `json:"username"`
	Disabled bool           `json:"disabled"`
	Claims   map[string]any `json:"claims,omitempty"`
}

func userView(u *store.User) UserView {
	v := UserView{Subject: u.Subject, Username: u.Username, Disabled: u.Disabled}
	if len(u.Claims) > 0 {
		_ = json.Unmarshal(u.Claims, &v.Claims)
	}
	return v
}

// NewUser is the admin API's create-user request.
type NewUser struct {
	Username string         `json:"username"`
	Password string         `json:"password"`
	Subject  string         `json:"subject,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
}

func checkPassword(p string) error {
	if len(p) < secret.MinPasswordLen || len(p) > 1024 {
		return oauth.InvalidRequest("password must be 8 to 1024 characters")
	}
	return nil
}

// ListUsers returns one page of users ordered by subject.
func (s *Service) ListUsers(ctx context.Context, p store.Page) (Page[UserView], error) {
	us, err := s.Store.Users.List(ctx, p)
	if err != nil {
		return Page[UserView]{}, storeErr(err)
	}
	return pageOf(us, p, userView, func(u *store.User) string { return u.Subject }), nil
}

// GetUser returns one user.
func (s *Service) GetUser(ctx context.Context, subject string) (UserView, error) {
	u, err := s.Store.Users.Get(ctx, subject)
	if err != nil {
		return UserView{}, storeErr(err)
	}
	return userView(u), nil
}

// CreateUser adds an account; the password is stored argon2id-hashed.
func (s *Service) CreateUser(ctx context.Context, who Caller, nu NewUser) (v UserView, err error) {
	defer func() { s.record(ctx, who.Actor, "user.create", target("user", v.Subject), err, nil) }()
	if nu.Username == "" || len(nu.Username) > 256 {
		return UserView{}, oauth.InvalidRequest("username must be 1 to 256 characters")
	}
	if err := checkPassword(nu.Password); err != nil {
		return UserView{}, err
	}
	if len(nu.Subject) > 255 {
		return UserView{}, oauth.InvalidRequest("subject must be at most 255 characters")
	}
	if nu.Subject == "" {
		nu.Subject = "u_" + newSecret()[:22]
	}
	for _, k := range []string{"sub", "iss", "aud", "exp", "iat", "nbf", "jti", "preferred_username"} {
		if _, ok := nu.Claims[k]; ok {
			return UserView{}, oauth.InvalidRequest("claim " + k + " is set by the server")
		}
	}
	if _, err := s.Store.Users.Get(ctx, nu.Subject); err == nil {
		return UserView{Subject: nu.Subject}, errExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return UserView{}, storeErr(err)
	}
	h, err := secret.Hash(nu.Password, s.params())
	if err != nil {
		return UserView{}, oauth.ServerError(err)
	}
	claims, err := json.Marshal(nu.Claims)
	if err != nil {
		return UserView{}, oauth.InvalidRequest("claims must be a JSON object")
	}
	u := &store.User{Subject: nu.Subject, Username: nu.Username, PasswordHash: h, Claims: claims}
	if err := s.Store.Users.Put(ctx, u); err != nil {
		return UserView{Subject: nu.Subject}, storeErr(err)
	}
	return userView(u), nil
}

// SetDisabled disables (or enables again) a user. A disabled user cannot
// log in; disabling ends the user's browser sessions and revokes the
// grants of every client the user consented to, so refresh tokens stop
// working and access tokens introspect inactive.
func (s *Service) SetDisabled(ctx context.Context, who Caller, subject string, disabled bool) (v UserView, err error) {
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	defer func() { s.record(ctx, who.Actor, action, target("user", subject), err, nil) }()
	u, err := s.Store.Users.Get(ctx, subject)
	if err != nil {
		return UserView{}, storeErr(err)
	}
	u.Disabled = disabled
	if err := s.Store.Users.Put(ctx, u); err != nil {
		return UserView{}, storeErr(err)
	}
	if disabled {
		if err := s.endSessions(ctx, subject); err != nil {
			return UserView{}, err
		}
		if err := s.revokeUserGrants(ctx, subject); err != nil {
			return UserView{}, err
		}
	}
	return userView(u), nil
}

// ResetPassword sets a new password and ends the user's sessions.
func (s *Service) ResetPassword(ctx context.Context, who Caller, subject, password string) (err error) {
	defer func() { s.record(ctx, who.Actor, "user.reset_password", target("user", subject), err, nil) }()
	if err := checkPassword(password); err != nil {
		return err
	}
	u, err := s.Store.Users.Get(ctx, subject)
	if err != nil {
		return storeErr(err)
	}
	if u.PasswordHash, err = secret.Hash(password, s.params()); err != nil {
		return oauth.ServerError(err)
	}
	if err := s.Store.Users.Put(ctx, u); err != nil {
		return storeErr(err)
	}
	return s.endSessions(ctx, subject)
}

// endSessions deletes every session of subject.
func (s *Service) endSessions(ctx context.Context, subject string) error {
	for {
		ss, err := s.Store.Sessions.List(ctx, subject, store.Page{Limit: store.MaxPageLimit})
		if err != nil {
			return storeErr(err)
		}
		for _, sess := range ss {
			if err := s.Store.Sessions.Delete(ctx, sess.Hash); err != nil {
				return storeErr(err)
			}
		}
		if len(ss) < store.MaxPageLimit {
			return nil
		}
	}
}

// revokeUserGrants revokes the user's grants at every client they
// consented to.
func (s *Service) revokeUserGrants(ctx context.Context, subject string) error {
	after := ""
	for {
		cs, err := s.Store.Consents.List(ctx, store.ConsentQuery{Subject: subject, Page: store.Page{After: after, Limit: store.MaxPageLimit}})
		if err != nil {
			return storeErr(err)
		}
		for _, c := range cs {
			if err := s.Store.Grants.RevokeAll(ctx, c.ClientID, subject); err != nil {
				return storeErr(err)
			}
			after = c.ClientID
		}
		if len(cs) < store.MaxPageLimit {
			return nil
		}
	}
}
