package httpx

import (
	"context"
	"net"
	"testing"
)

// TestListenAndServeAll: a listener that cannot open closes those already
// open, and an empty configuration is an error, not a hang.
func TestListenAndServeAll(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	serve := func(ctx context.Context, ln net.Listener) error { <-ctx.Done(); return ln.Close() }
	err = ListenAndServeAll(context.Background(), "test",
		Listener{Addr: addr, Serve: serve},
		Listener{Name: "admin", Addr: busy.Addr().String(), Serve: serve})
	if err == nil {
		t.Fatal("a busy address did not fail")
	}
	// The first listener was closed again: its address is free.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the first listener was left open: %v", err)
	}
	ln.Close()
	if err := ListenAndServeAll(context.Background(), "test", Listener{Serve: serve}); err == nil {
		t.Error("no address did not fail")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ListenAndServeAll(ctx, "test", Listener{Addr: "127.0.0.1:0", Serve: serve}, Listener{Name: "admin", Serve: serve}); err != nil {
		t.Errorf("cancelled serve: %v", err)
	}
}
