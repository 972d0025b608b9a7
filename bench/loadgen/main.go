package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
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

// options are the command-line settings.
type options struct {
	mode                   string
	issuer, tokenPath, aud string
	client, keyFile, scope string
	redirectURI            string
	username, password     string
	n, c, warmup           int
	serverPID              int
	floor                  time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "token", "token: client_credentials requests; flow: PAR → authorize → token for a signed-in user")
	flag.StringVar(&o.issuer, "issuer", "http://127.0.0.1:8080", "issuer URL; endpoints are issuer + path")
	flag.StringVar(&o.tokenPath, "token-path", "/token", "token endpoint path")
	flag.StringVar(&o.aud, "aud", "", "assertion audience (default: the issuer)")
	flag.StringVar(&o.client, "client", "bench", "client_id")
	flag.StringVar(&o.keyFile, "key", "", "private JWK (ES256) of the client")
	flag.StringVar(&o.scope, "scope", "", "scope parameter")
	flag.StringVar(&o.redirectURI, "redirect-uri", "https://app.example/cb", "flow: registered redirect URI")
	flag.StringVar(&o.username, "username", "alice", "flow: user to sign in as")
	flag.StringVar(&o.password, "password", "", "flow: the user's password")
	flag.IntVar(&o.n, "n", 10000, "requests (flows in flow mode)")
	flag.IntVar(&o.c, "c", 32, "concurrent connections")
	flag.IntVar(&o.warmup, "warmup", 500, "untimed warm-up requests")
	flag.IntVar(&o.serverPID, "server-pid", 0, "PID of the server under test: report its CPU time per request (Linux /proc)")
	flag.DurationVar(&o.floor, "floor", 0, "token mode: also measure the crypto floor for this long and report server CPU against it")
	initDir := flag.String("init", "", "write a new ES256 client key pair (key.jwk, jwks.json) into this directory and exit")
	flag.Parse()
	var err error
	if *initDir != "" {
		err = initKeys(*initDir)
	} else {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// op performs request i of a run.
type op func(hc *http.Client, i int) error

func run(o options) error {
	raw, err := os.ReadFile(o.keyFile)
	if err != nil {
		return err
	}
	key, err := jose.ParsePrivateJWK(raw)
	if err != nil {
		return err
	}
	o.issuer = strings.TrimSuffix(o.issuer, "/")
	if o.aud == "" {
		o.aud = o.issuer
	}
	hc := &http.Client{
		Transport: &http.Transport{
			MaxIdleConns: o.c, MaxIdleConnsPerHost: o.c, IdleConnTimeout: time.Minute,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	total := o.warmup + o.n
	var do op
	switch o.mode {
	case "token":
		do, err = tokenOp(o, key, total)
	case "flow":
		do, err = flowOp(hc, o, key, total)
	default:
		err = fmt.Errorf("unknown -mode %q", o.mode)
	}
	if err != nil {
		return err
	}
	if o.warmup > 0 {
		drive(hc, do, 0, o.warmup, o.c)
	}
	var cpu0 time.Duration
	if o.serverPID > 0 {
		if cpu0, err = cpuTime(o.serverPID); err != nil {
			return err
		}
	}
	res := drive(hc, do, o.warmup, total, o.c)
	report := map[string]any{
		"mode": o.mode, "requests": res.Requests, "errors": res.Errors, "seconds": res.Duration.Seconds(),
		"rps": int(res.RPS), "p50_ms": ms(res.P50), "p99_ms": ms(res.P99), "concurrency": o.c, "first_error": res.FirstError,
	}
	if o.serverPID > 0 {
		cpu1, err := cpuTime(o.serverPID)
		if err != nil {
			return err
		}
		serverCPU := (cpu1 - cpu0) / time.Duration(max(res.Requests, 1))
		report["server_cpu_us_per_request"] = serverCPU.Microseconds()
		if o.floor > 0 {
			floor, err := floorCPU(o.floor)
			if err != nil {
				return err
			}
			report["floor_cpu_us_per_request"] = floor.Microseconds()
			report["floor_ratio"] = float64(floor) / float64(serverCPU)
		}
	}
	out, _ := json.Marshal(report)
	fmt.Println(string(out))
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d requests failed: %s", res.Errors, res.Requests, res.FirstError)
	}
	return nil
}

// tokenOp pre-signs one client_credentials request body per request (each
// assertion jti is single-use), so the timed phase measures the server.
func tokenOp(o options, key *jose.PrivateKey, count int) (op, error) {
	bodies := make([][]byte, count)
	for i := range bodies {
		v, err := assertionForm(key, o.client, o.aud)
		if err != nil {
			return nil, err
		}
		v.Set("grant_type", "client_credentials")
		if o.scope != "" {
			v.Set("scope", o.scope)
		}
		bodies[i] = []byte(v.Encode())
	}
	tokenURL := o.issuer + o.tokenPath
	return func(hc *http.Client, i int) error {
		_, err := post(hc, tokenURL, bodies[i], http.StatusOK)
		return err
	}, nil
}

// assertionForm returns client authentication parameters with a fresh
// private_key_jwt assertion (RFC 7523) signed by key.
func assertionForm(key *jose.PrivateKey, client, aud string) (url.Values, error) {
	var j [16]byte
	rand.Read(j[:])
	now := time.Now().Unix()
	a, err := jose.SignWithKey(key, "", false, map[string]any{
		"iss": client, "sub": client, "aud": aud, "iat": now, "exp": now + 240,
		"jti": base64.RawURLEncoding.EncodeToString(j[:]),
	})
	if err != nil {
		return nil, err
	}
	return url.Values{
		"client_id":             {client},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {a},
	}, nil
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

// drive runs requests [from, to) over c workers and measures each.
func drive(hc *http.Client, do op, from, to, c int) Result {
	next := atomic.Int64{}
	next.Store(int64(from))
	var errs atomic.Int64
	var firstErr sync.Once
	var first string
	lat := make([]time.Duration, to-from)
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				t0 := time.Now()
				err := do(hc, i)
				lat[i-from] = time.Since(t0)
				if err != nil {
					errs.Add(1)
					firstErr.Do(func() { first = err.Error() })
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	slices.Sort(lat)
	return Result{
		Requests: len(lat), Errors: int(errs.Load()), Duration: d,
		RPS: float64(len(lat)) / d.Seconds(),
		P50: lat[len(lat)/2], P99: lat[len(lat)*99/100], FirstError: first,
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// post sends a form and returns the response body, or an error unless the
// status is want.
func post(hc *http.Client, u string, body []byte, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return nil, fmt.Errorf("POST %s: status %d: %.200s", u, resp.StatusCode, b)
	}
	return b, nil
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
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 || i+2 > len(raw) {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(string(raw[i+2:]))
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
