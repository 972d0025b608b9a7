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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
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
	dpop, show             bool
	round                  time.Duration
	url, htu, resource     string
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "token", "token: client_credentials requests; flow: PAR → authorize → token for a signed-in user; resource: GET -url with one DPoP-bound token and a fresh proof per request")
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
	flag.BoolVar(&o.dpop, "dpop", true, "send a fresh DPoP proof (ES256) with every token request and require token_type DPoP")
	flag.BoolVar(&o.show, "show", false, "print the first token response and its access token's JOSE header and claims to stderr")
	flag.DurationVar(&o.round, "round", 20*time.Second, "longest a round of pre-signed requests should take at the warm-up rate; proofs must reach the server within 60 s of signing")
	flag.StringVar(&o.url, "url", "", "resource: the URL requests are sent to")
	flag.StringVar(&o.htu, "htu", "", "resource: the URL the proofs are made for (default -url); give the gateway's URL when -url is the upstream itself, so both runs send the same bytes")
	flag.StringVar(&o.resource, "resource", "", "resource: the RFC 8707 resource (audience) to ask the token for")
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

// workload is the requests of a run. prepare signs requests [from, to)
// ahead of time: assertions and DPoP proofs are single-use, and signing
// them while the clock runs would measure the generator. do sends request
// i, which prepare has made.
type workload struct {
	prepare func(from, to int) error
	do      func(hc *http.Client, i int) error
}

// run measures the load in rounds. A DPoP proof is accepted only within
// a short window of its iat (Bulwark: 60 s past; oidc-provider: 300 s), so
// requests cannot all be signed up front when the run is long. Each round
// is signed first, on every CPU, then sent with the clock and the
// server's CPU time running; the next round is signed while the server
// idles, and those pauses count in neither. A round holds about -round
// worth of requests at the warm-up rate, so when its last request is sent
// its oldest proof is about that old plus the round's signing time. With
// -warmup 0 or -round 0 everything is one round.
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
	var dpopKey *jose.PrivateKey
	if o.dpop {
		if dpopKey, err = jose.GenerateKey(jose.ES256); err != nil {
			return err
		}
	}
	total := o.warmup + o.n
	var w workload
	switch o.mode {
	case "token":
		w = tokenWorkload(o, key, dpopKey, total)
	case "flow":
		w, err = flowWorkload(hc, o, key, dpopKey, total)
	case "resource":
		w, err = resourceWorkload(hc, o, key, dpopKey, total)
	default:
		err = fmt.Errorf("unknown -mode %q", o.mode)
	}
	if err != nil {
		return err
	}
	roundSize := total
	if o.warmup > 0 {
		if err := w.prepare(0, o.warmup); err != nil {
			return err
		}
		warm := drive(hc, w.do, 0, o.warmup, o.c)
		if o.round > 0 && warm.duration > 0 {
			rate := float64(len(warm.lat)) / warm.duration.Seconds()
			roundSize = max(int(rate*o.round.Seconds()), 4*o.c)
		}
	}
	var res measured
	var serverCPU time.Duration
	rounds := 0
	for from := o.warmup; from < total; from += roundSize {
		to := min(from+roundSize, total)
		if err := w.prepare(from, to); err != nil {
			return err
		}
		var cpu0 time.Duration
		if o.serverPID > 0 {
			if cpu0, err = cpuTime(o.serverPID); err != nil {
				return err
			}
		}
		res.add(drive(hc, w.do, from, to, o.c))
		if o.serverPID > 0 {
			cpu1, err := cpuTime(o.serverPID)
			if err != nil {
				return err
			}
			serverCPU += cpu1 - cpu0
		}
		rounds++
	}
	sum := res.summary()
	report := map[string]any{
		"mode": o.mode, "dpop": o.dpop, "requests": sum.Requests, "errors": sum.Errors, "seconds": sum.Duration.Seconds(),
		"rps": int(sum.RPS), "p50_ms": ms(sum.P50), "p99_ms": ms(sum.P99), "concurrency": o.c, "rounds": rounds,
		"first_error": sum.FirstError,
	}
	if o.serverPID > 0 {
		perRequest := serverCPU / time.Duration(max(sum.Requests, 1))
		report["server_cpu_us_per_request"] = perRequest.Microseconds()
		if o.floor > 0 {
			floor, err := floorCPU(o.floor, o.mode, o.dpop)
			if err != nil {
				return err
			}
			report["floor_cpu_us_per_request"] = floor.Microseconds()
			report["floor_ratio"] = float64(floor) / float64(perRequest)
		}
	}
	out, _ := json.Marshal(report)
	fmt.Println(string(out))
	if sum.Errors > 0 {
		return fmt.Errorf("%d of %d requests failed: %s", sum.Errors, sum.Requests, sum.FirstError)
	}
	return nil
}

// tokenWorkload sends client_credentials requests authenticated with
// private_key_jwt, each with a DPoP proof for the token endpoint when
// dpopKey is set.
func tokenWorkload(o options, key, dpopKey *jose.PrivateKey, count int) workload {
	bodies := make([][]byte, count)
	proofs := make([]string, count)
	tokenURL := o.issuer + o.tokenPath
	return workload{
		prepare: func(from, to int) error {
			return parallel(from, to, func(i int) error {
				v, err := assertionForm(key, o.client, o.aud)
				if err != nil {
					return err
				}
				v.Set("grant_type", "client_credentials")
				if o.scope != "" {
					v.Set("scope", o.scope)
				}
				bodies[i] = []byte(v.Encode())
				if dpopKey != nil {
					proofs[i], err = dpop.NewProof(dpopKey, dpop.ProofParams{Method: http.MethodPost, URL: tokenURL})
				}
				return err
			})
		},
		do: func(hc *http.Client, i int) error {
			b, err := post(hc, tokenURL, bodies[i], proofs[i], http.StatusOK)
			if err == nil && o.show && i == 0 {
				show(b)
			}
			if err == nil && dpopKey != nil {
				err = checkDPoPBound(b)
			}
			return err
		},
	}
}

// resourceWorkload gets one DPoP-bound token by client credentials, then
// sends GET o.url with it and a fresh proof (htm, htu, ath) per request,
// as a DPoP client calls an API. Against the upstream itself (-htu set to
// the gateway's URL) the requests are byte for byte those the gateway
// gets, so the two runs differ only by the gateway.
func resourceWorkload(hc *http.Client, o options, key, dpopKey *jose.PrivateKey, count int) (workload, error) {
	if o.url == "" || dpopKey == nil {
		return workload{}, errors.New("resource mode needs -url and DPoP")
	}
	htu := o.htu
	if htu == "" {
		htu = o.url
	}
	form, err := assertionForm(key, o.client, o.aud)
	if err != nil {
		return workload{}, err
	}
	form.Set("grant_type", "client_credentials")
	if o.scope != "" {
		form.Set("scope", o.scope)
	}
	if o.resource != "" {
		form.Set("resource", o.resource)
	}
	tokenURL := o.issuer + o.tokenPath
	proof, err := dpop.NewProof(dpopKey, dpop.ProofParams{Method: http.MethodPost, URL: tokenURL})
	if err != nil {
		return workload{}, err
	}
	body, err := post(hc, tokenURL, []byte(form.Encode()), proof, http.StatusOK)
	if err != nil {
		return workload{}, err
	}
	if err := checkDPoPBound(body); err != nil {
		return workload{}, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return workload{}, fmt.Errorf("token response without access_token: %.200s", body)
	}
	authorization := "DPoP " + tok.AccessToken
	proofs := make([]string, count)
	return workload{
		prepare: func(from, to int) error {
			return parallel(from, to, func(i int) (err error) {
				proofs[i], err = dpop.NewProof(dpopKey, dpop.ProofParams{Method: http.MethodGet, URL: htu, AccessToken: tok.AccessToken})
				return err
			})
		},
		do: func(hc *http.Client, i int) error {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, o.url, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", authorization)
			req.Header.Set(dpop.HeaderName, proofs[i])
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: status %d: %.200s %s", o.url, resp.StatusCode, b, resp.Header.Get("WWW-Authenticate"))
			}
			return nil
		},
	}, nil
}

// checkDPoPBound checks that a token response is for a DPoP-bound token
// (RFC 9449 §5: token_type DPoP, compared case-insensitively as RFC 6749
// §5.1 has it).
func checkDPoPBound(body []byte) error {
	var r struct {
		TokenType string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("token response: %w", err)
	}
	if !strings.EqualFold(r.TokenType, "DPoP") {
		return fmt.Errorf("token_type %q, want DPoP", r.TokenType)
	}
	return nil
}

// show prints a token response and, if its access token is a JWT, the
// token's decoded header and claims, for a look at what a server issues.
func show(body []byte) {
	fmt.Fprintf(os.Stderr, "token response: %s\n", body)
	var r struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(body, &r)
	parts := strings.Split(r.AccessToken, ".")
	if len(parts) != 3 {
		return
	}
	for i, name := range []string{"header", "claims"} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err == nil {
			fmt.Fprintf(os.Stderr, "access token %s: %s\n", name, b)
		}
	}
}

// parallel runs f for i in [from, to) on every CPU, taking indexes in
// order so requests are signed roughly in the order they are sent.
func parallel(from, to int, f func(i int) error) error {
	var next atomic.Int64
	next.Store(int64(from))
	var failed atomic.Value
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to || failed.Load() != nil {
					return
				}
				if err := f(i); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	return nil
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

// round is what drive measured of one round.
type round struct {
	lat        []time.Duration
	errors     int
	duration   time.Duration
	firstError string
}

// measured collects the rounds of a run.
type measured struct {
	lat        []time.Duration
	errors     int
	duration   time.Duration
	firstError string
}

func (m *measured) add(r round) {
	m.lat = append(m.lat, r.lat...)
	m.errors += r.errors
	m.duration += r.duration
	if m.firstError == "" {
		m.firstError = r.firstError
	}
}

// Summary is one run's measurement: throughput over the time spent
// sending (signing between rounds excluded) and latency percentiles.
type Summary struct {
	Requests   int
	Errors     int
	Duration   time.Duration
	RPS        float64
	P50, P99   time.Duration
	FirstError string
}

func (m *measured) summary() Summary {
	s := Summary{Requests: len(m.lat), Errors: m.errors, Duration: m.duration, FirstError: m.firstError}
	if len(m.lat) == 0 {
		return s
	}
	slices.Sort(m.lat)
	s.RPS = float64(len(m.lat)) / m.duration.Seconds()
	s.P50, s.P99 = m.lat[len(m.lat)/2], m.lat[len(m.lat)*99/100]
	return s
}

// drive runs requests [from, to) over c workers and measures each.
func drive(hc *http.Client, do func(*http.Client, int) error, from, to, c int) round {
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
	return round{lat: lat, errors: int(errs.Load()), duration: time.Since(start), firstError: first}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// post sends a form, with proof in the DPoP header unless it is empty,
// and returns the response body, or an error unless the status is want.
func post(hc *http.Client, u string, body []byte, proof string, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if proof != "" {
		req.Header.Set(dpop.HeaderName, proof)
	}
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
