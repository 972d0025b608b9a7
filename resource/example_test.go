package resource_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bulwarkauth/bulwark/resource"
)

// Example protects an API with DPoP-bound tokens. A request without
// credentials gets a bare DPoP challenge (RFC 6750 §3.1, RFC 9449 §7.1)
// pointing at the protected resource metadata (RFC 9728); a token in the
// query is refused with 400 (FAPI 2.0 SP §5.3.4-2). Neither needs the
// authorization server, so the example runs offline.
func Example() {
	v := &resource.Verifier{
		Issuer:              "https://as.example.com",
		Audiences:           []string{"https://api.example.com"},
		BaseURL:             "https://api.example.com",
		RequireDPoP:         true,
		Replay:              resource.NewMemoryReplayCache(), // one process; share a cache across nodes
		ResourceMetadataURL: "https://api.example.com/.well-known/oauth-protected-resource",
	}
	api := v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := resource.TokenFromContext(r.Context())
		if err := resource.RequireScopes(tok, "accounts"); err != nil {
			resource.WriteError(w, err)
			return
		}
		fmt.Fprintf(w, "hello %s via %s\n", tok.Subject, tok.Binding)
	}))

	for _, target := range []string{"/accounts", "/accounts?access_token=abc"} {
		w := httptest.NewRecorder()
		api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Body.String())))
		for _, c := range w.Header().Values("WWW-Authenticate") {
			fmt.Println(" ", c)
		}
	}
	// Output:
	// 401
	//   DPoP algs="PS256 ES256 EdDSA", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"
	// 400 {"error":"invalid_request","error_description":"access tokens are accepted only in the Authorization header"}
	//   DPoP error="invalid_request", error_description="access tokens are accepted only in the Authorization header", algs="PS256 ES256 EdDSA", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"
}
