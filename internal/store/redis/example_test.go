package redis_test

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
)

// ExampleClient_TokenCache shares one DPoP-bound token between the
// replicas of a service: every replica opens the same Redis and prefix and
// loads the same DPoP key, and CachedTokenSource refreshes once for all of
// them. (It needs a Redis and an authorization server, so it is compiled,
// not run.)
func ExampleClient_TokenCache() {
	ctx := context.Background()
	rc, err := redis.Open(ctx, "redis://127.0.0.1:6379/0", redis.Options{Prefix: "svc:"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rc.Close()
	key, err := client.LoadOrCreateDPoPKey("/var/lib/svc/dpop.jwk")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := &client.Config{Issuer: "https://auth.example.com", ClientID: "svc", ClientSecret: "…", DPoPKey: key}
	ts := cfg.CachedTokenSource(ctx, rc.TokenCache(), "svc", func(ctx context.Context) (*oauth2.Token, error) {
		return cfg.ClientCredentials(ctx).Token()
	})
	resp, err := cfg.Client(ctx, ts).Get("https://api.example.com/accounts")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode == http.StatusOK)
}
