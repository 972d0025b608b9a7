// Package store is Bulwark's storage contract: small per-aggregate
// interfaces, the record types they carry, and the sentinel errors every
// implementation returns.
//
// Rules every implementation follows, checked by store/storetest:
//   - Single-use operations (Codes.Consume, Requests.Consume, Replay.Use,
//     RefreshTokens.Rotate, DeviceCodes.Decide, DeviceCodes.Consume) are
//     one atomic step. Exactly one of any number of concurrent callers
//     wins; the rest get ErrReplayed (or ErrNotFound when nothing was
//     ever there). Never get-then-delete.
//   - Codes, request URIs, refresh tokens, session IDs, device codes and
//     user codes are stored only as hashes: callers pass
//     store.Hash(secret) and implementations never see the secret.
//   - Expired records behave exactly like missing ones (ErrNotFound),
//     except where a method documents otherwise (a replayed
//     Codes.Consume, DeviceCodes.Poll).
//   - A back end that cannot answer returns an error wrapping
//     ErrUnavailable, and callers refuse the request: no check is skipped.
//
// The package does no I/O itself and imports no driver or net/http.
package store
