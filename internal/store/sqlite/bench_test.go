package sqlite_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// The token endpoint calls Replay.Use for every private_key_jwt assertion
// and DPoP proof, and Codes.Put plus Codes.Consume for every code, so these
// are the store's per-request costs. The Parallel variants show what the
// single writer connection does under contention.

func BenchmarkReplayUse(b *testing.B) {
	s := openTemp(b).Store()
	ctx := b.Context()
	exp := time.Now().Add(time.Minute)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Replay.Use(ctx, fmt.Sprint("pkj:client:", i), exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReplayUseParallel(b *testing.B) {
	s := openTemp(b).Store()
	ctx := b.Context()
	exp := time.Now().Add(time.Minute)
	var n atomic.Int64
	b.ReportAllocs()
	// Many callers per core, as on a busy token endpoint, so concurrent
	// uses can share a commit.
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Replay.Use(ctx, fmt.Sprint("pkj:client:", n.Add(1)), exp); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCodesPutConsume(b *testing.B) {
	s := openTemp(b).Store()
	ctx := b.Context()
	rec := &store.AuthorizationCode{ClientID: "client", GrantID: "grant", Params: make([]byte, 300), ExpiresAt: time.Now().Add(time.Minute)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h := store.Hash(fmt.Sprint("code", i))
		if err := s.Codes.Put(ctx, h, rec); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Codes.Consume(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodesPutConsumeParallel(b *testing.B) {
	s := openTemp(b).Store()
	ctx := b.Context()
	rec := &store.AuthorizationCode{ClientID: "client", GrantID: "grant", Params: make([]byte, 300), ExpiresAt: time.Now().Add(time.Minute)}
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h := store.Hash(fmt.Sprint("code", n.Add(1)))
			if err := s.Codes.Put(ctx, h, rec); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Codes.Consume(ctx, h); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
