package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/internal/bff"
	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
)

// newBFFCommand is "bulwark bff".
func newBFFCommand(env config.Env) *cobra.Command {
	return roleCommand(env, "bff", "Run the Backend-for-Frontend: browser login and API proxy with tokens kept server-side",
		"Run the BFF of the configuration's bff section until SIGINT or SIGTERM, then shut down\n"+
			"gracefully. Browsers sign in at /oauth2/start (OpenID Connect with PAR, PKCE and DPoP\n"+
			"as the provider offers), hold only an HttpOnly session cookie, and call the configured\n"+
			"API routes, to which the BFF adds the access token and a DPoP proof.",
		runBFF)
}

// runBFF loads and checks the configuration, opens the session store,
// and serves until ctx is cancelled (roleCommand cancels it on a signal).
func runBFF(ctx context.Context, env config.Env, path string, stderr io.Writer) error {
	f, cfg, logger, err := loadRole(env, path, stderr, (*config.File).BFFConfig)
	if err != nil {
		return err
	}

	var st bff.Stores
	switch f.BFF.SessionStore {
	case config.SessionStoreRedis:
		rc, err := redis.Open(ctx, f.Cache.URL, redis.Options{Prefix: f.Cache.Prefix})
		if err != nil {
			return err
		}
		defer rc.Close()
		st = bff.Stores{Sessions: rc.WebSessions(), Logins: rc.PendingLogins(), Replay: rc.Store().Replay, Ping: rc.Ping}
	default:
		// One process: sessions end with it (docs/architecture.md).
		w := memory.NewWebSessions()
		st = bff.Stores{Sessions: w, Logins: w.Logins(), Replay: memory.New().Replay}
	}
	b, err := bff.New(ctx, cfg, st, logger)
	if err != nil {
		return err
	}
	return b.Run(ctx)
}
