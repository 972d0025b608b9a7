package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// DefaultPrefix starts every key when Options.Prefix is empty.
const DefaultPrefix = "bulwark:"

// Timeouts applied to the client; a URL parameter of the same name
// (dial_timeout, read_timeout, write_timeout, pool_timeout) overrides
// them. They are short: every caller is a request waiting to be answered,
// and a Redis that does not answer within them is reported unavailable.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
	DefaultPoolTimeout  = 2 * time.Second
)

// CodeRetention is how long a used authorization code is remembered after
// it expires, so a late replay is still recognised (ErrReplayed, grant
// revoked, RFC 6749 §4.1.2). It matches the SQL stores.
const CodeRetention = 10 * time.Minute

// Options tune Open. The zero value uses DefaultPrefix.
type Options struct {
	// Prefix starts every key, so several deployments (or test runs) can
	// share one Redis. Empty means DefaultPrefix.
	Prefix string
}

// Client is an open Redis connection pool with Bulwark's key layout. It
// is safe for concurrent use.
type Client struct {
	rdb    goredis.UniversalClient
	prefix string
	closed atomic.Bool
}

// Open connects to the Redis at rawURL and checks that it answers.
//
// rawURL is redis://[user:password@]host:port/db or rediss:// for TLS,
// with go-redis's URL parameters (pool_size, dial_timeout, …). A URL with
// addr= parameters naming further nodes, such as
// redis://node1:6379?addr=node2:6379&addr=node3:6379, opens a Redis
// Cluster client instead.
func Open(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		// The URL may hold a password: never quote it.
		return nil, errors.New("redis: URL must be redis://host:port/db or rediss://…")
	}
	q := u.Query()
	set := func(name string, d *time.Duration, v time.Duration) {
		if !q.Has(name) {
			*d = v
		}
	}
	var rdb goredis.UniversalClient
	if q.Has("addr") {
		o, err := goredis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, errors.New("redis: invalid cluster URL")
		}
		set("dial_timeout", &o.DialTimeout, DefaultDialTimeout)
		set("read_timeout", &o.ReadTimeout, DefaultReadTimeout)
		set("write_timeout", &o.WriteTimeout, DefaultWriteTimeout)
		set("pool_timeout", &o.PoolTimeout, DefaultPoolTimeout)
		o.DialerRetries = 1
		rdb = goredis.NewClusterClient(o)
	} else {
		o, err := goredis.ParseURL(rawURL)
		if err != nil {
			return nil, errors.New("redis: invalid URL")
		}
		set("dial_timeout", &o.DialTimeout, DefaultDialTimeout)
		set("read_timeout", &o.ReadTimeout, DefaultReadTimeout)
		set("write_timeout", &o.WriteTimeout, DefaultWriteTimeout)
		set("pool_timeout", &o.PoolTimeout, DefaultPoolTimeout)
		if !q.Has("max_retries") {
			// A retried SET NX whose first attempt landed would
			// report a replay of the caller's own first use: fail
			// once, fast, and let the client retry the request.
			o.MaxRetries = -1
		}
		// A refused connection is an answer: report it now instead
		// of retrying the dial while the caller's request waits.
		o.DialerRetries = 1
		rdb = goredis.NewClient(o)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	c := &Client{rdb: rdb, prefix: prefix}
	if err := c.Ping(ctx); err != nil {
		rdb.Close()
		return nil, err
	}
	return c, nil
}

// Store returns a Store with Replay, Requests, Codes and Sessions backed
// by c, and Ping and Close of c; every other aggregate is nil, so the
// result is meant for store.Overlay, not for use on its own.
func (c *Client) Store() *store.Store {
	return &store.Store{
		Requests: requests{c},
		Codes:    codes{c},
		Sessions: sessions{c},
		Replay:   replay{c},
		Ping:     c.Ping,
		Close:    c.Close,
	}
}

// Ping checks that Redis answers; it backs /readyz.
func (c *Client) Ping(ctx context.Context) error {
	if c.closed.Load() {
		return c.fail("ping", goredis.ErrClosed)
	}
	return c.fail("ping", c.rdb.Ping(ctx).Err())
}

// Close closes the connection pool. It is safe to call more than once.
func (c *Client) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		if err := c.rdb.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
			return fmt.Errorf("redis: close: %w", err)
		}
	}
	return nil
}

// DeleteAll removes every key under c's prefix and returns how many it
// removed. It is for tests and decommissioning a prefix; nothing in the
// server calls it. On a cluster it scans every master.
func (c *Client) DeleteAll(ctx context.Context) (int64, error) {
	var total atomic.Int64
	del := func(ctx context.Context, node goredis.UniversalClient) error {
		it := node.Scan(ctx, 0, escapeGlob(c.prefix)+"*", 500).Iterator()
		for it.Next(ctx) {
			// One key per DEL: keys of one prefix span cluster slots.
			n, err := node.Del(ctx, it.Val()).Result()
			if err != nil {
				return err
			}
			total.Add(n)
		}
		return it.Err()
	}
	var err error
	if cc, ok := c.rdb.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return del(ctx, n) })
	} else {
		err = del(ctx, c.rdb)
	}
	return total.Load(), c.fail("delete all", err)
}

// escapeGlob quotes the glob metacharacters of a SCAN MATCH pattern.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

// key builds a full key from an aggregate name and its identifier.
func (c *Client) key(kind, id string) string { return c.prefix + kind + ":" + id }

// fail wraps every error but a missing key as ErrUnavailable: whatever
// went wrong, Redis did not give an answer the caller can trust.
func (c *Client) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redis: %s: %w: %w", op, store.ErrUnavailable, err)
}

// nowMS is the store's clock for expiry decisions.
func nowMS() int64 { return time.Now().UnixMilli() }

// expireAt is a PXAT/PEXPIREAT argument: Redis rejects values below 1.
func expireAt(t time.Time) int64 { return max(1, t.UnixMilli()) }

// errUnexpectedReply is a script reply of the wrong shape.
var errUnexpectedReply = errors.New("unexpected script reply")
