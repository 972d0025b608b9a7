package floor

import (
	"context"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

// Step is one request's floor work.
type Step func() error

// Token returns the floor of one client_credentials + private_key_jwt
// token request: parse and verify the client's ES256 assertion, with
// withDPoP verify its ES256 DPoP proof (parse, embedded jwk, signature,
// jkt thumbprint), and sign the ES256 access token (with cnf.jkt).
//
// Proofs go through the server's dpop.Verifier with a replay guard that
// keeps nothing (the replay store is the server's cost, not the floor's)
// and a clock fixed at the proof's iat, so one proof serves every
// iteration.
func Token(withDPoP bool) (Step, error) {
	clientKey, serverKey, proofKey, err := keys()
	if err != nil {
		return nil, err
	}
	signer := jose.NewSigner(serverKey)
	set := jose.NewKeySet(clientKey.Public())
	now := time.Now()
	assertion, err := jose.SignWithKey(clientKey, "", false, map[string]any{
		"iss": "c", "sub": "c", "aud": "https://issuer.example", "iat": now.Unix(), "exp": now.Unix() + 60, "jti": "x",
	})
	if err != nil {
		return nil, err
	}
	claims := map[string]any{"iss": "https://issuer.example", "sub": "c", "client_id": "c", "exp": now.Unix() + 300, "iat": now.Unix(), "jti": "y", "scope": "api"}
	const tokenURL = "https://issuer.example/token"
	var verify func() error
	if withDPoP {
		proof, err := dpop.NewProof(proofKey, dpop.ProofParams{Method: "POST", URL: tokenURL, Now: now})
		if err != nil {
			return nil, err
		}
		claims["cnf"] = map[string]string{"jkt": proofKey.Public().Thumbprint()}
		verify = proofCheck(dpop.Request{Proofs: []string{proof}, Method: "POST", URL: tokenURL}, now)
	}
	return func() error {
		if err := verifyJWT(assertion, set); err != nil {
			return err
		}
		if verify != nil {
			if err := verify(); err != nil {
				return err
			}
		}
		_, err := signer.Sign(jose.ES256, "at+jwt", claims)
		return err
	}, nil
}

// Resource returns the floor of one DPoP-bound API request at a resource
// server: parse and verify the ES256 JWT access token against the
// issuer's key set, and verify the proof with its ath.
func Resource() (Step, error) {
	_, serverKey, proofKey, err := keys()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	const apiURL = "https://api.example/accounts"
	token, err := jose.NewSigner(serverKey).Sign(jose.ES256, "at+jwt", map[string]any{
		"iss": "https://issuer.example", "sub": "c", "client_id": "c", "aud": "https://api.example",
		"exp": now.Unix() + 300, "iat": now.Unix(), "jti": "y", "scope": "accounts",
		"cnf": map[string]string{"jkt": proofKey.Public().Thumbprint()},
	})
	if err != nil {
		return nil, err
	}
	proof, err := dpop.NewProof(proofKey, dpop.ProofParams{Method: "GET", URL: apiURL, AccessToken: token, Now: now})
	if err != nil {
		return nil, err
	}
	set := jose.NewKeySet(serverKey.Public())
	verify := proofCheck(dpop.Request{Proofs: []string{proof}, Method: "GET", URL: apiURL, AccessToken: token}, now)
	return func() error {
		if err := verifyJWT(token, set); err != nil {
			return err
		}
		return verify()
	}, nil
}

func keys() (client, server, proof *jose.PrivateKey, err error) {
	if client, err = jose.GenerateKey(jose.ES256); err != nil {
		return
	}
	if server, err = jose.GenerateKey(jose.ES256); err != nil {
		return
	}
	proof, err = jose.GenerateKey(jose.ES256)
	return
}

func verifyJWT(token string, set *jose.KeySet) error {
	t, err := jose.Parse(token, nil)
	if err != nil {
		return err
	}
	var c jose.Claims
	_, err = t.VerifySet(set, &c)
	return err
}

func proofCheck(req dpop.Request, now time.Time) func() error {
	verifier := &dpop.Verifier{Replay: noReplay{}, Now: func() time.Time { return now }}
	ctx := context.Background()
	return func() error {
		_, err := verifier.Verify(ctx, req)
		return err
	}
}

// noReplay is a dpop.Replay that accepts every key and keeps none.
type noReplay struct{}

func (noReplay) Use(context.Context, string, time.Time) error { return nil }
