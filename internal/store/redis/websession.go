package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// BFF sessions are hashes under "websess:<hash>" with fields s subject,
// i sid, d data, c created (Unix ms), e expiry (Unix ms), v version. The
// sets "websess-sid:<sid>" and "websess-sub:<subject>" index them for
// back-channel logout; a stale member only costs a DEL of a missing key.

// webCreateScript stores a session unless a live one holds the key.
// ARGV: now, PEXPIREAT, then field/value pairs. Returns 1 or 0 (conflict).
var webCreateScript = goredis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'e')
if e and tonumber(e) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', 1, unpack(ARGV, 3))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`)

// webUpdateScript replaces a live session whose version is ARGV[2].
// ARGV: now, expected version, PEXPIREAT, field/value pairs. Returns the
// new version, 0 when missing or expired, -1 on a version conflict.
var webUpdateScript = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'e', 'v')
if not v[1] or tonumber(v[1]) <= tonumber(ARGV[1]) then return 0 end
if tonumber(v[2]) ~= tonumber(ARGV[2]) then return -1 end
local nv = tonumber(v[2]) + 1
redis.call('HSET', KEYS[1], 'v', nv, unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return nv
`)

// webIndexScript adds ARGV[2] to the set and moves the set's expiry to
// ARGV[1] (Unix ms) unless it already lasts longer: a session with a
// shorter life must not cut the index short for the others.
var webIndexScript = goredis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[2])
local at = tonumber(ARGV[1])
local cur = redis.call('PTTL', KEYS[1])
local now = redis.call('TIME')
local nowms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if cur < 0 or nowms + cur < at then redis.call('PEXPIREAT', KEYS[1], at) end
return 1
`)

// webSessions implements store.WebSessions.
type webSessions struct{ c *Client }

// webLogins implements store.PendingLogins.
type webLogins struct{ c *Client }

var (
	_ store.WebSessions   = webSessions{}
	_ store.PendingLogins = webLogins{}
)

// WebSessions returns the BFF session store in c: sessions shared by
// every BFF node that opens the same Redis and prefix.
func (c *Client) WebSessions() store.WebSessions { return webSessions{c} }

// PendingLogins returns the BFF's pending-login store in c.
func (c *Client) PendingLogins() store.PendingLogins { return webLogins{c} }

func webFields(s *store.WebSession) []any {
	return []any{"s", s.Subject, "i", s.SID, "d", s.Data, "c", s.CreatedAt.UnixMilli(), "e", s.ExpiresAt.UnixMilli()}
}

func (w webSessions) Create(ctx context.Context, hash string, s *store.WebSession) error {
	if w.c.closed.Load() {
		return w.c.fail("create web session", goredis.ErrClosed)
	}
	args := append([]any{nowMS(), expireAt(s.ExpiresAt)}, webFields(s)...)
	n, err := webCreateScript.Run(ctx, w.c.rdb, []string{w.c.key("websess", hash)}, args...).Int64()
	if err != nil {
		return w.c.fail("create web session", err)
	}
	if n == 0 {
		return store.ErrConflict
	}
	s.Version = 1
	return w.index(ctx, hash, s)
}

// index adds hash to the sid and subject sets, kept until the session's
// expiry (or a later session's).
func (w webSessions) index(ctx context.Context, hash string, s *store.WebSession) error {
	for _, k := range w.indexKeys(s.Subject, s.SID) {
		if err := webIndexScript.Run(ctx, w.c.rdb, []string{k}, expireAt(s.ExpiresAt), hash).Err(); err != nil {
			return w.c.fail("index web session", err)
		}
	}
	return nil
}

func (w webSessions) indexKeys(subject, sid string) []string {
	var ks []string
	if sid != "" {
		ks = append(ks, w.c.key("websess-sid", store.Hash(sid)))
	}
	if subject != "" {
		ks = append(ks, w.c.key("websess-sub", store.Hash(subject)))
	}
	return ks
}

func (w webSessions) Get(ctx context.Context, hash string) (*store.WebSession, error) {
	f, err := w.c.fields(ctx, "get web session", w.c.key("websess", hash), "s", "i", "d", "c", "e", "v")
	if err != nil {
		return nil, err
	}
	exp, ok := live(f[4])
	if !ok {
		return nil, store.ErrNotFound
	}
	created, err1 := strconv.ParseInt(f[3], 10, 64)
	version, err2 := strconv.ParseInt(f[5], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, w.c.fail("get web session", errUnexpectedReply)
	}
	return &store.WebSession{Subject: f[0], SID: f[1], Data: []byte(f[2]), CreatedAt: time.UnixMilli(created).UTC(), ExpiresAt: exp, Version: version}, nil
}

func (w webSessions) Update(ctx context.Context, hash string, s *store.WebSession) error {
	if w.c.closed.Load() {
		return w.c.fail("update web session", goredis.ErrClosed)
	}
	args := append([]any{nowMS(), s.Version, expireAt(s.ExpiresAt)}, webFields(s)...)
	n, err := webUpdateScript.Run(ctx, w.c.rdb, []string{w.c.key("websess", hash)}, args...).Int64()
	switch {
	case err != nil:
		return w.c.fail("update web session", err)
	case n == 0:
		return store.ErrNotFound
	case n < 0:
		return store.ErrConflict
	}
	s.Version = n
	return w.index(ctx, hash, s)
}

func (w webSessions) Delete(ctx context.Context, hash string) error {
	if w.c.closed.Load() {
		return w.c.fail("delete web session", goredis.ErrClosed)
	}
	return w.c.fail("delete web session", w.c.rdb.Del(ctx, w.c.key("websess", hash)).Err())
}

func (w webSessions) DeleteBySubject(ctx context.Context, subject, sid string) (int, error) {
	if w.c.closed.Load() {
		return 0, w.c.fail("logout web sessions", goredis.ErrClosed)
	}
	var k string
	switch {
	case sid != "":
		k = w.indexKeys("", sid)[0]
	case subject != "":
		k = w.indexKeys(subject, "")[0]
	default:
		return 0, nil
	}
	hashes, err := w.c.rdb.SMembers(ctx, k).Result()
	if err != nil {
		return 0, w.c.fail("logout web sessions", err)
	}
	n := 0
	for _, h := range hashes {
		// One key per DEL: the keys may sit in different cluster slots.
		d, err := w.c.rdb.Del(ctx, w.c.key("websess", h)).Result()
		if err != nil {
			return n, w.c.fail("logout web sessions", err)
		}
		n += int(d)
	}
	return n, w.c.fail("logout web sessions", w.c.rdb.Del(ctx, k).Err())
}

func (l webLogins) Put(ctx context.Context, hash string, data []byte, exp time.Time) error {
	if l.c.closed.Load() {
		return l.c.fail("put login", goredis.ErrClosed)
	}
	ok, err := l.c.rdb.SetArgs(ctx, l.c.key("weblogin", hash), data, goredis.SetArgs{Mode: "NX", ExpireAt: time.UnixMilli(expireAt(exp))}).Result()
	if err == goredis.Nil || (err == nil && ok != "OK") {
		return store.ErrConflict
	}
	return l.c.fail("put login", err)
}

// Take is GETDEL: one atomic command, so exactly one caller gets the data.
func (l webLogins) Take(ctx context.Context, hash string) ([]byte, error) {
	if l.c.closed.Load() {
		return nil, l.c.fail("take login", goredis.ErrClosed)
	}
	b, err := l.c.rdb.GetDel(ctx, l.c.key("weblogin", hash)).Bytes()
	if err == goredis.Nil {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, l.c.fail("take login", err)
	}
	return b, nil
}
