// Package redis implements the short-lived, cross-node parts of the store
// contract on Redis through go-redis v9: the replay guard (Replay), pushed
// and in-flight authorization requests (Requests), authorization codes
// (Codes) and browser sessions (Sessions), plus shared fixed-window
// counters for rate limits (Client.Incr and Client.Count, which satisfy
// httpx.Counter). Client.TokenCache is a token cache for the client
// library (client.Cache, client.Locker, client.ExpiringCache), so
// processes on several machines share one token and refresh it once.
//
// Everything else (clients, users, keys, grants, refresh tokens,
// revocations, consents) must outlive a cache flush and stays in the
// durable store; Client.Store returns a Store with only the four
// aggregates set, to be laid over a durable one with store.Overlay.
//
// Codes live here, not in PostgreSQL, because they are written and
// consumed once per login within seconds and are worthless after ten
// minutes: the hot path of a login then touches the database only for
// the grant. Losing them (a Redis restart without persistence) fails
// logins in flight, never lets a code be redeemed twice: a missing code is
// ErrNotFound.
//
// Keys. Every key is the configured prefix (default "bulwark:") followed
// by the aggregate and a hash: replay:<sha256 of the caller's key>,
// req:<hash>, code:<hash>, sess:<hash>, rl:<limit key>, and for the token
// cache tok:<cache key> and toklock:<cache key>. Every operation,
// including each Lua script, touches exactly one key, so the package runs
// unchanged on Redis Cluster and needs no hash tags: keys spread over all
// slots. Records are Redis hashes with one-letter fields; each key gets a
// PEXPIREAT at the moment it is dead (for used codes, CodeRetention after
// expiry), so Redis reclaims memory without a janitor.
//
// Atomicity. Replay.Use is SET NX PXAT. Put, Requests.Consume and
// Codes.Consume are single-key Lua scripts, which Redis runs without
// interleaving: the check ("absent or dead", "unused and unexpired") and
// the write are one step, so exactly one of any number of concurrent
// callers on any number of nodes wins. Expiry decisions use the calling
// node's clock, passed to the script, as the SQL stores do.
//
// Failure. Any error talking to Redis (refused or dropped connection,
// timeout, closed client, canceled context, an error reply) wraps
// store.ErrUnavailable, and callers fail closed with 503
// temporarily_unavailable: a jti that cannot be checked is never accepted.
package redis
