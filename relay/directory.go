package relay

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// dirCache caches Directory answers per node in a bounded LRU with the
// TTLs of API.md §4.3: a registered agent 60 s, an absent one 5 s, an
// account's list 5 s. Failures are not cached. Concurrent misses for one
// key share one call, so a reconnect storm costs one Agents call per
// account. Kicks drop an account's entries.
type dirCache struct {
	dir   Directory
	clock Clock
	stats *stats
	sf    singleflight.Group

	mu     sync.Mutex
	lru    *lru[dirKey, *dirEntry]
	byAcct map[string]map[dirKey]struct{} // index for drops by account
	// gen is bumped by every drop; an answer fetched across a drop is not
	// stored (the kick may have made it stale).
	gen uint64
}

type dirKey struct {
	account string
	agentID string // empty: the account's list
}

type dirEntry struct {
	expires time.Time
	info    AgentInfo
	found   bool
	list    []AgentInfo
}

func newDirCache(d Directory, size int, clock Clock, st *stats) *dirCache {
	c := &dirCache{
		dir:    d,
		clock:  clock,
		stats:  st,
		lru:    newLRU[dirKey, *dirEntry](size),
		byAcct: make(map[string]map[dirKey]struct{}),
	}
	c.lru.evict = func(k dirKey, _ *dirEntry) { c.unindex(k) }
	return c
}

func (c *dirCache) unindex(k dirKey) {
	if m := c.byAcct[k.account]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(c.byAcct, k.account)
		}
	}
}

// get returns a fresh cached entry and the current generation.
func (c *dirCache) get(k dirKey) (*dirEntry, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gen
	e, ok := c.lru.get(k)
	if !ok {
		return nil, g
	}
	if !c.clock.Now().Before(e.expires) {
		c.lru.remove(k)
		c.unindex(k)
		return nil, g
	}
	return e, g
}

// put stores e unless entries were dropped since generation g (a kick
// landed while the call ran).
func (c *dirCache) put(k dirKey, e *dirEntry, g uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != g {
		return
	}
	c.lru.put(k, e)
	m := c.byAcct[k.account]
	if m == nil {
		m = make(map[dirKey]struct{})
		c.byAcct[k.account] = m
	}
	m[k] = struct{}{}
}

// lookup answers whether agentID is registered to account.
func (c *dirCache) lookup(ctx context.Context, account, agentID string) (AgentInfo, bool, error) {
	k := dirKey{account, agentID}
	if e, _ := c.get(k); e != nil {
		return e.info, e.found, nil
	}
	v, err, _ := c.sf.Do(sfKey("a", account, agentID), func() (any, error) {
		_, g := c.get(k)
		info, found, err := c.dir.LookupAgent(ctx, account, agentID)
		if err != nil {
			c.stats.dirFailures.Add(1)
			return nil, err
		}
		ttl := dirTTLAbsent
		if found {
			ttl = dirTTLPresent
		}
		e := &dirEntry{expires: c.clock.Now().Add(ttl), info: info, found: found}
		c.put(k, e, g)
		return e, nil
	})
	if err != nil {
		return AgentInfo{}, false, err
	}
	e := v.(*dirEntry)
	return e.info, e.found, nil
}

// agents lists an account's agents (at most limit).
func (c *dirCache) agents(ctx context.Context, account string, limit int) ([]AgentInfo, error) {
	k := dirKey{account: account}
	if e, _ := c.get(k); e != nil {
		return e.list, nil
	}
	v, err, _ := c.sf.Do(sfKey("l", account, strconv.Itoa(limit)), func() (any, error) {
		_, g := c.get(k)
		list, err := c.dir.Agents(ctx, account, limit)
		if err != nil {
			c.stats.dirFailures.Add(1)
			return nil, err
		}
		if len(list) > limit {
			list = list[:limit]
		}
		e := &dirEntry{expires: c.clock.Now().Add(dirTTLList), list: slices.Clone(list)}
		c.put(k, e, g)
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*dirEntry).list, nil
}

func sfKey(kind, account, rest string) string {
	return kind + strconv.Itoa(len(account)) + ":" + account + rest
}

// drop forgets an account's list and the entry of agentID, or all the
// account's entries when agentID is empty (API.md §4.3: on kicks).
func (c *dirCache) drop(account, agentID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if agentID == "" {
		for k := range c.byAcct[account] {
			c.lru.remove(k)
		}
		delete(c.byAcct, account)
		return
	}
	for _, k := range []dirKey{{account: account}, {account, agentID}} {
		c.lru.remove(k)
		c.unindex(k)
	}
}
