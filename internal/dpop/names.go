package dpop

// Header names of RFC 9449, in canonical MIME form so they can be used
// with http.Header directly (the match is case-insensitive, §4.1).
const (
	// HeaderName carries the proof (§4.1).
	HeaderName = "Dpop"
	// NonceHeaderName carries a server nonce (§8.1).
	NonceHeaderName = "Dpop-Nonce"
)
