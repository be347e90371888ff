package relaytest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/relay"
)

// TestBroker is the conformance suite of relay.Broker implementations: it
// runs relay nodes joined by brokers and checks what API.md §4.9 asks of a
// cluster — frames and replies across nodes in order with the delivered
// ack from the destination's node, cluster-wide presence and device_status,
// the newest agent connection winning across nodes, kicks reaching every
// node within 1 s, offline queues flushed when the agent connects
// elsewhere, client_gone across nodes, and a late node learning the
// cluster's presence.
//
// newCluster is called once per subtest; it returns a function that makes
// a broker for one more node of that (fresh) cluster. Cleanup is the
// caller's, through t.Cleanup.
func TestBroker(t *testing.T, newCluster func(t *testing.T) func() relay.Broker) {
	t.Run("CrossNode", func(t *testing.T) { brokerCrossNode(t, newCluster(t)) })
	t.Run("DuplicateAgent", func(t *testing.T) { brokerDuplicateAgent(t, newCluster(t)) })
	t.Run("Kick", func(t *testing.T) { brokerKick(t, newCluster(t)) })
	t.Run("OfflineQueue", func(t *testing.T) { brokerOfflineQueue(t, newCluster(t)) })
	t.Run("JoinSync", func(t *testing.T) { brokerJoinSync(t, newCluster(t)) })
}

// Node is a relay node of a test cluster.
type Node struct {
	ID       string
	Server   *Server
	Observer *Observer
}

// Observer records presence events (relay.Config.OnPresence).
type Observer struct {
	mu     sync.Mutex
	events []relay.PresenceEvent
}

// Add records ev; pass it as relay.Config.OnPresence.
func (o *Observer) Add(ev relay.PresenceEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, ev)
}

// Events returns the events recorded so far.
func (o *Observer) Events() []relay.PresenceEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]relay.PresenceEvent(nil), o.events...)
}

// Offline reports whether an offline event of agentID with reason was
// recorded.
func (o *Observer) Offline(agentID, reason string) bool {
	for _, ev := range o.Events() {
		if ev.AgentID == agentID && !ev.Online && ev.Reason == reason {
			return true
		}
	}
	return false
}

// StartNode starts relay node id with broker b and auth, with the per-peer
// rate limits lifted; it is closed when the test ends.
func StartNode(tb testing.TB, id string, b relay.Broker, auth relay.Authenticator) *Node {
	tb.Helper()
	n := &Node{ID: id, Observer: &Observer{}}
	n.Server = NewServer(tb, auth, relay.Config{Node: id, Broker: b, OnPresence: n.Observer.Add,
		ClientRate: -1, AgentRate: -1, AccountRate: -1, ClientMaxRequests: -1})
	return n
}

// WaitOnline waits until every node sees agentID of account connected on
// node at.
func WaitOnline(tb testing.TB, nodes []*Node, account, agentID, at string) {
	tb.Helper()
	for _, nd := range nodes {
		WaitFor(tb, fmt.Sprintf("%s to see %s on %s", nd.ID, agentID, at), func() bool {
			p, ok := nd.Server.Relay.AgentPresence(context.Background(), account, agentID)
			return ok && p.Node == at
		})
	}
}

// WaitFor polls cond until it holds, failing tb after DefaultTimeout.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(DefaultTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("relaytest: timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ExpectAck reads the next ack and checks its mid and status.
func (p *Peer) ExpectAck(tb testing.TB, mid, status string) *Frame {
	tb.Helper()
	a := p.Expect(tb, "ack")
	if a.MID != mid || a.Status != status {
		tb.Fatalf("relaytest: ack %s, want mid %q status %q", a.Raw, mid, status)
	}
	return a
}

func startNodes(t *testing.T, newBroker func() relay.Broker, auth relay.Authenticator, n int) []*Node {
	var nodes []*Node
	for i := 1; i <= n; i++ {
		nodes = append(nodes, StartNode(t, fmt.Sprintf("n%d", i), newBroker(), auth))
	}
	return nodes
}

func brokerCrossNode(t *testing.T, newBroker func() relay.Broker) {
	auth := NewAuth()
	nodes := startNodes(t, newBroker, auth, 3)
	atok, _ := auth.AddAgent("a", "pi")
	ctok, _ := auth.AddClient("a")
	ag := nodes[1].Server.Agent(t, atok, "pi")
	WaitOnline(t, nodes, "a", "pi", "n2")

	cl := nodes[0].Server.Client(t, ctok)
	pres := cl.Expect(t, "presence")
	if len(pres.Agents) != 1 || pres.Agents[0].Status != "online" || pres.Agents[0].FirmwareVersion == nil {
		t.Fatalf("presence on n1: %s", pres.Raw)
	}
	const n = 20 // per sender→receiver pair, order holds across nodes
	for i := 0; i < n; i++ {
		cl.Relay("pi", fmt.Sprint(i), fmt.Sprint("req ", i))
	}
	var conn string
	for i := 0; i < n; i++ {
		got := ag.Expect(t, "relay")
		if got.Packet != fmt.Sprint("req ", i) || got.MID != fmt.Sprint(i) {
			t.Fatalf("frame %d: %s", i, got.Raw)
		}
		conn = got.Conn
		cl.ExpectAck(t, fmt.Sprint(i), "delivered")
	}
	if node, _ := relay.ConnNode(conn); node != "n1" {
		t.Fatalf("conn %q not of n1", conn)
	}
	ag.Reply(conn, "r", "reply")
	if got := cl.Expect(t, "relay"); got.Packet != "reply" || got.AgentID != "pi" || got.MID != "r" {
		t.Fatalf("reply %s", got.Raw)
	}
	if a := ag.ExpectAck(t, "r", "delivered"); a.Conn != conn {
		t.Fatalf("ack %s", a.Raw)
	}
	// Another account's client on another node cannot reach the agent,
	// and the agent cannot reach connections that did not write to it.
	other := nodes[2].Server.Client(t, mustClient(auth, "b"))
	other.Expect(t, "presence")
	other.Relay("pi", "x", "x")
	other.ExpectAck(t, "x", "unknown_agent")
	ag.Reply("n3:1", "bad", "x")
	ag.ExpectAck(t, "bad", "unknown_conn")

	// Presence changes reach the clients of every node.
	c3 := nodes[2].Server.Client(t, ctok)
	c3.Expect(t, "presence")
	ag.Close()
	for _, p := range []*Peer{cl, c3} {
		st := p.Expect(t, "device_status")
		if st.Status != "offline" || st.Reason != "closed" {
			t.Fatalf("device_status %s", st.Raw)
		}
	}
	// Only the agent's node reported the change to its observer.
	WaitFor(t, "n2's offline event", func() bool { return nodes[1].Observer.Offline("pi", "closed") })
	if nodes[0].Observer.Offline("pi", "closed") || nodes[2].Observer.Offline("pi", "closed") {
		t.Fatal("offline event reported by a node that did not hold the agent")
	}

	// client_gone crosses nodes too.
	ag2 := nodes[1].Server.Agent(t, atok, "pi")
	WaitOnline(t, nodes, "a", "pi", "n2")
	cl.Relay("pi", "y", "y")
	ag2.Expect(t, "relay")
	cl.Close()
	if g := ag2.Expect(t, "client_gone"); g.Conn != conn {
		t.Fatalf("client_gone %s, want conn %s", g.Raw, conn)
	}
}

func mustClient(auth *Auth, account string) string {
	tok, _ := auth.AddClient(account)
	return tok
}

func brokerDuplicateAgent(t *testing.T, newBroker func() relay.Broker) {
	auth := NewAuth()
	nodes := startNodes(t, newBroker, auth, 3)
	atok, _ := auth.AddAgent("a", "pi")
	old := nodes[0].Server.Agent(t, atok, "pi")
	WaitOnline(t, nodes, "a", "pi", "n1")
	newer := nodes[1].Server.Agent(t, atok, "pi")
	code, reason, err := old.Closed(DefaultTimeout)
	if err != nil || code != relay.CloseAgentReplaced || reason != "AGENT_REPLACED" {
		t.Fatalf("old connection: %d %q %v", code, reason, err)
	}
	WaitOnline(t, nodes, "a", "pi", "n2")
	cl := nodes[2].Server.Client(t, mustClient(auth, "a"))
	cl.Expect(t, "presence")
	cl.Relay("pi", "1", "x")
	newer.Expect(t, "relay")
	cl.ExpectAck(t, "1", "delivered")
	WaitFor(t, "n1 to drop the old connection", func() bool { return nodes[0].Server.Relay.Stats().Agents == 0 })
	// The replaced connection's end took nothing offline.
	for _, nd := range nodes {
		if nd.Observer.Offline("pi", "closed") || nd.Observer.Offline("pi", "replaced") {
			t.Fatalf("%s reported the replaced connection offline", nd.ID)
		}
	}
}

func brokerKick(t *testing.T, newBroker func() relay.Broker) {
	auth := NewAuth()
	nodes := startNodes(t, newBroker, auth, 3)
	ctok, cid := auth.AddClient("a")
	atok, _ := auth.AddAgent("a", "pi")
	ag := nodes[2].Server.Agent(t, atok, "pi")
	WaitOnline(t, nodes, "a", "pi", "n3")
	cl := nodes[1].Server.Client(t, ctok)
	cl.Expect(t, "presence")
	keep := nodes[1].Server.Client(t, mustClient(auth, "a"))
	keep.Expect(t, "presence")
	auth.Revoke(cid)
	start := time.Now()
	if err := nodes[0].Server.Relay.Kick(context.Background(), relay.Target{Account: "a", CredentialIDs: []string{cid}},
		relay.CloseTokenRevoked, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if code, _, err := cl.Closed(DefaultTimeout); err != nil || code != relay.CloseTokenRevoked {
		t.Fatalf("client: %d %v", code, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("kick took %v, want ≤ 1 s", d)
	}
	// An agent deleted through another node: 4004, then unknown_agent
	// everywhere (the kick dropped the directory caches).
	auth.RemoveAgent("a", "pi")
	nodes[0].Server.Relay.Kick(context.Background(), relay.Target{Account: "a", AgentID: "pi"}, relay.CloseAgentDeleted, time.Time{})
	if code, _, _ := ag.Closed(DefaultTimeout); code != relay.CloseAgentDeleted {
		t.Fatalf("agent: %d", code)
	}
	keep.Expect(t, "device_status")
	keep.Relay("pi", "1", "x")
	keep.ExpectAck(t, "1", "unknown_agent")
}

func brokerOfflineQueue(t *testing.T, newBroker func() relay.Broker) {
	auth := NewAuth()
	nodes := startNodes(t, newBroker, auth, 2)
	atok, _ := auth.AddAgent("a", "pi")
	cl := nodes[0].Server.Client(t, mustClient(auth, "a"))
	cl.Expect(t, "presence")
	cl.Relay("pi", "1", "first")
	cl.ExpectAck(t, "1", "queued")
	cl.Relay("pi", "2", "second")
	cl.ExpectAck(t, "2", "queued")
	ag := nodes[1].Server.Agent(t, atok, "pi")
	for _, want := range []string{"first", "second"} {
		if got := ag.Expect(t, "relay"); got.Packet != want {
			t.Fatalf("got %s, want %s", got.Raw, want)
		}
	}
	cl.ExpectAck(t, "1", "delivered")
	cl.ExpectAck(t, "2", "delivered")
}

func brokerJoinSync(t *testing.T, newBroker func() relay.Broker) {
	auth := NewAuth()
	n1 := StartNode(t, "n1", newBroker(), auth)
	atok, _ := auth.AddAgent("a", "pi")
	n1.Server.Agent(t, atok, "pi")
	n2 := StartNode(t, "n2", newBroker(), auth)
	WaitOnline(t, []*Node{n2}, "a", "pi", "n1")
	cl := n2.Server.Client(t, mustClient(auth, "a"))
	if pres := cl.Expect(t, "presence"); len(pres.Agents) != 1 || pres.Agents[0].Status != "online" {
		t.Fatalf("presence on the new node: %s", pres.Raw)
	}
}
