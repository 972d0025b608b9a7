package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

func main() {
	tokenURL := flag.String("token", "http://127.0.0.1:8080/token", "token endpoint URL")
	aud := flag.String("aud", "", "assertion audience (default: the issuer, i.e. token URL without /token)")
	client := flag.String("client", "bench", "client_id")
	keyFile := flag.String("key", "", "private JWK (ES256) of the client")
	n := flag.Int("n", 10000, "requests")
	c := flag.Int("c", 32, "concurrent connections")
	scope := flag.String("scope", "", "scope parameter (optional)")
	warmup := flag.Int("warmup", 500, "untimed warm-up requests")
	serverPID := flag.Int("server-pid", 0, "PID of the server under test: report its CPU time per request (Linux /proc)")
	initDir := flag.String("init", "", "write a new ES256 client key pair (key.jwk, jwks.json) into this directory and exit")
	flag.Parse()
	if *initDir != "" {
		if err := initKeys(*initDir); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*tokenURL, *aud, *client, *keyFile, *scope, *n, *c, *warmup, *serverPID); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// Result is one run's measurement.
type Result struct {
	Requests   int
	Errors     int
	Duration   time.Duration
	RPS        float64
	P50, P99   time.Duration
	FirstError string
}

// initKeys writes a fresh ES256 private JWK and its public JWKS, so the
// same client key can be registered with every server under comparison.
func initKeys(dir string) error {
	key, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		return err
	}
	priv, err := key.MarshalJSON()
	if err != nil {
		return err
	}
	pub, err := json.Marshal(jose.NewKeySet(key.Public()))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.jwk"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "jwks.json"), pub, 0o644)
}

// cpuTime reads a process's user+system CPU time from /proc/PID/stat.
// Clock ticks are 100 Hz on every Linux configuration Go supports here.
func cpuTime(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	rest := raw[bytes.LastIndexByte(raw, ')')+2:]
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func run(tokenURL, aud, client, keyFile, scope string, n, c, warmup, serverPID int) error {
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	key, err := jose.ParsePrivateJWK(raw)
	if err != nil {
		return err
	}
	if aud == "" {
		u, _ := url.Parse(tokenURL)
		u.Path = ""
		aud = u.String()
	}
	bodies, err := presign(key, client, aud, scope, warmup+n)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConns: c, MaxIdleConnsPerHost: c, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}, Timeout: 30 * time.Second}
	if warmup > 0 {
		drive(hc, tokenURL, bodies[:warmup], c)
	}
	var cpu0 time.Duration
	if serverPID > 0 {
		if cpu0, err = cpuTime(serverPID); err != nil {
			return err
		}
	}
	res := drive(hc, tokenURL, bodies[warmup:], c)
	report := map[string]any{
		"requests": res.Requests, "errors": res.Errors, "seconds": res.Duration.Seconds(),
		"rps": int(res.RPS), "p50_ms": ms(res.P50), "p99_ms": ms(res.P99), "concurrency": c, "first_error": res.FirstError,
	}
	if serverPID > 0 {
		cpu1, err := cpuTime(serverPID)
		if err != nil {
			return err
		}
		report["server_cpu_us_per_request"] = int((cpu1 - cpu0).Microseconds()) / max(res.Requests, 1)
	}
	out, _ := json.Marshal(report)
	fmt.Println(string(out))
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d requests failed: %s", res.Errors, res.Requests, res.FirstError)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// presign builds one request body per request, each with a fresh jti.
func presign(key *jose.PrivateKey, client, aud, scope string, count int) ([][]byte, error) {
	out := make([][]byte, count)
	now := time.Now().Unix()
	for i := range out {
		var j [16]byte
		rand.Read(j[:])
		a, err := jose.SignWithKey(key, "", false, map[string]any{
			"iss": client, "sub": client, "aud": aud, "iat": now, "exp": now + 240,
			"jti": base64.RawURLEncoding.EncodeToString(j[:]),
		})
		if err != nil {
			return nil, err
		}
		v := url.Values{
			"grant_type":            {"client_credentials"},
			"client_id":             {client},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {a},
		}
		if scope != "" {
			v.Set("scope", scope)
		}
		out[i] = []byte(v.Encode())
	}
	return out, nil
}

// drive sends every body once over c workers and measures each request.
func drive(hc *http.Client, tokenURL string, bodies [][]byte, c int) Result {
	var next atomic.Int64
	var errs atomic.Int64
	var firstErr sync.Once
	var first string
	lat := make([]time.Duration, len(bodies))
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				t0 := time.Now()
				err := post(hc, tokenURL, bodies[i])
				lat[i] = time.Since(t0)
				if err != nil {
					errs.Add(1)
					firstErr.Do(func() { first = err.Error() })
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	slices.Sort(lat)
	return Result{
		Requests: len(bodies), Errors: int(errs.Load()), Duration: d,
		RPS: float64(len(bodies)) / d.Seconds(),
		P50: lat[len(lat)/2], P99: lat[len(lat)*99/100], FirstError: first,
	}
}

func post(hc *http.Client, u string, body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"access_token"`)) {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return nil
}
