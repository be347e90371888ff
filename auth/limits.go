package auth

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterTable holds one token bucket per key (client IP, user), bounded.
type limiterTable struct {
	r     rate.Limit
	burst int
	max   int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLimiterTable(r rate.Limit, burst, max int) *limiterTable {
	return &limiterTable{r: r, burst: burst, max: max, m: make(map[string]*rate.Limiter)}
}

// allow takes one token for key at now, or reports how long to wait.
func (t *limiterTable) allow(key string, now time.Time) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.m[key]
	if l == nil {
		if len(t.m) >= t.max {
			t.shrink(now)
		}
		l = rate.NewLimiter(t.r, t.burst)
		t.m[key] = l
	}
	res := l.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Minute
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// shrink drops idle buckets (full again: forgetting them changes nothing),
// then, if that freed less than an eighth of the table, arbitrary ones.
func (t *limiterTable) shrink(now time.Time) {
	for k, l := range t.m {
		if l.TokensAt(now) >= float64(t.burst) {
			delete(t.m, k)
		}
	}
	for k := range t.m {
		if len(t.m) < t.max-t.max/8 {
			break
		}
		delete(t.m, k)
	}
}

// ipKey is the limiter key of a client address: the address, or its /64
// for IPv6 (one host usually holds a whole /64). ok is false for the zero
// Addr (no IP known: not limited).
func ipKey(a netip.Addr) (string, bool) {
	if !a.IsValid() {
		return "", false
	}
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String(), true
		}
	}
	return a.String(), true
}

// rateLimited builds RATE_LIMITED for scope, waiting d.
func rateLimited(scope string, limit int, d time.Duration) *Error {
	e := fail(ErrRateLimited)
	e.Scope = scope
	e.Limit = limit
	e.RetryAfter = time.Duration(math.Ceil(d.Seconds())) * time.Second
	if e.RetryAfter < time.Second {
		e.RetryAfter = time.Second
	}
	return e
}
