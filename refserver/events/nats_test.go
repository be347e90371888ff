package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wakelink-go/wakelink/restapi/console"
)

// startNATS runs an embedded nats-server on a random loopback port until
// the test ends and returns its URL.
func startNATS(t testing.TB) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(wait) {
		s.Shutdown()
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s.ClientURL()
}

// connect opens a NATS connection closed at cleanup (after the hubs on
// it, which are cleaned up first).
func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.NoReconnect(),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})) // quiet slow-consumer reports
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// cluster returns n hubs, each on its own connection to one server.
func cluster(t *testing.T, n int, cfg Config) ([]*Hub, []*nats.Conn) {
	url := startNATS(t)
	var hubs []*Hub
	var conns []*nats.Conn
	for i := range n {
		nc := connect(t, url)
		c := cfg
		c.NATS = nc
		c.Node = fmt.Sprintf("node-%d", i+1)
		hubs = append(hubs, newHub(t, c, nil))
		conns = append(conns, nc)
	}
	return hubs, conns
}

func TestCrossNode(t *testing.T) {
	hubs, _ := cluster(t, 2, Config{})
	a, b := hubs[0], hubs[1]
	onA := subscribe(t, a, user("usr_a"))
	onB := subscribe(t, b, user("usr_a"))
	otherOnB := subscribe(t, b, user("usr_b"))
	adminOnB := subscribe(t, b, admin("usr_root", true))

	for i := 1; i <= 3; i++ {
		publish(t, a, ev(console.EventAgentOnline, "usr_a", i))
	}
	publish(t, b, ev(console.EventAgentOffline, "usr_a", 4))
	publish(t, a, ev(console.EventAgentOnline, "usr_b", 5))
	publish(t, a, ev(console.EventBackupUpdated, "", 6))

	// Each hub delivers every event once, in the order of its publisher,
	// under ids of its own.
	var gotA, gotB []string
	for range 4 {
		e := next(t, onA)
		gotA = append(gotA, label(t, e))
		if ep, _, _ := parseID(e.ID); ep != a.epoch {
			t.Errorf("node A delivered id %s, want its epoch %s", e.ID, a.epoch)
		}
	}
	for range 4 {
		e := next(t, onB)
		gotB = append(gotB, label(t, e))
		if ep, _, _ := parseID(e.ID); ep != b.epoch {
			t.Errorf("node B delivered id %s, want its epoch %s", e.ID, b.epoch)
		}
	}
	slices.Sort(gotA) // A's three and B's one interleave by arrival
	slices.Sort(gotB)
	want := []string{"agent.offline:4", "agent.online:1", "agent.online:2", "agent.online:3"}
	if !slices.Equal(gotA, want) || !slices.Equal(gotB, want) {
		t.Errorf("got A %v, B %v, want both %v", gotA, gotB, want)
	}
	if got := next(t, otherOnB); label(t, got) != "agent.online:5" {
		t.Errorf("usr_b on B: got %s, want agent.online:5 and nothing of usr_a", label(t, got))
	}
	var adm []string
	for range 6 {
		adm = append(adm, label(t, next(t, adminOnB)))
	}
	if i, j := slices.Index(adm, "agent.online:1"), slices.Index(adm, "agent.online:3"); i < 0 || j < i {
		t.Errorf("admin scope=all on B: %v, want A's events in A's order", adm)
	}
	if !slices.Contains(adm, "backup.updated:6") {
		t.Errorf("admin on B: %v, want backup.updated:6", adm)
	}

	// The received events are in B's ring: replay works on B with B's ids.
	opts := user("usr_a")
	opts.LastEventID = formatID(b.epoch, 1)
	r := subscribe(t, b, opts)
	if !r.Resumed() || len(r.Replay()) != 3 {
		t.Errorf("replay on B: resumed %v, %d events, want 3", r.Resumed(), len(r.Replay()))
	}
	// An id of node A on node B is another start's: restart.
	opts.LastEventID = formatID(a.epoch, 1)
	if r := subscribe(t, b, opts); r.Reset() != console.ResetRestart {
		t.Errorf("A's id on B: got reset %q, want restart", r.Reset())
	}

	// No echo: nothing more arrives on A after a marker from B.
	publish(t, b, ev(console.EventAgentDeleted, "usr_a", 7))
	if got := label(t, next(t, onA)); got != "agent.deleted:7" {
		t.Errorf("A after marker: got %s, want agent.deleted:7 (no duplicate)", got)
	}
	if st := a.Stats(); st.Published != 5 || st.Received != 2 {
		t.Errorf("A stats: published %d received %d, want 5 and 2", st.Published, st.Received)
	}
}

func TestCrossNodeMalformedMessages(t *testing.T) {
	hubs, conns := cluster(t, 1, Config{})
	h, nc := hubs[0], conns[0]
	s := subscribe(t, h, admin("usr_a", true))
	good, _ := json.Marshal(wireEvent{V: 1, Origin: "other/x", Type: console.EventAgentCreated, Account: "usr_b", Audience: console.AudienceOwner, Data: json.RawMessage(`{"n":9}`)})
	for _, m := range [][]byte{
		nil,
		[]byte("not json"),
		[]byte(`{"v":2,"origin":"o","type":"agent.created","account":"a","audience":"owner"}`),
		[]byte(`{"v":1,"type":"agent.created","account":"a","audience":"owner"}`),
		[]byte(`{"v":1,"origin":"o","type":"agent.created","audience":"owner"}`),
		[]byte(`{"v":1,"origin":"o","type":"ready","account":"a","audience":"owner"}`),
		[]byte(`{"v":1,"origin":"o","type":"agent.created","account":"a","audience":"owner","data":[1]}`),
		[]byte(`{"v":1,"origin":"o","type":"agent.created","account":"a","audience":"owner","ts":"yesterday"}`),
		good,
	} {
		if err := nc.Publish(h.cfg.Prefix+".events", m); err != nil {
			t.Fatal(err)
		}
	}
	if got := label(t, next(t, s)); got != "agent.created:9" {
		t.Errorf("got %s, want only the good message", got)
	}
	if got := h.Stats().RemoteInvalid; got != 8 {
		t.Errorf("remote invalid: got %d, want 8", got)
	}
}

func TestCrossNodeLossClosesStreams(t *testing.T) {
	hubs, conns := cluster(t, 2, Config{Pending: 2})
	a, b := hubs[0], hubs[1]
	s := subscribe(t, b, user("usr_a"))
	publish(t, a, ev(console.EventAgentUpdated, "usr_a", 1))
	id := next(t, s).ID

	// Hold B's hub so its receive goroutine stalls on event 2: NATS drops
	// beyond the two messages that wait behind it.
	b.mu.Lock()
	arrived := func() {
		t.Helper()
		if err := conns[0].Flush(); err != nil { // the server has routed them
			t.Fatal(err)
		}
		if err := conns[1].Flush(); err != nil { // B's client has read them
			t.Fatal(err)
		}
	}
	publish(t, a, ev(console.EventAgentUpdated, "usr_a", 2))
	arrived()
	for deadline := time.Now().Add(wait); len(b.peer.msgs) > 0; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("B's receive goroutine did not take event 2")
		}
	}
	for i := 3; i <= 10; i++ {
		publish(t, a, ev(console.EventAgentUpdated, "usr_a", i))
	}
	arrived()
	b.mu.Unlock()

	// B notices at the next message: every stream closes, the ring empties.
	deadline := time.After(wait)
	for open := true; open; {
		select {
		case _, open = <-s.C():
		case <-deadline:
			t.Fatal("stream not closed after NATS dropped events")
		}
	}
	if !errors.Is(s.Err(), console.ErrStreamOverflow) {
		t.Errorf("Err: got %v, want ErrStreamOverflow", s.Err())
	}
	st := b.Stats()
	if st.RemoteDropped != 6 || st.LossResets != 1 {
		t.Errorf("stats: remote dropped %d, loss resets %d, want 6 and 1", st.RemoteDropped, st.LossResets)
	}
	opts := user("usr_a")
	opts.LastEventID = id
	if r := subscribe(t, b, opts); r.Reset() != console.ResetGap {
		t.Errorf("resume after the loss: got reset %q, want gap", r.Reset())
	}

	// B goes on delivering.
	s2 := subscribe(t, b, user("usr_a"))
	publish(t, a, ev(console.EventAgentUpdated, "usr_a", 11))
	if got := label(t, next(t, s2)); got != "agent.updated:11" {
		t.Errorf("after the loss: got %s, want agent.updated:11", got)
	}
}

func TestCrossNodePublishError(t *testing.T) {
	hubs, conns := cluster(t, 1, Config{})
	h := hubs[0]
	s := subscribe(t, h, user("usr_a"))
	conns[0].Close()
	err := h.Publish(context.Background(), ev(console.EventAgentCreated, "usr_a", 1))
	if !errors.Is(err, nats.ErrConnectionClosed) {
		t.Errorf("Publish on a closed connection: got %v, want nats.ErrConnectionClosed", err)
	}
	if got := queued(t, s); len(got) != 1 {
		t.Errorf("local delivery despite the broker error: got %v", got)
	}
	if got := h.Stats().BrokerErrors; got != 1 {
		t.Errorf("broker errors: %d, want 1", got)
	}
}

func TestNewFailsOnClosedConn(t *testing.T) {
	nc := connect(t, startNATS(t))
	nc.Close()
	if h, err := New(Config{NATS: nc}); err == nil {
		h.Close()
		t.Fatal("New on a closed connection succeeded")
	}
}
