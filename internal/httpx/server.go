package httpx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// TLSConfig returns the server TLS configuration FAPI 2.0 SP §5.2.2 and BCP
// 195 (RFC 9325) call for: TLS 1.2 minimum, and for TLS 1.2 only the
// ECDHE AEAD suites IANA marks Recommended. TLS 1.3 suites are fixed by Go
// and all acceptable.
func TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384},
	}
}

// Server is an http.Server with Bulwark's timeouts and header bound.
func Server(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve runs srv on ln until ctx is cancelled, then shuts down gracefully,
// giving in-flight requests up to grace to finish.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// ServeAll runs every serve function until ctx is cancelled or one of them
// returns; then it cancels the others and returns the first error. A role
// with several listeners (the mTLS listener, an admin listener) uses it so
// that one failing listener stops them all, rather than leaving a
// half-running server that advertises endpoints it does not serve.
func ServeAll(ctx context.Context, serves ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(serves))
	for _, serve := range serves {
		go func() { errc <- serve(ctx) }()
	}
	err := <-errc
	cancel()
	for range len(serves) - 1 {
		if err2 := <-errc; err == nil {
			err = err2
		}
	}
	return err
}

// Listener is one address of a role and the function that serves on it.
type Listener struct {
	// Name says which listener failed ("admin", "mtls"); empty for the
	// main one.
	Name string
	// Addr is the host:port; an empty Addr skips the listener.
	Addr string
	// Serve serves on the listener until ctx is cancelled.
	Serve func(ctx context.Context, ln net.Listener) error
}

// ListenAndServeAll opens every listener with an address and runs them
// with ServeAll. If one cannot be opened, those already open are closed
// and the error names it (prefix is the role, such as "gateway").
func ListenAndServeAll(ctx context.Context, prefix string, ls ...Listener) error {
	var open []net.Listener
	var serves []func(context.Context) error
	for _, l := range ls {
		if l.Addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, o := range open {
				o.Close()
			}
			if l.Name != "" {
				return fmt.Errorf("%s: listen (%s): %w", prefix, l.Name, err)
			}
			return fmt.Errorf("%s: listen: %w", prefix, err)
		}
		open = append(open, ln)
		serves = append(serves, func(ctx context.Context) error { return l.Serve(ctx, ln) })
	}
	if len(serves) == 0 {
		return fmt.Errorf("%s: no listen address", prefix)
	}
	return ServeAll(ctx, serves...)
}
