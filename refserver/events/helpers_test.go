package events

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wakelink-go/wakelink/restapi/console"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait bounds how long a test waits for something that should happen at
// once (cross-node delivery over loopback); reaching it fails the test.
const wait = 5 * time.Second

// clock is a manual clock: time stands still until advance.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 1, 6, 18, 20, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newHub returns a hub on clk (nil: a new clock), closed at cleanup.
func newHub(t testing.TB, cfg Config, clk *clock) *Hub {
	t.Helper()
	if clk == nil {
		clk = newClock()
	}
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// subscribe opens a stream, closed at cleanup.
func subscribe(t testing.TB, h *Hub, opts console.SubscribeOptions) console.Subscription {
	t.Helper()
	s, err := h.Subscribe(context.Background(), opts)
	if err != nil {
		t.Fatalf("Subscribe(%+v): %v", opts, err)
	}
	t.Cleanup(s.Close)
	return s
}

func user(account string) console.SubscribeOptions {
	return console.SubscribeOptions{Account: account, User: account}
}

func admin(account string, all bool) console.SubscribeOptions {
	return console.SubscribeOptions{Account: account, User: account, Admin: true, AllAccounts: all}
}

// ev returns an event of type typ for account with data {"n":n}.
func ev(typ, account string, n int) console.Event {
	d, _ := json.Marshal(map[string]int{"n": n})
	e := console.Event{Type: typ, Account: account, Data: d}
	if a, _ := console.AudienceOf(typ); a == console.AudienceSelf {
		e.User = account
	}
	return e
}

func publish(t testing.TB, h *Hub, e console.Event) {
	t.Helper()
	if err := h.Publish(context.Background(), e); err != nil {
		t.Fatalf("Publish(%s): %v", e.Type, err)
	}
}

// n returns the "n" of an event made by ev.
func n(t testing.TB, e *console.Event) int {
	t.Helper()
	var d struct{ N int }
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatalf("event data %q: %v", e.Data, err)
	}
	return d.N
}

// queued drains what is queued on s right now (delivery on one hub is
// synchronous within Publish), as "type:n" strings.
func queued(t testing.TB, s console.Subscription) []string {
	t.Helper()
	var out []string
	for {
		select {
		case e, ok := <-s.C():
			if !ok {
				return out
			}
			out = append(out, label(t, e))
		default:
			return out
		}
	}
}

func label(t testing.TB, e *console.Event) string {
	return e.Type + ":" + itoa(n(t, e))
}

func labels(t testing.TB, es []*console.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, label(t, e))
	}
	return out
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// next waits for the next event on s.
func next(t testing.TB, s console.Subscription) *console.Event {
	t.Helper()
	select {
	case e, ok := <-s.C():
		if !ok {
			t.Fatalf("stream closed: %v", s.Err())
		}
		return e
	case <-time.After(wait):
		t.Fatal("no event within", wait)
	}
	return nil
}
