package token

import (
	"context"
	"crypto/x509/pkix"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
)

const tokenURL = testIssuer + "/token"

// TestSenderConstraint pins the binding decision of phase 4: a proof
// binds to its key, a certificate binds where the client or its profile
// wants it, and a fapi2 client never gets a Bearer token (FAPI 2.0 SP
// §5.3.2.1-4).
func TestSenderConstraint(t *testing.T) {
	e := newEnv(t)
	key, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	cert := testca.SelfSigned(testca.Options{Subject: pkix.Name{CommonName: "holder"}}).Cert
	proof := func() []string {
		p, err := dpop.NewProof(key, dpop.ProofParams{Method: "POST", URL: tokenURL, Now: e.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return []string{p}
	}
	tests := []struct {
		name     string
		client   string
		proofs   bool
		cert     bool
		wantErr  string
		wantJKT  bool
		wantX5T  bool
		wantType string
	}{
		{name: "ok/fapi2_dpop", client: fapiID, proofs: true, wantJKT: true, wantType: oauth.TokenTypeDPoP},
		{name: "ok/fapi2_dpop_wins_over_cert", client: fapiID, proofs: true, cert: true, wantJKT: true, wantType: oauth.TokenTypeDPoP},
		{name: "ok/fapi2_cert", client: fapiID, cert: true, wantX5T: true, wantType: oauth.TokenTypeBearer},
		{name: "fail/fapi2_bearer_downgrade", client: fapiID, wantErr: oauth.ErrInvalidRequest},
		{name: "ok/standard_dpop", client: stdID, proofs: true, wantJKT: true, wantType: oauth.TokenTypeDPoP},
		{name: "ok/standard_bearer", client: stdID, wantType: oauth.TokenTypeBearer},
		// A standard client that did not ask for certificate-bound
		// tokens is not bound to a certificate it happens to present.
		{name: "ok/standard_cert_not_bound", client: stdID, cert: true, wantType: oauth.TokenTypeBearer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{GrantType: oauth.GrantClientCredentials, Credentials: e.creds(t, tt.client), EndpointURL: tokenURL}
			if tt.proofs {
				req.DPoPProofs = proof()
			}
			if tt.cert {
				req.Credentials.Certificate = cert
			}
			res, err := e.svc.Exchange(context.Background(), req)
			if got := errCode(t, err); got != tt.wantErr {
				t.Fatalf("error = %q, want %q (%v)", got, tt.wantErr, err)
			}
			if err != nil {
				return
			}
			c, ok := e.access(t, res.AccessToken)
			if !ok {
				t.Fatal("issued token is not active")
			}
			if res.TokenType != tt.wantType {
				t.Errorf("token_type = %q, want %q", res.TokenType, tt.wantType)
			}
			if got := c.Cnf["jkt"]; (got == key.Public().Thumbprint()) != tt.wantJKT || (got != "") != tt.wantJKT {
				t.Errorf("cnf.jkt = %q, want bound=%v", got, tt.wantJKT)
			}
			if got := c.Cnf["x5t#S256"]; (got == mtls.Thumbprint(cert)) != tt.wantX5T || (got != "") != tt.wantX5T {
				t.Errorf("cnf.x5t#S256 = %q, want bound=%v", got, tt.wantX5T)
			}
		})
	}
}

// TestSenderConstraintWithoutVerifier: a server without a DPoP verifier
// refuses proofs instead of ignoring them.
func TestSenderConstraintWithoutVerifier(t *testing.T) {
	e := newEnv(t)
	e.svc.DPoP = nil
	key, _ := jose.GenerateKey(jose.ES256)
	p, _ := dpop.NewProof(key, dpop.ProofParams{Method: "POST", URL: tokenURL, Now: e.clock.Now()})
	_, err := e.svc.Exchange(context.Background(), &Request{
		GrantType: oauth.GrantClientCredentials, Credentials: e.creds(t, stdID), EndpointURL: tokenURL, DPoPProofs: []string{p},
	})
	if got := errCode(t, err); got != oauth.ErrInvalidDPoPProof {
		t.Fatalf("error = %q, want invalid_dpop_proof", got)
	}
}
