package relaytest

import (
	"slices"
	"sync"
	"time"

	"github.com/wakelink-go/wakelink/relay"
)

// Clock is a manual relay.Clock: time stands still until Advance. Timer
// callbacks run in the goroutine that calls Advance, in due order, with
// Now at their due time. Safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers []*clockTimer
	added  chan struct{} // signalled when a timer is armed
}

var _ relay.Clock = (*Clock)(nil)

// NewClock returns a Clock reading start (zero: 2026-01-01T00:00:00Z).
func NewClock(start time.Time) *Clock {
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &Clock{now: start, added: make(chan struct{}, 1)}
}

type clockTimer struct {
	c     *Clock
	f     func()
	when  time.Time
	seq   uint64 // arming order, for stable ties
	armed bool
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arms a timer that runs f once d has been advanced past.
func (c *Clock) AfterFunc(d time.Duration, f func()) relay.Timer {
	t := &clockTimer{c: c, f: f}
	c.mu.Lock()
	c.armLocked(t, d)
	c.mu.Unlock()
	return t
}

func (c *Clock) armLocked(t *clockTimer, d time.Duration) {
	c.seq++
	t.when, t.seq = c.now.Add(d), c.seq
	if !t.armed {
		t.armed = true
		c.timers = append(c.timers, t)
	}
	select {
	case c.added <- struct{}{}:
	default:
	}
}

func (t *clockTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.disarmLocked()
	return was
}

func (t *clockTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.c.armLocked(t, d)
	return was
}

func (t *clockTimer) disarmLocked() {
	if !t.armed {
		return
	}
	t.armed = false
	if i := slices.Index(t.c.timers, t); i >= 0 {
		t.c.timers = slices.Delete(t.c.timers, i, i+1)
	}
}

// Advance moves time forward by d, running every timer that falls due on
// the way (including those armed by the callbacks themselves).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *clockTimer
		for _, t := range c.timers {
			if t.when.After(target) {
				continue
			}
			if next == nil || t.when.Before(next.when) || (t.when.Equal(next.when) && t.seq < next.seq) {
				next = t
			}
		}
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		if next.when.After(c.now) {
			c.now = next.when
		}
		next.disarmLocked()
		f := next.f
		c.mu.Unlock()
		f()
	}
}

// Timers returns the number of armed timers.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitTimers waits, up to timeout of real time, until at least n timers
// are armed; it reports whether they are. Tests use it to know that the
// relay has armed a timer (an auth window, a heartbeat) before advancing.
func (c *Clock) WaitTimers(n int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if c.Timers() >= n {
			return true
		}
		select {
		case <-c.added:
		case <-deadline.C:
			return c.Timers() >= n
		case <-time.After(time.Millisecond):
		}
	}
}
