package dpop_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func nodeNonces(secret []byte, c *clock) *dpop.Nonces {
	n := dpop.NewNonces(secret, time.Minute)
	n.Now = c.now
	return n
}

func TestNonces(t *testing.T) {
	// Start just before a step boundary, where rotation bites.
	c := &clock{t: time.Unix(1_800_000_000, 0).Truncate(time.Minute).Add(59 * time.Second)}
	node1 := nodeNonces(nonceSecret, c)
	node2 := nodeNonces(nonceSecret, c)
	other := nodeNonces([]byte("another secret, also 32 bytes..."), c)
	issued := node1.Current()

	for _, tc := range []struct {
		name    string
		advance time.Duration
		n       *dpop.Nonces
		nonce   string
		want    bool
	}{
		{"ok/same node, same step", 0, node1, issued, true},
		{"ok/other node with the same secret", 0, node2, issued, true},
		{"ok/previous step after rotation", 2 * time.Second, node1, issued, true},
		{"ok/previous step on the other node", 0, node2, issued, true},
		{"fail/other secret", 0, other, issued, false},
		{"fail/two steps old", time.Minute, node1, issued, false},
		{"fail/two steps old on the other node", 0, node2, issued, false},
		{"fail/empty", 0, node1, "", false},
		{"fail/truncated", 0, node1, issued[:len(issued)-1], false},
		{"fail/garbage", 0, node1, "AAAA", false},
	} {
		c.t = c.t.Add(tc.advance)
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.n.Valid(tc.nonce); got != tc.want {
				t.Errorf("Valid = %v, want %v", got, tc.want)
			}
		})
	}
	if node1.Current() != node2.Current() {
		t.Error("two nodes with one secret hand out different nonces")
	}
	if node1.Current() == other.Current() {
		t.Error("different secrets hand out the same nonce")
	}
	if node1.Current() == issued {
		t.Error("nonce did not rotate")
	}
}

// TestNoncesRoundTrip runs the RFC 9449 §8 exchange across two nodes: node
// 1 challenges, the client retries with the nonce, node 2 accepts.
func TestNoncesRoundTrip(t *testing.T) {
	c := &clock{t: now}
	v1 := newVerifier(newMemReplay())
	v1.Nonces = nodeNonces(nonceSecret, c)
	v2 := newVerifier(newMemReplay())
	v2.Nonces = nodeNonces(nonceSecret, c)

	s := defaultSpec()
	r := dpop.Request{Proofs: []string{s.build()}, Method: "POST", URL: tokenURL, Nonce: dpop.NonceRequired}
	_, err := v1.Verify(context.Background(), r)
	oe, ok := oauth.As(err)
	if !ok || oe.Code != oauth.ErrUseDPoPNonce {
		t.Fatalf("first try: %v, want use_dpop_nonce", err)
	}
	s = defaultSpec()
	s.claims["nonce"] = oe.Header["DPoP-Nonce"]
	r.Proofs = []string{s.build()}
	p, err := v2.Verify(context.Background(), r)
	if err != nil {
		t.Fatalf("retry with the nonce on node 2: %v", err)
	}
	if p.Nonce != oe.Header["DPoP-Nonce"] {
		t.Errorf("Proof.Nonce = %q, want %q", p.Nonce, oe.Header["DPoP-Nonce"])
	}
}

func TestNewNonces(t *testing.T) {
	t.Run("fail/short secret panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("NewNonces accepted a 31-byte secret")
			}
		}()
		dpop.NewNonces(make([]byte, dpop.MinNonceSecret-1), 0)
	})
	t.Run("ok/default step", func(t *testing.T) {
		c := &clock{t: now.Truncate(dpop.DefaultNonceStep)}
		n := dpop.NewNonces(nonceSecret, 0)
		n.Now = c.now
		issued := n.Current()
		c.t = c.t.Add(2*dpop.DefaultNonceStep - time.Second)
		if !n.Valid(issued) {
			t.Error("nonce rejected within two default steps")
		}
		c.t = c.t.Add(time.Second)
		if n.Valid(issued) {
			t.Error("nonce accepted after two default steps")
		}
	})
	t.Run("ok/secret is copied", func(t *testing.T) {
		secret := append([]byte(nil), nonceSecret...)
		c := &clock{t: now}
		n := nodeNonces(secret, c)
		issued := n.Current()
		secret[0] ^= 1
		if !n.Valid(issued) {
			t.Error("changing the caller's slice changed the key")
		}
	})
}
