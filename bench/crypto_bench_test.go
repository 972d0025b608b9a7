package bench

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/bench/floor"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

// floorStep is floor.Token(true): the signature work of one
// client_credentials + private_key_jwt + DPoP token request, as
// bench/loadgen measures it beside a load run.
func floorStep(b *testing.B) floor.Step {
	step, err := floor.Token(true)
	if err != nil {
		b.Fatal(err)
	}
	return step
}

// BenchmarkCryptoFloorToken is the floor of one token request (see
// floorStep) on one CPU. The token endpoint's throughput is judged
// against it.
func BenchmarkCryptoFloorToken(b *testing.B) {
	step := floorStep(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCryptoFloorTokenParallel is the same work on every CPU at
// once, as the server runs under load. ns/op is wall time per request
// across all CPUs; cpu-µs/op is this process's CPU time per request from
// /proc (Linux), the figure compared with the server's CPU time per
// request. Where the CPUs are not shared it is ns/op × GOMAXPROCS.
func BenchmarkCryptoFloorTokenParallel(b *testing.B) {
	step := floorStep(b)
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := step(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if cpu1, ok := processCPU(); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N)/1000, "cpu-µs/op")
	}
}

// processCPU returns this process's user+system CPU time from
// /proc/self/stat, and false where there is none. Clock ticks are 100 Hz
// on every Linux configuration Go supports; bench/loadgen reads the
// server's CPU time the same way.
func processCPU() (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 || i+2 > len(raw) {
		return 0, false
	}
	f := strings.Fields(string(raw[i+2:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// BenchmarkCryptoFloorResource is the floor of one DPoP-bound API
// request at a resource server or the gateway (floor.Resource): one ES256
// JWT verify and one DPoP proof verify with ath. BenchmarkGatewayDPoP is
// read against it.
func BenchmarkCryptoFloorResource(b *testing.B) {
	step, err := floor.Resource()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCryptoES256Verify and BenchmarkCryptoES256Sign split the floor:
// the assertion is one verify, the access token one sign. The DPoP proof
// part is internal/dpop's BenchmarkVerify (with its replay guard), next
// to BenchmarkRawES256Verify, the bare P-256 verification under it.
func BenchmarkCryptoES256Verify(b *testing.B) {
	k, _ := jose.GenerateKey(jose.ES256)
	tok, _ := jose.SignWithKey(k, "", false, map[string]any{"sub": "x"})
	keys := jose.NewKeySet(k.Public())
	b.ReportAllocs()
	for b.Loop() {
		t, _ := jose.Parse(tok, nil)
		var c jose.Claims
		if _, err := t.VerifySet(keys, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCryptoES256Sign(b *testing.B) {
	k, _ := jose.GenerateKey(jose.ES256)
	s := jose.NewSigner(k)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(jose.ES256, "at+jwt", map[string]any{"sub": "x"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCryptoPrimitivesES256 is the bare arithmetic under the floor:
// one P-256 ECDSA verification and one signature over SHA-256 digests,
// with no JOSE encoding. The gap between it and BenchmarkCryptoFloorToken
// is the cost of JWS parsing and serialisation.
func BenchmarkCryptoPrimitivesES256(b *testing.B) {
	client, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	server, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, client, digest[:])
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256([]byte("header.payload"))
		if !ecdsa.VerifyASN1(&client.PublicKey, d[:], sig) {
			b.Fatal("verify failed")
		}
		if _, err := ecdsa.SignASN1(rand.Reader, server, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}
