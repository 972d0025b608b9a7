// Package httpx is Bulwark's shared HTTP plumbing: the error-returning
// handler adapter, the one renderer that turns an *oauth.Error into status,
// JSON body and WWW-Authenticate, bounded form and JSON decoding, security
// headers, rate limiting and the graceful server.
//
// Domain packages return errors; only WriteError decides what the client
// sees. Causes are logged, never sent, and never contain secrets.
package httpx
