package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Transport is an http.RoundTripper that authorizes each request with a
// token from Source, like oauth2.Transport, and sender-constrains it:
//
//   - a DPoP token is sent as "Authorization: DPoP <token>" with a fresh
//     proof whose htm and htu are the request's method and URL (query
//     and fragment dropped) and whose ath is the token's hash (RFC 9449
//     §7.1); DPoPKey must be set;
//   - any other token is sent as "Authorization: Bearer <token>" (RFC
//     6750 §2.1); for certificate-bound tokens (ModeMTLS) Base must
//     present the client certificate, as Config.Transport arranges.
//
// The token never goes into the URL (FAPI 2.0 SP §5.3.3.1-3). A 401 whose
// DPoP challenge says error="use_dpop_nonce" is retried once with the
// DPoP-Nonce the server sent (RFC 9449 §9); a 401 invalid_token is retried
// once with a new token when Source is one of this package's sources,
// which then refreshes. A request with a body is only retried when it has
// GetBody (http.NewRequest sets it for in-memory bodies); otherwise the
// 401 is returned as is.
//
// The zero value is not usable: set Source. A Transport is safe for
// concurrent use; it remembers one DPoP nonce per server origin.
type Transport struct {
	// Source supplies the tokens. Required.
	Source oauth2.TokenSource
	// DPoPKey signs proofs for DPoP tokens; nil fails requests with a
	// DPoP token rather than send it without a proof.
	DPoPKey *DPoPKey
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Now is the clock for proofs; nil means time.Now.
	Now func() time.Time

	// nonces is shared with the Config that made the Transport; nil
	// means own.
	nonces    *nonceStore
	ownNonces nonceStore
	// err is a setup failure reported by every RoundTrip.
	err error
}

var _ http.RoundTripper = (*Transport)(nil)

// Transport returns a Transport for ts that signs proofs with the Config's
// DPoP key in ModeDPoP, presents the Config's client certificate on every
// connection when one is set, and shares the Config's DPoP nonces.
func (c *Config) Transport(ts oauth2.TokenSource) *Transport {
	t := &Transport{Source: ts, Now: c.Now, nonces: &c.nonces}
	hc, err := c.httpClient()
	if err != nil {
		t.err = err
		return t
	}
	t.Base = hc.Transport
	if t.DPoPKey, err = c.dpopKey(); err != nil {
		t.err = err
	}
	return t
}

// Client returns an HTTP client whose requests carry tokens from ts through
// c.Transport(ts), like oauth2.Config.Client and oauth2.NewClient. ctx is
// accepted for drop-in compatibility and is not used: unlike
// oauth2.NewClient, no HTTP client is taken from a context. Each request's
// own context bounds it; ts keeps the context it was created with for
// refreshes.
func (c *Config) Client(ctx context.Context, ts oauth2.TokenSource) *http.Client {
	return &http.Client{Transport: c.Transport(ts)}
}

func (t *Transport) nonceStore() *nonceStore {
	if t.nonces != nil {
		return t.nonces
	}
	return &t.ownNonces
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// RoundTrip implements http.RoundTripper. It does not modify req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	if t.err != nil {
		closeBody()
		return nil, t.err
	}
	if t.Source == nil {
		closeBody()
		return nil, errors.New("client: Transport's Source is nil")
	}
	tok, err := t.Source.Token()
	if err != nil {
		closeBody()
		return nil, err
	}
	rewindable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	org := origin(req.URL.String())
	nonceRetried, tokenRetried := false, false
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if attempt > 0 && req.GetBody != nil {
			if r.Body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("client: rewind request body: %w", err)
			}
		}
		nonce := t.nonceStore().get(org)
		if err := t.authorize(r, tok, nonce); err != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, err
		}
		resp, err := t.base().RoundTrip(r)
		if err != nil {
			return nil, err
		}
		isDPoP := isDPoPType(tok.TokenType)
		newNonce := resp.Header.Get(dpop.NonceHeaderName)
		if isDPoP && newNonce != "" {
			// RFC 9449 §9: the resource server's nonce is for the next
			// proof sent to it.
			t.nonceStore().set(org, newNonce)
		}
		if resp.StatusCode != http.StatusUnauthorized || !rewindable {
			return resp, nil
		}
		chs := ParseChallenges(resp.Header.Values("Www-Authenticate"))
		if isDPoP && !nonceRetried && challengeError(chs, oauth.TokenTypeDPoP) == oauth.ErrUseDPoPNonce &&
			newNonce != "" && newNonce != nonce {
			nonceRetried = true
			drain(resp)
			continue
		}
		if !tokenRetried && challengeError(chs, "") == oauth.ErrInvalidToken {
			if inv, ok := t.Source.(invalidator); ok {
				inv.invalidate(tok.AccessToken)
				if nt, err := t.Source.Token(); err == nil && nt.AccessToken != tok.AccessToken {
					tokenRetried = true
					tok = nt
					drain(resp)
					continue
				}
			}
		}
		return resp, nil
	}
}

// authorize sets the Authorization header and, for DPoP tokens, the proof.
func (t *Transport) authorize(r *http.Request, tok *oauth2.Token, nonce string) error {
	switch {
	case isDPoPType(tok.TokenType):
		if t.DPoPKey == nil {
			return errors.New("client: a DPoP token needs Transport.DPoPKey")
		}
		p, err := t.DPoPKey.proof(r.Method, r.URL.String(), tok.AccessToken, nonce, t.now())
		if err != nil {
			return err
		}
		r.Header.Set("Authorization", oauth.TokenTypeDPoP+" "+tok.AccessToken)
		r.Header.Set(dpop.HeaderName, p)
	case tok.Type() == oauth.TokenTypeBearer:
		r.Header.Set("Authorization", oauth.TokenTypeBearer+" "+tok.AccessToken)
		r.Header.Del(dpop.HeaderName)
	default:
		return fmt.Errorf("%w: %q cannot be sent to a resource server", ErrTokenType, tok.TokenType)
	}
	return nil
}

// drain discards the rest of a response that is being retried, so its
// connection can be reused.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// isDPoPType reports whether a token_type names DPoP.
func isDPoPType(tt string) bool { return strings.EqualFold(tt, oauth.TokenTypeDPoP) }
