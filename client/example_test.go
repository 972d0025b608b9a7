package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bulwarkauth/bulwark/client"
)

// exampleServer stands in for an authorization server and an API: it
// issues a DPoP token to any client that sends a proof, and the API
// answers requests that present one.
func exampleServer() *httptest.Server {
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "token_endpoint": srv.URL + "/token"})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("DPoP") == "" || r.PostFormValue("client_assertion") == "" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "2YotnFZFEjr1zCsicMWpAA", "token_type": "DPoP", "expires_in": 300})
	})
	mux.HandleFunc("GET /accounts", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "DPoP ") || r.Header.Get("DPoP") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, `["checking","savings"]`)
	})
	return srv
}

// This example gets a DPoP-bound token with the client credentials grant
// and private_key_jwt, and calls an API with it. The endpoints come from
// the issuer's metadata; every request carries a fresh DPoP proof.
func Example() {
	srv := exampleServer()
	defer srv.Close()

	// The client's registered signing key; any crypto.Signer works.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	// In a CLI, client.LoadOrCreateDPoPKey keeps the proof key across runs.
	dpopKey, err := client.NewDPoPKey("")
	if err != nil {
		log.Fatal(err)
	}
	cfg := &client.Config{
		Issuer:     srv.URL,
		ClientID:   "billing-service",
		Key:        key,
		DPoPKey:    dpopKey,
		Scopes:     []string{"accounts"},
		HTTPClient: srv.Client(), // trusts the test server's certificate
	}
	ctx := context.Background()
	ts := cfg.ClientCredentials(ctx)
	tok, err := ts.Token()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token type:", tok.TokenType)

	resp, err := cfg.Client(ctx, ts).Get(srv.URL + "/accounts")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.Status, " ", string(body))
	// Output:
	// token type: DPoP
	// 200 OK ["checking","savings"]
}
