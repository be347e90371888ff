package relay_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/relay/relaytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const wait = relaytest.DefaultTimeout

// fixture is a relay on loopback with a manual clock and an in-memory
// authenticator holding two accounts.
type fixture struct {
	t     *testing.T
	clock *relaytest.Clock
	auth  *relaytest.Auth
	srv   *relaytest.Server
	obs   *observer
	base  int
}

type observer struct {
	mu     sync.Mutex
	events []relay.PresenceEvent
}

func (o *observer) add(ev relay.PresenceEvent) {
	o.mu.Lock()
	o.events = append(o.events, ev)
	o.mu.Unlock()
}

func (o *observer) list() []relay.PresenceEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]relay.PresenceEvent(nil), o.events...)
}

// waitFor polls cond (real time) until it holds or wait passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newFixture(t *testing.T, cfg relay.Config) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: relaytest.NewClock(time.Time{}), auth: relaytest.NewAuth(), obs: &observer{}}
	f.auth.SetClock(f.clock)
	if cfg.Node == "" {
		cfg.Node = "n1"
	}
	if cfg.Clock == nil {
		cfg.Clock = f.clock
	}
	if cfg.Heartbeat == 0 {
		// Tests advance the manual clock in large steps; keep heartbeats
		// out of the way unless a test is about them.
		cfg.Heartbeat = time.Hour
	}
	if cfg.OnPresence == nil {
		cfg.OnPresence = f.obs.add
	}
	f.srv = relaytest.NewServer(t, f.auth, cfg)
	f.base = f.clock.Timers() // the revalidation timer
	return f
}

// waitTimers waits until n timers besides the fixture's own are armed.
func (f *fixture) waitTimers(n int) {
	f.t.Helper()
	if !f.clock.WaitTimers(f.base+n, wait) {
		f.t.Fatalf("%d timers armed, want %d", f.clock.Timers(), f.base+n)
	}
}

// client adds a client of account and connects it, reading the presence
// frame.
func (f *fixture) client(account string) *relaytest.Peer {
	f.t.Helper()
	tok, _ := f.auth.AddClient(account)
	p := f.srv.Client(f.t, tok)
	p.Expect(f.t, "presence")
	return p
}

// agent registers and connects agent id of account; it returns the peer
// and the device token's credential id.
func (f *fixture) agent(account, id string) (*relaytest.Peer, string) {
	f.t.Helper()
	tok, credID := f.auth.AddAgent(account, id)
	return f.srv.Agent(f.t, tok, id), credID
}

func expectAck(t *testing.T, p *relaytest.Peer, mid, status string) *relaytest.Frame {
	t.Helper()
	a := p.Expect(t, "ack")
	if a.MID != mid || a.Status != status {
		t.Fatalf("ack: got mid %q status %q (%s), want mid %q status %q", a.MID, a.Status, a.Raw, mid, status)
	}
	return a
}

func expectClose(t *testing.T, p *relaytest.Peer, code int, reason string) {
	t.Helper()
	got, gotReason, err := p.Closed(wait)
	if err != nil {
		t.Fatalf("waiting for close %d: %v", code, err)
	}
	if got != code || (reason != "" && gotReason != reason) {
		t.Fatalf("close: got %d %q, want %d %q", got, gotReason, code, reason)
	}
}

// expectNothing checks that no frame arrives for a short while.
func expectNothing(t *testing.T, p *relaytest.Peer) {
	t.Helper()
	if f, err := p.Recv(50 * time.Millisecond); err == nil {
		t.Fatalf("unexpected frame %s", f.Raw)
	}
}

func fmtV(v any) string { return fmt.Sprintf("%v %+v %#v", v, v, v) }

type contextT = context.Context

type peerT = relaytest.Peer
