package store

import (
	"context"
	"errors"
	"fmt"
)

// Check is one back end of a Store by name, for readiness reports.
type Check struct {
	// Name identifies the dependency in /readyz ("postgres", "redis").
	Name string
	// Ping returns nil when the back end answers.
	Ping func(ctx context.Context) error
}

// Overlay returns a Store whose aggregates come from cache wherever cache
// sets them and from durable otherwise: the way a deployment puts the
// cross-node, short-lived state (Replay, Requests, Codes, Sessions) in
// Redis and everything else in PostgreSQL. Ping succeeds only when both
// answer, Checks names them durableName and cacheName, and Close closes
// both. Neither argument may be nil, and durable must set every aggregate.
//
// The result is safe for concurrent use when both stores are.
func Overlay(durable *Store, durableName string, cache *Store, cacheName string) *Store {
	s := *durable
	over(&s.Clients, cache.Clients)
	over(&s.Users, cache.Users)
	over(&s.Keys, cache.Keys)
	over(&s.Requests, cache.Requests)
	over(&s.Codes, cache.Codes)
	over(&s.Grants, cache.Grants)
	over(&s.RefreshTokens, cache.RefreshTokens)
	over(&s.Revocations, cache.Revocations)
	over(&s.Consents, cache.Consents)
	over(&s.Sessions, cache.Sessions)
	over(&s.Replay, cache.Replay)
	over(&s.DeviceCodes, cache.DeviceCodes)
	over(&s.Audit, cache.Audit)
	s.Checks = []Check{{Name: durableName, Ping: durable.Ping}, {Name: cacheName, Ping: cache.Ping}}
	s.Ping = func(ctx context.Context) error {
		var errs []error
		for _, c := range s.Checks {
			if err := c.Ping(ctx); err != nil {
				errs = append(errs, fmt.Errorf("store: %s: %w", c.Name, err))
			}
		}
		return errors.Join(errs...)
	}
	s.Close = func() error {
		var errs []error
		for _, c := range []func() error{cache.Close, durable.Close} {
			if c != nil {
				errs = append(errs, c())
			}
		}
		return errors.Join(errs...)
	}
	return &s
}

// over sets *dst to src unless src is nil.
func over[T comparable](dst *T, src T) {
	var none T
	if src != none {
		*dst = src
	}
}
