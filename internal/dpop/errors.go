package dpop

import (
	"errors"
	"fmt"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Causes wrapped by the *oauth.Error that Verify returns, one per check of
// RFC 9449 §4.3, so callers and tests can tell failures apart with
// errors.Is without reading messages.
var (
	// ErrMissing reports a request without a DPoP header.
	ErrMissing = errors.New("dpop: no DPoP proof")
	// ErrMultiple reports more than one DPoP header, or one value holding
	// several proofs joined by commas.
	ErrMultiple = errors.New("dpop: more than one DPoP proof")
	// ErrMalformed reports a value that is not one well-formed compact JWS
	// of bounded size with JSON header and claims.
	ErrMalformed = errors.New("dpop: malformed DPoP proof")
	// ErrType reports a typ header other than "dpop+jwt".
	ErrType = errors.New("dpop: typ is not dpop+jwt")
	// ErrAlgorithm reports an alg that is missing, symmetric, none, or not
	// on the verifier's allow-list.
	ErrAlgorithm = errors.New("dpop: algorithm not allowed")
	// ErrSignature reports a signature that does not verify with the
	// embedded jwk.
	ErrSignature = errors.New("dpop: signature verification failed")
	// ErrKey reports a missing jwk, one with private or symmetric key
	// material, one below the strength floor, or one that cannot verify
	// the header's alg.
	ErrKey = errors.New("dpop: unacceptable jwk")
	// ErrMethod reports a missing htm or one that differs from the
	// request method.
	ErrMethod = errors.New("dpop: htm does not match the request method")
	// ErrURL reports a missing or unparsable htu, or one that differs from
	// the endpoint's URL after normalisation.
	ErrURL = errors.New("dpop: htu does not match the request URL")
	// ErrIssuedAt reports a missing iat or one outside the acceptance
	// window.
	ErrIssuedAt = errors.New("dpop: iat outside the acceptance window")
	// ErrJTI reports a missing jti or one longer than MaxJTILength.
	ErrJTI = errors.New("dpop: unacceptable jti")
	// ErrReplayed reports a proof whose jti was already used. A Replay
	// implementation may return it (or an error wrapping it) directly;
	// see Verifier.IsReplayed for stores with their own sentinel.
	ErrReplayed = errors.New("dpop: proof already used")
	// ErrAccessTokenHash reports a missing or wrong ath when an access
	// token is presented, or an ath when none is.
	ErrAccessTokenHash = errors.New("dpop: ath does not match the access token")
	// ErrNonce reports a missing, stale or foreign server nonce.
	ErrNonce = errors.New("dpop: missing or invalid nonce")
	// ErrConfig reports a Verifier that cannot check proofs safely (no
	// replay guard, or a nonce policy without Nonces). Verify then
	// refuses every proof as temporarily_unavailable.
	ErrConfig = errors.New("dpop: verifier not configured")
)

// reject builds the invalid_dpop_proof error for a failed check. desc goes
// to the client, so it names the check and never echoes proof contents;
// detail, when not nil, is added to the cause, which is only logged.
func reject(sentinel error, desc string, detail error) *oauth.Error {
	cause := sentinel
	if detail != nil {
		cause = fmt.Errorf("%w: %w", sentinel, detail)
	}
	return &oauth.Error{Code: oauth.ErrInvalidDPoPProof, Description: desc, Cause: cause}
}
