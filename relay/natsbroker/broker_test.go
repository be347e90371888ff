package natsbroker_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/relay/natsbroker"
	"github.com/wakelink-go/wakelink/relay/relaytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const wait = relaytest.DefaultTimeout

// fast is a broker configuration for tests that do not measure node loss.
var fast = natsbroker.Config{Heartbeat: 100 * time.Millisecond, NodeTimeout: time.Second}

// startNATS runs an embedded nats-server on a random loopback port.
func startNATS(tb testing.TB) string {
	tb.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats-server not ready")
	}
	tb.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns.ClientURL()
}

// cluster starts n relay nodes n1…nn sharing auth over one NATS server
// and waits until they have heard each other's heartbeats.
func cluster(tb testing.TB, auth *relaytest.Auth, n int, bcfg natsbroker.Config) ([]*relaytest.Node, []*nats.Conn) {
	tb.Helper()
	newBroker := natsCluster(tb, bcfg)
	var nodes []*relaytest.Node
	var conns []*nats.Conn
	for i := 1; i <= n; i++ {
		b, nc := newBroker()
		conns = append(conns, nc)
		nodes = append(nodes, relaytest.StartNode(tb, fmt.Sprintf("n%d", i), b, auth))
	}
	hb := bcfg.Heartbeat
	if hb == 0 {
		hb = natsbroker.DefaultHeartbeat
	}
	time.Sleep(hb + 100*time.Millisecond)
	return nodes, conns
}

// natsCluster starts a NATS server and returns a function making brokers
// on it, each with its own connection (closed when the test ends).
func natsCluster(tb testing.TB, bcfg natsbroker.Config) func() (*natsbroker.Broker, *nats.Conn) {
	url := startNATS(tb)
	return func() (*natsbroker.Broker, *nats.Conn) {
		nc, err := nats.Connect(url)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(nc.Close) // after the relay's Close (cleanups run last-in first-out)
		b, err := natsbroker.New(nc, bcfg)
		if err != nil {
			tb.Fatal(err)
		}
		return b, nc
	}
}

// TestConformance runs the relay.Broker conformance suite over NATS.
func TestConformance(t *testing.T) {
	relaytest.TestBroker(t, func(t *testing.T) func() relay.Broker {
		newBroker := natsCluster(t, fast)
		return func() relay.Broker { b, _ := newBroker(); return b }
	})
}

// Three nodes; one dies (listener, TCP connections and NATS connection cut
// at once). Its agents reconnect elsewhere and traffic resumes; the ones
// that do not are taken offline with reason node_lost within 5 s, reported
// by exactly one surviving node. Default heartbeat timing.
func TestNodeKilled(t *testing.T) {
	auth := relaytest.NewAuth()
	nodes, conns := cluster(t, auth, 3, natsbroker.Config{})
	tokA, _ := auth.AddAgent("a", "pi")
	tokB, _ := auth.AddAgent("a", "gone")
	ctok, _ := auth.AddClient("a")
	agA := nodes[2].Server.Agent(t, tokA, "pi")
	nodes[2].Server.Agent(t, tokB, "gone")
	relaytest.WaitOnline(t, nodes, "a", "pi", "n3")
	relaytest.WaitOnline(t, nodes, "a", "gone", "n3")
	cl := nodes[0].Server.Client(t, ctok)
	cl.Expect(t, "presence")
	cl.Relay("pi", "before", "x")
	agA.Expect(t, "relay")
	cl.ExpectAck(t, "before", "delivered")

	killed := time.Now()
	conns[2].Close() // no drain: nothing more leaves n3
	nodes[2].Server.Kill()
	code, _, err := agA.Closed(wait)
	if err != nil || code != 1006 {
		t.Fatalf("agent on the dead node: %d %v, want 1006", code, err)
	}
	// The agent reconnects to another node; traffic resumes both ways.
	agA2 := nodes[1].Server.Agent(t, tokA, "pi")
	relaytest.WaitOnline(t, nodes[:2], "a", "pi", "n2")
	cl.Relay("pi", "after", "y")
	got := agA2.Expect(t, "relay")
	if got.Packet != "y" {
		t.Fatalf("got %s", got.Raw)
	}
	cl.ExpectAck(t, "after", "delivered")
	agA2.Reply(got.Conn, "r", "reply")
	agA2.ExpectAck(t, "r", "delivered")
	if got := cl.Expect(t, "relay"); got.Packet != "reply" {
		t.Fatalf("got %s", got.Raw)
	}

	// The agent that stayed away goes offline with node_lost.
	relaytest.WaitFor(t, "node_lost", func() bool {
		_, ok := nodes[0].Server.Relay.AgentPresence(context.Background(), "a", "gone")
		return !ok
	})
	if d := time.Since(killed); d > 5*time.Second {
		t.Fatalf("node loss noticed after %v, want ≤ 5 s", d)
	}
	for {
		st := cl.Expect(t, "device_status")
		if st.AgentID == "gone" {
			if st.Status != "offline" || st.Reason != "node_lost" {
				t.Fatalf("device_status %s", st.Raw)
			}
			break
		}
	}
	relaytest.WaitFor(t, "n1 to report node_lost", func() bool { return nodes[0].Observer.Offline("gone", "node_lost") })
	if nodes[1].Observer.Offline("gone", "node_lost") {
		t.Fatal("n2 reported node_lost too")
	}
	if _, ok := nodes[1].Server.Relay.AgentPresence(context.Background(), "a", "pi"); !ok {
		t.Fatal("the reconnected agent was taken offline by the node loss")
	}
	// n1 forgot n3's conn ids: agents on n1/n2 got client_gone for clients
	// of n3 (none wrote here), and nothing of n3 is left in presence.
	if p := nodes[0].Server.Relay.Presence(context.Background(), "a"); len(p) != 1 || p[0].Node != "n2" {
		t.Fatalf("presence after the loss: %+v", p)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := natsbroker.New(nil, natsbroker.Config{}); err == nil {
		t.Error("nil conn accepted")
	}
	url := startNATS(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, cfg := range []natsbroker.Config{
		{Prefix: "wl.*"},
		{Prefix: "wl."},
		{Heartbeat: 2 * time.Second, NodeTimeout: time.Second},
		{Pending: -1},
	} {
		if _, err := natsbroker.New(nc, cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
	b, err := natsbroker.New(nc, natsbroker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// Subjects follow DESIGN.md: ids are hex-encoded, so dots cannot escape.
func TestSubjects(t *testing.T) {
	url := startNATS(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ch := make(chan *nats.Msg, 4)
	sub, _ := nc.ChanSubscribe("wl.v1.>", ch)
	defer sub.Unsubscribe()
	nc.Flush()
	b, _ := natsbroker.New(nc, natsbroker.Config{})
	if err := b.Publish(context.Background(), &relay.Message{Kind: relay.MsgFrame, Node: "x", Account: "a.b", AgentID: "pi"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), &relay.Message{Kind: relay.MsgAck, Node: "x", Conn: "n7:42"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		select {
		case m := <-ch:
			got = append(got, m.Subject)
		case <-time.After(wait):
			t.Fatal("timeout")
		}
	}
	want := []string{"wl.v1.agent.612e62.7069", "wl.v1.conn.n7.42"}
	if !slices.Equal(got, want) {
		t.Fatalf("subjects %v, want %v", got, want)
	}
	if err := b.Publish(context.Background(), &relay.Message{Kind: relay.MsgAck, Conn: "bad"}); err == nil {
		t.Fatal("bad conn id published")
	}
}
