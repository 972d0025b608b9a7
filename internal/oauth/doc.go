// Package oauth is the protocol vocabulary shared by every part of Bulwark:
// the error value with its RFC 6749 §5.2 code, grant and response-type
// constants, scope sets and the metadata JSON types.
//
// It performs no I/O and knows nothing of net/http beyond status-code
// constants, so domain packages can share it without pulling in transport
// concerns. Rendering an Error onto the wire is internal/httpx's job.
package oauth
