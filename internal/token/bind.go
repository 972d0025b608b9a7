package token

import (
	"context"
	"encoding/json"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Confirmation is the key an access token is bound to (RFC 7800 cnf): a
// DPoP key thumbprint (RFC 9449 §6.1) or a client certificate thumbprint
// (RFC 8705 §3.1). The zero value is an unbound (Bearer) token. It is
// stored with refresh tokens and codes, so its JSON names are a storage
// format.
type Confirmation struct {
	JKT string `json:"jkt,omitempty"`
	X5T string `json:"x5t#S256,omitempty"`
}

// claim renders c as the cnf claim; nil when unbound.
func (c Confirmation) claim() map[string]string {
	switch {
	case c.JKT != "":
		return map[string]string{"jkt": c.JKT}
	case c.X5T != "":
		return map[string]string{"x5t#S256": c.X5T}
	}
	return nil
}

// tokenType is the token_type of a token bound by c (RFC 9449 §5: DPoP;
// RFC 8705 §3: certificate-bound tokens stay Bearer).
func (c Confirmation) tokenType() string {
	if c.JKT != "" {
		return oauth.TokenTypeDPoP
	}
	return oauth.TokenTypeBearer
}

func confirmationOf(claim map[string]string) Confirmation {
	return Confirmation{JKT: claim["jkt"], X5T: claim["x5t#S256"]}
}

// senderConstraint decides what the tokens of this request are bound to.
// A DPoP proof wins; otherwise the client certificate binds when the client
// asked for certificate-bound tokens, authenticates with it, or belongs to
// a profile that never issues Bearer tokens.
func (s *Service) senderConstraint(ctx context.Context, c *clients.Client, req *Request) (Confirmation, error) {
	if len(req.DPoPProofs) > 0 {
		if s.DPoP == nil {
			return Confirmation{}, oauth.New(oauth.ErrInvalidDPoPProof, "DPoP is not supported")
		}
		proof, err := s.DPoP.Verify(ctx, dpop.Request{
			Proofs: req.DPoPProofs, Method: "POST", URL: req.EndpointURL, Nonce: c.DPoPNoncePolicy(),
		})
		if err != nil {
			return Confirmation{}, err
		}
		return Confirmation{JKT: proof.JKT}, nil
	}
	// RFC 9449 §5.2: "If true, the authorization server MUST reject token
	// requests from this client that do not contain the DPoP header."
	if c.DPoPBoundAccessTokens {
		return Confirmation{}, oauth.New(oauth.ErrInvalidDPoPProof, "this client must send a DPoP proof")
	}
	p := c.Profile()
	if cert := req.Credentials.Certificate; cert != nil &&
		(c.TLSClientCertificateBoundAccessTokens || c.UsesMTLS() || p.RequireSenderConstrainedTokens) {
		return Confirmation{X5T: mtls.Thumbprint(cert)}, nil
	}
	// FAPI 2.0 SP §5.3.2.1-4: "shall only issue sender-constrained access
	// tokens". Refuse rather than fall back to Bearer.
	if p.RequireSenderConstrainedTokens {
		return Confirmation{}, oauth.InvalidRequest("sender-constrained tokens are required: send a DPoP proof or use a client certificate")
	}
	return Confirmation{}, nil
}

// refreshBinding is what a refresh token record keeps in Params.
type refreshBinding struct {
	// Cnf binds the refresh token of a public client to its DPoP key
	// (RFC 9449 §5: refresh tokens "issued to public clients ... MUST be
	// bound to the DPoP public key").
	Cnf Confirmation `json:"cnf"`
}

func decodeRefreshBinding(params []byte) (Confirmation, error) {
	if len(params) == 0 {
		return Confirmation{}, nil
	}
	var b refreshBinding
	if err := json.Unmarshal(params, &b); err != nil {
		return Confirmation{}, err
	}
	return b.Cnf, nil
}
