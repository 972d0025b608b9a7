package redis

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// Records are hashes with these fields: c client ID, g grant ID, p params,
// s subject, a auth time, e expiry (Unix ms), u used at (Unix ms, absent
// while unused).

// putScript stores a record unless a live one holds the key. ARGV: now,
// retention (how long a used record stays live past its expiry; 0 for
// none), the key's PEXPIREAT, then field/value pairs. It returns 1 when
// stored, 0 on conflict. A record is live while unexpired, or while used
// and within retention past expiry.
var putScript = goredis.NewScript(`
local now, ret = tonumber(ARGV[1]), tonumber(ARGV[2])
local e = redis.call('HGET', KEYS[1], 'e')
if e then
  e = tonumber(e)
  if e > now then return 0 end
  if ret > 0 and redis.call('HEXISTS', KEYS[1], 'u') == 1 and e + ret > now then return 0 end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`)

// consumeScript marks a record used if it is unused and unexpired. ARGV:
// now, retention. It returns {1, c, g, p, e} when it marked the record,
// {2, c, g, p, e} when the record was already used within retention past
// expiry (a replay), and {0} when there is nothing usable.
var consumeScript = goredis.NewScript(`
local now, ret = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'c', 'g', 'p', 'e', 'u')
if not v[4] then return {0} end
local e = tonumber(v[4])
local rec = {v[1] or '', v[2] or '', v[3] or '', v[4]}
if v[5] then
  if e + ret > now then return {2, rec[1], rec[2], rec[3], rec[4]} end
  return {0}
end
if e <= now then return {0} end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
return {1, rec[1], rec[2], rec[3], rec[4]}
`)

// consumed is consumeScript's answer.
type consumed struct {
	status                int64
	client, grant, params string
	exp                   time.Time
}

func (c *Client) put(ctx context.Context, op, key string, retention time.Duration, exp time.Time, fields ...any) error {
	if c.closed.Load() {
		return c.fail(op, goredis.ErrClosed)
	}
	keyExp := exp.Add(retention)
	args := append([]any{nowMS(), retention.Milliseconds(), expireAt(keyExp), "e", exp.UnixMilli()}, fields...)
	n, err := putScript.Run(ctx, c.rdb, []string{key}, args...).Int64()
	if err != nil {
		return c.fail(op, err)
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}

func (c *Client) consume(ctx context.Context, op, key string, retention time.Duration) (*consumed, error) {
	if c.closed.Load() {
		return nil, c.fail(op, goredis.ErrClosed)
	}
	v, err := consumeScript.Run(ctx, c.rdb, []string{key}, nowMS(), retention.Milliseconds()).Slice()
	if err != nil {
		return nil, c.fail(op, err)
	}
	status, _ := v[0].(int64)
	if status == 0 {
		return &consumed{}, nil
	}
	if len(v) != 5 {
		return nil, c.fail(op, errUnexpectedReply)
	}
	str := func(i int) string { s, _ := v[i].(string); return s }
	e, err := strconv.ParseInt(str(4), 10, 64)
	if err != nil {
		return nil, c.fail(op, err)
	}
	return &consumed{status: status, client: str(1), grant: str(2), params: str(3), exp: time.UnixMilli(e).UTC()}, nil
}

// fields reads a record's fields with HMGET; a missing record has e == "".
func (c *Client) fields(ctx context.Context, op, key string, names ...string) ([]string, error) {
	if c.closed.Load() {
		return nil, c.fail(op, goredis.ErrClosed)
	}
	v, err := c.rdb.HMGet(ctx, key, names...).Result()
	if err != nil {
		return nil, c.fail(op, err)
	}
	out := make([]string, len(v))
	for i, x := range v {
		out[i], _ = x.(string)
	}
	return out, nil
}

// live parses a record's expiry and reports whether it is in the future.
func live(e string) (time.Time, bool) {
	v, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(v).UTC(), v > nowMS()
}

// bytesOrNil returns s as bytes, nil for empty (the contract does not
// tell them apart).
func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

type requests struct{ c *Client }

func (s requests) Put(ctx context.Context, hash string, r *store.AuthorizationRequest) error {
	return s.c.put(ctx, "put request", s.c.key("req", hash), 0, r.ExpiresAt, "c", r.ClientID, "p", r.Params)
}

func (s requests) Get(ctx context.Context, hash string) (*store.AuthorizationRequest, error) {
	f, err := s.c.fields(ctx, "get request", s.c.key("req", hash), "c", "p", "e", "u")
	if err != nil {
		return nil, err
	}
	exp, ok := live(f[2])
	if !ok || f[3] != "" {
		return nil, store.ErrNotFound
	}
	return &store.AuthorizationRequest{ClientID: f[0], Params: bytesOrNil(f[1]), ExpiresAt: exp}, nil
}

func (s requests) Consume(ctx context.Context, hash string) (*store.AuthorizationRequest, error) {
	r, err := s.c.consume(ctx, "consume request", s.c.key("req", hash), 0)
	switch {
	case err != nil:
		return nil, err
	case r.status == 0:
		return nil, store.ErrNotFound
	case r.status == 2:
		return nil, store.ErrReplayed
	}
	return &store.AuthorizationRequest{ClientID: r.client, Params: bytesOrNil(r.params), ExpiresAt: r.exp}, nil
}

type codes struct{ c *Client }

// Put keeps the key CodeRetention past expiry once used (Redis drops it
// then); an unused expired code is dead at once and may be replaced.
func (s codes) Put(ctx context.Context, hash string, c *store.AuthorizationCode) error {
	return s.c.put(ctx, "put code", s.c.key("code", hash), CodeRetention, c.ExpiresAt,
		"c", c.ClientID, "g", c.GrantID, "p", c.Params)
}

func (s codes) Consume(ctx context.Context, hash string) (*store.AuthorizationCode, error) {
	r, err := s.c.consume(ctx, "consume code", s.c.key("code", hash), CodeRetention)
	if err != nil {
		return nil, err
	}
	if r.status == 0 {
		return nil, store.ErrNotFound
	}
	code := &store.AuthorizationCode{ClientID: r.client, GrantID: r.grant, Params: bytesOrNil(r.params), ExpiresAt: r.exp}
	if r.status == 2 {
		// Returned with the record so the caller can revoke the grant.
		return code, store.ErrReplayed
	}
	return code, nil
}

type sessions struct{ c *Client }

func (s sessions) Put(ctx context.Context, hash string, sess *store.Session) error {
	if err := s.c.put(ctx, "put session", s.c.key("sess", hash), 0, sess.ExpiresAt,
		"s", sess.Subject, "a", sess.AuthTime.UnixMilli()); err != nil {
		return err
	}
	// The session is stored; a failure to index it only hides it from
	// List (the admin listing), never from Get.
	return s.c.fail("index session", indexScript.Run(ctx, s.c.rdb, []string{s.c.key("sess-of", sess.Subject)},
		sess.ExpiresAt.UnixMilli(), hash, nowMS()).Err())
}

// indexScript adds a session hash to its subject's sorted set (score: the
// session's expiry), drops members that have expired, and keeps the set
// alive as long as its latest session. One key, so Redis Cluster needs
// no hash tag; the index is separate from the session keys, so List
// checks each member against its session.
var indexScript = goredis.NewScript(`
local exp, now = tonumber(ARGV[1]), tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], exp, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or now + ttl < exp then redis.call('PEXPIREAT', KEYS[1], exp) end
return 1
`)

func (s sessions) List(ctx context.Context, subject string, p store.Page) ([]*store.Session, error) {
	if s.c.closed.Load() {
		return nil, s.c.fail("list sessions", goredis.ErrClosed)
	}
	idx := s.c.key("sess-of", subject)
	hashes, err := s.c.rdb.ZRangeByScore(ctx, idx, &goredis.ZRangeBy{Min: "(" + strconv.FormatInt(nowMS(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, s.c.fail("list sessions", err)
	}
	slices.Sort(hashes)
	out := []*store.Session{}
	for _, h := range hashes {
		if h <= p.After {
			continue
		}
		if len(out) == p.Size() {
			break
		}
		sess, err := s.Get(ctx, h)
		if errors.Is(err, store.ErrNotFound) || err == nil && sess.Subject != subject {
			// Deleted (Delete does not touch the index) or reused.
			s.c.rdb.ZRem(ctx, idx, h)
			continue
		}
		if err != nil {
			return nil, err
		}
		sess.Hash = h
		out = append(out, sess)
	}
	return out, nil
}

func (s sessions) Get(ctx context.Context, hash string) (*store.Session, error) {
	f, err := s.c.fields(ctx, "get session", s.c.key("sess", hash), "s", "a", "e")
	if err != nil {
		return nil, err
	}
	exp, ok := live(f[2])
	if !ok {
		return nil, store.ErrNotFound
	}
	auth, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return nil, s.c.fail("get session", err)
	}
	return &store.Session{Subject: f[0], AuthTime: time.UnixMilli(auth).UTC(), ExpiresAt: exp}, nil
}

func (s sessions) Delete(ctx context.Context, hash string) error {
	if s.c.closed.Load() {
		return s.c.fail("delete session", goredis.ErrClosed)
	}
	return s.c.fail("delete session", s.c.rdb.Del(ctx, s.c.key("sess", hash)).Err())
}

type replay struct{ c *Client }

// Use is SET NX PXAT exp: the key is written only if absent, and Redis
// removes it at exp, after which the value may be used again. A past exp
// stores nothing lasting, which is right: such a value is refused by its
// own expiry check before it gets here.
func (s replay) Use(ctx context.Context, key string, exp time.Time) error {
	if s.c.closed.Load() {
		return s.c.fail("replay", goredis.ErrClosed)
	}
	ok, err := s.c.rdb.SetArgs(ctx, s.c.key("replay", store.Hash(key)), "1", goredis.SetArgs{Mode: "NX", ExpireAt: time.UnixMilli(expireAt(exp))}).Result()
	if errors.Is(err, goredis.Nil) {
		return store.ErrReplayed
	}
	if err != nil {
		return s.c.fail("replay", err)
	}
	if ok != "OK" {
		return store.ErrReplayed
	}
	return nil
}
