package e2e_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/discovery"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// TestKeyRotationAcrossNodes rotates the ES256 key of a two-node
// deployment on shared PostgreSQL: the new key is published by both nodes
// at once but signs nothing until its ActiveFrom, from which both sign
// with it; the old key stays published until it retires.
func TestKeyRotationAcrossNodes(t *testing.T) {
	nodes := testenv.StartNodes(t, 2, testenv.Options{
		Store: productionStore(services.PostgresSchema(t), services.RedisURL, services.RedisPrefix(t)),
	})
	kidOf := func(node *testenv.Env) string {
		t.Helper()
		var tb tokenBody
		resp := clientCredentials(t, node, node.Assertion(t, testenv.FAPIClient, nil))
		decodeJSON(t, resp, &tb)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token at %s: %d %+v", node.URL, resp.StatusCode, tb.errorBody)
		}
		kid, _ := header(t, tb.AccessToken)["kid"].(string)
		return kid
	}
	published := func(node *testenv.Env) []string {
		t.Helper()
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		decodeJSON(t, get(t, http.DefaultClient, node.URL+discovery.PathJWKS), &set)
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.Kid)
		}
		return kids
	}
	refresh := func() {
		t.Helper()
		for _, n := range nodes {
			if err := n.Server.RefreshKeys(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}

	old := kidOf(nodes[0])
	if kidOf(nodes[1]) != old {
		t.Fatal("the nodes sign with different keys before any rotation")
	}
	const ahead, retire = 2 * time.Second, 2 * time.Second
	r, err := authserver.RotateKeys(t.Context(), nodes[0].Store.Keys, []string{jose.ES256}, ahead, retire, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Added) != 1 || len(r.Retiring) != 1 || r.Retiring[0].ID != old {
		t.Fatalf("rotation: added %d, retiring %v; want one new key replacing %s", len(r.Added), r.Retiring, old)
	}
	next := r.Added[0]

	refresh()
	for i, n := range nodes {
		if kids := published(n); !slices.Contains(kids, next.ID) || !slices.Contains(kids, old) {
			t.Errorf("node %d JWKS before activation = %v, want both %s and %s", i, kids, old, next.ID)
		}
		if kid := kidOf(n); kid != old {
			t.Errorf("node %d signs with %s before the new key's ActiveFrom, want %s", i, kid, old)
		}
	}

	time.Sleep(time.Until(next.ActiveFrom) + 50*time.Millisecond)
	refresh()
	for i, n := range nodes {
		if kid := kidOf(n); kid != next.ID {
			t.Errorf("node %d signs with %s after ActiveFrom, want the new key %s", i, kid, next.ID)
		}
		if kids := published(n); !slices.Contains(kids, old) {
			t.Errorf("node %d stopped publishing the old key before it retired: %v", i, kids)
		}
	}

	time.Sleep(time.Until(*r.Retiring[0].RetiredAt) + 50*time.Millisecond)
	refresh()
	for i, n := range nodes {
		if kids := published(n); slices.Contains(kids, old) || !slices.Contains(kids, next.ID) {
			t.Errorf("node %d JWKS after retirement = %v, want %s without %s", i, kids, next.ID, old)
		}
	}
}
