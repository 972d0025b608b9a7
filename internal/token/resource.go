package token

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// ResourceRequest is a request to one of the server's own protected
// resources (userinfo), parsed once by the handler.
type ResourceRequest struct {
	// Scheme is the Authorization scheme: oauth.TokenTypeBearer or
	// oauth.TokenTypeDPoP.
	Scheme string
	Token  string
	// DPoPProofs are the values of every DPoP header.
	DPoPProofs []string
	// Method and URL are the request's method and the endpoint's
	// configured external URL (the htu a proof must name).
	Method, URL string
	// Certificate is the client certificate of the connection, if any.
	Certificate *x509.Certificate
}

// errDPoPScheme marks invalid_token failures of DPoP-bound tokens, which
// challenge with the DPoP scheme (RFC 9449 §7.1).
var errDPoPScheme = errors.New("token: DPoP-bound token")

func dpopTokenError(desc string) error {
	return oauth.New(oauth.ErrInvalidToken, desc).WithCause(errDPoPScheme)
}

// checkResource verifies the access token of req and enforces its sender
// constraint: a DPoP-bound token needs the DPoP scheme and a proof of its
// key with ath (RFC 9449 §7.1, §7.2: never accepted as Bearer); a
// certificate-bound token needs the same certificate on the connection
// (RFC 8705 §3: "the protected resource MUST ... reject the request").
func (s *Service) checkResource(ctx context.Context, req ResourceRequest) (*accessClaims, error) {
	c, err := s.verifyAccess(ctx, req.Token)
	if errors.Is(err, errInactive) {
		if req.Scheme == oauth.TokenTypeDPoP {
			return nil, dpopTokenError("access token is invalid, expired or revoked")
		}
		return nil, oauth.New(oauth.ErrInvalidToken, "access token is invalid, expired or revoked")
	}
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	cnf := confirmationOf(c.Cnf)
	switch {
	case cnf.JKT != "":
		if req.Scheme != oauth.TokenTypeDPoP {
			return nil, dpopTokenError("a DPoP-bound access token must be sent with the DPoP scheme")
		}
		if len(req.DPoPProofs) == 0 {
			return nil, oauth.New(oauth.ErrInvalidDPoPProof, "a DPoP proof is required")
		}
		if s.DPoP == nil {
			return nil, oauth.New(oauth.ErrInvalidDPoPProof, "DPoP is not supported")
		}
		policy := dpop.NonceOff
		if cl, err := s.Clients.Get(ctx, c.ClientID); err == nil {
			policy = cl.DPoPNoncePolicy()
		}
		proof, err := s.DPoP.Verify(ctx, dpop.Request{
			Proofs: req.DPoPProofs, Method: req.Method, URL: req.URL, AccessToken: req.Token, Nonce: policy,
		})
		if err != nil {
			return nil, err
		}
		// RFC 9449 §7.1: the proof's key must be the one the token is
		// bound to.
		if subtle.ConstantTimeCompare([]byte(proof.JKT), []byte(cnf.JKT)) != 1 {
			return nil, oauth.New(oauth.ErrInvalidDPoPProof, "the DPoP proof is not signed by the key the token is bound to")
		}
	case req.Scheme == oauth.TokenTypeDPoP:
		// RFC 9449 §7.1 and the checklist's DPOP-RS-9: the DPoP scheme
		// is for DPoP-bound tokens only.
		return nil, dpopTokenError("the access token is not DPoP-bound")
	case cnf.X5T != "":
		if !mtls.ThumbprintMatches(req.Certificate, cnf.X5T) {
			return nil, oauth.New(oauth.ErrInvalidToken, "the access token is bound to another client certificate")
		}
	}
	return c, nil
}
