package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// cache is the verification fast path: verified credentials by the hash of
// the presented token, with the state needed to answer without the Store.
//
// Revocation awareness: every Service method that revokes or changes what a
// user's credentials may do calls invalidateUser (and again through
// Store.AfterCommit once the change is durable), which drops that user's
// entries and bumps the epoch; a verification that read the Store before an
// invalidation never inserts its (possibly stale) result. So a revocation
// made through this Service is honoured in this process as soon as the
// revoking call (or its enclosing transaction) returns. Revocations made by
// other processes are seen within ttl, the bound documented on
// Config.CacheTTL. Expiry and grace ends are checked against the clock on
// every hit. Unknown tokens are never cached, so the size is bounded by
// valid credentials, and by max.
type cache struct {
	max int
	ttl time.Duration

	mu     sync.RWMutex
	m      map[Hash]*cacheEntry
	byUser map[string]map[Hash]struct{}
	epoch  uint64
}

type cacheEntry struct {
	p        Principal
	revokeAt time.Time // a rotated credential's grace end
	fetched  time.Time
	// touched is the last last_used_at write (Unix ms), for sessions and
	// MCP tokens; updated without the lock.
	touched atomic.Int64
}

func newCache(max int, ttl time.Duration) *cache {
	if max <= 0 {
		return nil
	}
	return &cache{max: max, ttl: ttl, m: make(map[Hash]*cacheEntry), byUser: make(map[string]map[Hash]struct{})}
}

// get returns a fresh entry for h.
func (c *cache) get(h Hash, now time.Time) *cacheEntry {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	e := c.m[h]
	c.mu.RUnlock()
	if e == nil || now.Sub(e.fetched) >= c.ttl || now.Before(e.fetched) {
		return nil
	}
	return e
}

// begin returns the epoch to pass to put after reading the Store.
func (c *cache) begin() uint64 {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch
}

// put inserts e unless an invalidation happened since begin returned epoch.
func (c *cache) put(h Hash, e *cacheEntry, epoch uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if old, ok := c.m[h]; ok {
		c.unindex(h, old)
	} else if len(c.m) >= c.max {
		// Evict an arbitrary entry (map order is randomised); entries are
		// cheap to refetch.
		for k, v := range c.m {
			delete(c.m, k)
			c.unindex(k, v)
			break
		}
	}
	c.m[h] = e
	u := c.byUser[e.p.UserID]
	if u == nil {
		u = make(map[Hash]struct{})
		c.byUser[e.p.UserID] = u
	}
	u[h] = struct{}{}
}

func (c *cache) unindex(h Hash, e *cacheEntry) {
	if u := c.byUser[e.p.UserID]; u != nil {
		delete(u, h)
		if len(u) == 0 {
			delete(c.byUser, e.p.UserID)
		}
	}
}

// drop removes one entry (a credential found revoked or expired).
func (c *cache) drop(h Hash) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[h]; ok {
		delete(c.m, h)
		c.unindex(h, e)
	}
}

// invalidateUser drops every entry of a user and bumps the epoch.
func (c *cache) invalidateUser(userID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for h := range c.byUser[userID] {
		delete(c.m, h)
	}
	delete(c.byUser, userID)
}

// invalidateAll empties the cache and bumps the epoch.
func (c *cache) invalidateAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.m)
	clear(c.byUser)
}

// len returns the number of entries (tests).
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
