package console

import (
	"sync/atomic"
	"time"
)

// Clock is the server clock with the dev layer's offset (POST
// /api/v0/dev/clock). refserver makes one and gives its Now to auth
// (auth.Config.Now) and the Clock itself to the console (Config.Clock), so
// an offset shifts token, claim and lockout expiry together. Safe for
// concurrent use.
type Clock struct {
	base   func() time.Time
	offset atomic.Int64 // nanoseconds
}

// MaxClockOffset bounds the dev clock offset (±10 years).
const MaxClockOffset = 10 * 365 * 24 * time.Hour

// NewClock returns a Clock over base (nil: time.Now) with no offset.
func NewClock(base func() time.Time) *Clock {
	if base == nil {
		base = time.Now
	}
	return &Clock{base: base}
}

// Now returns base() plus the offset.
func (c *Clock) Now() time.Time { return c.base().Add(time.Duration(c.offset.Load())) }

// Offset returns the offset in force.
func (c *Clock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// SetOffset replaces the offset (not cumulative); it is clamped to
// ±MaxClockOffset.
func (c *Clock) SetOffset(d time.Duration) {
	d = max(min(d, MaxClockOffset), -MaxClockOffset)
	c.offset.Store(int64(d))
}
