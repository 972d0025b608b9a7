package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/gateway"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
)

// newGatewayCommand is "bulwark gateway".
func newGatewayCommand(env config.Env) *cobra.Command {
	return roleCommand(env, "gateway", "Run the API gateway: FAPI 2.0 token checks in front of any HTTP API",
		"Run the reverse proxy of the configuration's gateway section until SIGINT or SIGTERM,\n"+
			"then shut down gracefully. Every request needs a sender-constrained access token of the\n"+
			"configured issuer (DPoP or mTLS), the route's scopes and audience, and its policy's\n"+
			"approval before it is passed to the route's upstream.",
		runGateway)
}

// runGateway loads and checks the configuration, opens the replay store,
// and serves until ctx is cancelled (roleCommand cancels it on a signal).
func runGateway(ctx context.Context, env config.Env, path string, stderr io.Writer) error {
	f, cfg, logger, err := loadRole(env, path, stderr, (*config.File).GatewayConfig)
	if err != nil {
		return err
	}

	// Without a shared store the proof identifiers stay in this process:
	// enough for one gateway, not for several behind a load balancer.
	var st *store.Store
	switch {
	case f.Gateway.ReplayStore != config.ReplayStorage:
	case f.Cache.Driver == config.CacheRedis:
		// The replay guard is all the gateway keeps, and Redis shares it
		// between every gateway node: no database is opened.
		rc, err := redis.Open(ctx, f.Cache.URL, redis.Options{Prefix: f.Cache.Prefix})
		if err != nil {
			return err
		}
		defer rc.Close()
		st = rc.Store()
	default:
		// The storage section's database, as for serve.
		b, err := openBackends(ctx, f.Storage, f.Cache)
		if err != nil {
			return err
		}
		defer b.close()
		st = b.store
	}
	gw, err := gateway.New(ctx, cfg, st, logger)
	if err != nil {
		return err
	}
	return gw.Run(ctx)
}
