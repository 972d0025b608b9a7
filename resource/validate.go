package resource

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// AccessTokenType is the typ of JWT access tokens (RFC 9068 §2.1).
const AccessTokenType = "at+jwt"

// confirmation is a token's cnf claim (RFC 7800): the DPoP key thumbprint
// (RFC 9449 §6.1) or the certificate thumbprint (RFC 8705 §3.1). unknown
// marks a cnf this package cannot check, which is refused: accepting it
// as unbound would drop a constraint the issuer put there.
type confirmation struct {
	jkt, x5t string
	unknown  bool
}

// validate checks that the token is active and meant for this resource
// server, locally for JWTs and through introspection for opaque tokens
// (and for JWTs too with IntrospectJWT), and returns it without binding.
func (v *Verifier) validate(ctx context.Context, st *state, a authorization) (*Token, confirmation, *Error) {
	var claims map[string]any
	var e *Error
	jwt := strings.Count(a.token, ".") == 2
	switch {
	case jwt:
		if claims, e = v.verifyAccessJWT(ctx, st, a); e != nil {
			return nil, confirmation{}, e
		}
		if st.intro != nil && st.intro.cfg.IntrospectJWT {
			// The local checks passed; the issuer decides whether the
			// token was revoked since (RFC 7662 §2.2 active).
			if _, e := st.intro.introspect(ctx, a); e != nil {
				return nil, confirmation{}, e
			}
		}
	case st.intro != nil:
		if claims, e = st.intro.introspect(ctx, a); e != nil {
			return nil, confirmation{}, e
		}
	default:
		return nil, confirmation{}, v.refuse(http.StatusUnauthorized, CodeInvalidToken, "the access token is invalid", ReasonInvalidToken, a.scheme, errors.New("resource: not a JWT and no introspection configured"))
	}
	return v.tokenFrom(claims, a, jwt)
}

// verifyAccessJWT applies RFC 9068 §4 to a JWT access token up to its
// signature: typ, algorithm, and a key of the issuer.
func (v *Verifier) verifyAccessJWT(ctx context.Context, st *state, a authorization) (map[string]any, *Error) {
	invalid := func(cause error) *Error {
		return v.refuse(http.StatusUnauthorized, CodeInvalidToken, "the access token is invalid", ReasonInvalidToken, a.scheme, cause)
	}
	sum := sha256.Sum256([]byte(a.token))
	now := v.now()
	if claims, ok := st.verified.get(sum, st.keys.cachedKeys(), now); ok {
		return claims, nil
	}
	// jose.Parse accepts PS256, ES256 and EdDSA only: RFC 9068 §4 "The
	// resource server MUST validate the signature of all incoming JWT
	// access tokens", and none or HMAC can never validate.
	t, err := jose.Parse(a.token, nil)
	if err != nil {
		return nil, invalid(err)
	}
	// RFC 9068 §4: "Resource servers MUST verify that the typ header
	// value is "at+jwt" or "application/at+jwt" and reject tokens
	// carrying any other value." (https://www.rfc-editor.org/rfc/rfc9068.html#section-4)
	if !mediaTypeIs(t.Header.Type, AccessTokenType) {
		return nil, invalid(jose.ErrType)
	}
	var claims map[string]any
	ks, err := st.keys.verifyJWT(ctx, t, &claims)
	if err != nil {
		if errors.Is(err, errNoKeys) {
			return nil, v.refuse(http.StatusServiceUnavailable, CodeTemporarilyUnavailable, "the issuer's keys are unavailable; retry later", ReasonUnavailable, "", err)
		}
		return nil, invalid(err)
	}
	st.verified.put(sum, ks, claims, now)
	return claims, nil
}

// mediaTypeIs compares a typ header with a media type, with or without
// its "application/" prefix, case-insensitively (RFC 7515 §4.1.9).
func mediaTypeIs(typ, want string) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, want)
}

// tokenFrom checks the claims every token needs and builds the Token.
// jwt says whether they came from a signed JWT (exp and iss required) or
// an introspection response (which may omit them: RFC 7662 §2.2).
func (v *Verifier) tokenFrom(m map[string]any, a authorization, jwt bool) (*Token, confirmation, *Error) {
	bad := func(reason, desc string) (*Token, confirmation, *Error) {
		return nil, confirmation{}, v.refuse(http.StatusUnauthorized, CodeInvalidToken, desc, reason, a.scheme, nil)
	}
	iss, _ := m["iss"].(string)
	// RFC 9068 §4: "The issuer identifier for the authorization server
	// ... MUST exactly match the value of the iss claim."
	if iss != v.Issuer && (jwt || iss != "") {
		return bad(ReasonIssuer, "the access token was issued by another server")
	}
	aud, ok := audience(m["aud"])
	// RFC 9068 §4: "The resource server MUST validate that the aud claim
	// contains a resource indicator value corresponding to an identifier
	// the resource server expects for itself." Introspection results are
	// held to the same rule.
	if !ok || !slices.ContainsFunc(aud, func(s string) bool { return slices.Contains(v.Audiences, s) }) {
		return bad(ReasonAudience, "the access token is not meant for this resource server")
	}
	now, leeway := v.now(), v.leeway()
	exp, hasExp, ok1 := numericDate(m["exp"])
	nbf, hasNbf, ok2 := numericDate(m["nbf"])
	iat, hasIat, ok3 := numericDate(m["iat"])
	switch {
	case !ok1 || !ok2 || !ok3:
		return bad(ReasonInvalidToken, "the access token is invalid")
	case jwt && !hasExp:
		return bad(ReasonInvalidToken, "the access token has no exp")
	// RFC 9068 §4: "The current time MUST be before the time represented
	// by the exp claim." Leeway allows for clock skew.
	case hasExp && !now.Before(exp.Add(leeway)):
		return bad(ReasonExpired, "the access token has expired")
	case hasNbf && nbf.After(now.Add(leeway)), hasIat && iat.After(now.Add(leeway)):
		return bad(ReasonExpired, "the access token is not valid yet")
	}
	c, ok := cnfOf(m["cnf"])
	if !ok {
		c.unknown = true
	}
	tok := &Token{Issuer: iss, Audience: aud, Claims: m, v: v}
	if iss == "" {
		tok.Issuer = v.Issuer
	}
	tok.Subject, _ = m["sub"].(string)
	tok.ClientID, _ = m["client_id"].(string)
	if s, ok := m["scope"].(string); ok {
		tok.Scopes = strings.Fields(s)
	}
	if hasExp {
		tok.Expiry = exp
	}
	return tok, c, nil
}

// audience reads aud, a string or an array of strings (RFC 7519 §4.1.3).
func audience(v any) ([]string, bool) {
	switch a := v.(type) {
	case string:
		return []string{a}, true
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	case []string:
		return a, true
	}
	return nil, false
}

// numericDate reads a NumericDate claim (RFC 7519 §2). present is false
// when absent; ok is false when present but not a number.
func numericDate(v any) (t time.Time, present, ok bool) {
	if v == nil {
		return time.Time{}, false, true
	}
	f, isNum := v.(float64)
	if !isNum || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, true, false
	}
	return jose.NumericDate(f).Time(), true, true
}

// cnfOf reads the cnf claim. ok is false for a cnf with members other
// than jkt and x5t#S256, or with non-string or empty values.
func cnfOf(v any) (confirmation, bool) {
	if v == nil {
		return confirmation{}, true
	}
	m, isMap := v.(map[string]any)
	if !isMap || len(m) == 0 {
		return confirmation{}, false
	}
	var c confirmation
	for k, val := range m {
		s, isString := val.(string)
		if !isString || s == "" {
			return confirmation{}, false
		}
		switch k {
		case "jkt":
			c.jkt = s
		case "x5t#S256":
			c.x5t = s
		default:
			return confirmation{}, false
		}
	}
	return c, true
}
