package relay

import (
	"testing"
	"time"
)

// WebSocket pongs and pings from the peer count as life signs (API.md §4.5).
func TestControlFramesAreLifeSigns(t *testing.T) {
	clk := &stepClock{now: time.Unix(1000, 0)}
	c := &conn{s: &Server{clock: clk}}
	clk.now = clk.now.Add(time.Minute)
	c.onPong("")
	if got := time.Unix(0, c.lastLife.Load()); !got.Equal(clk.now) {
		t.Fatalf("after pong: last life %v, want %v", got, clk.now)
	}
}

type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time                        { return c.now }
func (c *stepClock) AfterFunc(time.Duration, func()) Timer { return nil }
