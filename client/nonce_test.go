package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/client"
)

// TestNonceRetriedOnce: a server that asks for a new nonce on every
// request (misbehaviour the real servers cannot be made to show) gets
// exactly one retry, at the token endpoint and at a resource, and the
// caller then sees its error instead of a loop.
func TestNonceRetriedOnce(t *testing.T) {
	f := newFakeAS(t)
	var tokenCalls, apiCalls atomic.Int32
	f.mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		n := tokenCalls.Add(1)
		w.Header().Set("DPoP-Nonce", fmt.Sprint("as-nonce-", n))
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "use_dpop_nonce", "error_description": "again"})
	})
	f.mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		n := apiCalls.Add(1)
		w.Header().Set("DPoP-Nonce", fmt.Sprint("rs-nonce-", n))
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", algs="ES256"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	key, err := client.NewDPoPKey("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.DPoPKey = key
	_, err = cfg.ClientCredentials(context.Background()).Token()
	var re *client.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "use_dpop_nonce" || tokenCalls.Load() != 2 {
		t.Errorf("token: %v after %d requests; want use_dpop_nonce after 2", err, tokenCalls.Load())
	}
	hc := &http.Client{Transport: &client.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "at", TokenType: "DPoP"}), DPoPKey: key, Base: f.srv.Client().Transport,
	}}
	resp, err := hc.Get(f.srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || apiCalls.Load() != 2 {
		t.Errorf("resource: %d after %d requests; want the 401 after 2", resp.StatusCode, apiCalls.Load())
	}
}
