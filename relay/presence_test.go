package relay_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/relay/relaytest"
)

func TestPresenceSnapshotAndStatus(t *testing.T) {
	f := newFixture(t, relay.Config{})
	f.auth.RegisterAgent("a", "offline-one")
	f.auth.RegisterAgent("b", "other-account")
	pi, _ := f.agent("a", "pi")
	cl := f.client("a") // read the presence frame below instead
	_ = cl
	tok, _ := f.auth.AddClient("a")
	c2 := f.srv.Client(t, tok)
	pres := c2.Expect(t, "presence")
	if len(pres.Agents) != 2 {
		t.Fatalf("presence %s", pres.Raw)
	}
	if a := pres.Agents[0]; a.AgentID != "offline-one" || a.Status != "offline" || a.LastSeen != nil {
		t.Fatalf("offline agent %+v in %s", a, pres.Raw)
	}
	if a := pres.Agents[1]; a.AgentID != "pi" || a.Status != "online" || a.FirmwareVersion == nil ||
		*a.FirmwareVersion != "1.2.3" || len(a.EWSPVersions) != 2 || a.LastSeen == nil {
		t.Fatalf("online agent %+v in %s", a, pres.Raw)
	}

	// device_status on connect and disconnect.
	nas, _ := f.agent("a", "nas")
	st := c2.Expect(t, "device_status")
	if st.AgentID != "nas" || st.Status != "online" || st.TS == "" {
		t.Fatalf("device_status %s", st.Raw)
	}
	nas.Close()
	st = c2.Expect(t, "device_status")
	if st.AgentID != "nas" || st.Status != "offline" || st.Reason != "closed" || st.LastSeen == nil {
		t.Fatalf("device_status %s", st.Raw)
	}
	// Other accounts' agents are not reported.
	f.agent("b", "other-account")
	expectNothing(t, c2)

	// presence:false clients get neither.
	tok3, _ := f.auth.AddClient("a")
	c3 := f.srv.Dial(t)
	c3.Send(map[string]any{"type": "auth", "api_token": tok3, "client_type": "client", "presence": false})
	c3.Expect(t, "auth_response")
	pi.Close()
	c2.Expect(t, "device_status")
	expectNothing(t, c3)

	// The observer saw every change of this node, in order per agent.
	want := []string{"pi online", "nas online", "nas offline closed", "other-account online", "pi offline closed"}
	waitFor(t, "observer events", func() bool { return len(f.obs.list()) == len(want) })
	for i, ev := range f.obs.list() {
		got := fmt.Sprintf("%s %s", ev.AgentID, map[bool]string{true: "online", false: "offline"}[ev.Online])
		if !ev.Online {
			got += " " + ev.Reason
		}
		if got != want[i] || ev.Node != "n1" || ev.Time.IsZero() {
			t.Errorf("event %d: got %q %+v, want %q", i, got, ev, want[i])
		}
	}
}

func TestPresenceQuery(t *testing.T) {
	f := newFixture(t, relay.Config{})
	f.agent("a", "z")
	f.agent("a", "b")
	f.agent("c", "b")
	got := f.srv.Relay.Presence(context.Background(), "a")
	if len(got) != 2 || got[0].AgentID != "b" || got[1].AgentID != "z" || got[0].Node != "n1" || got[0].Conn == "" ||
		got[0].FirmwareVersion != "1.2.3" {
		t.Fatalf("Presence: %+v", got)
	}
	if p, ok := f.srv.Relay.AgentPresence(context.Background(), "c", "b"); !ok || p.AgentID != "b" {
		t.Fatalf("AgentPresence: %+v %v", p, ok)
	}
	if _, ok := f.srv.Relay.AgentPresence(context.Background(), "c", "z"); ok {
		t.Fatal("AgentPresence of another account's agent")
	}
}

func TestDuplicateAgent(t *testing.T) {
	f := newFixture(t, relay.Config{})
	tok, _ := f.auth.AddAgent("a", "pi")
	old := f.srv.Agent(t, tok, "pi")
	cl := f.client("a")
	cl.Relay("pi", "1", "to old")
	conn := old.Expect(t, "relay").Conn
	expectAck(t, cl, "1", "delivered")

	newer := f.srv.Agent(t, tok, "pi")
	expectClose(t, old, 4003, "AGENT_REPLACED")
	st := cl.Expect(t, "device_status")
	if st.Status != "online" {
		t.Fatalf("device_status %s", st.Raw)
	}
	// The old connection's end must not remove the new registration.
	time.Sleep(20 * time.Millisecond)
	cl.Relay("pi", "2", "to new")
	if got := newer.Expect(t, "relay"); got.Packet != "to new" {
		t.Fatalf("got %s", got.Raw)
	}
	expectAck(t, cl, "2", "delivered")
	// The new connection may answer the client that wrote to the old one.
	newer.Reply(conn, "1", "reply")
	expectAck(t, newer, "1", "delivered")
	cl.Expect(t, "relay")
	expectNothing(t, cl) // no offline device_status for the replaced one
	for _, ev := range f.obs.list() {
		if !ev.Online {
			t.Fatalf("offline event for a replaced connection: %+v", ev)
		}
	}
	if p := f.srv.Relay.Presence(context.Background(), "a"); len(p) != 1 {
		t.Fatalf("presence %+v", p)
	}

	// Many concurrent connections of one agent: exactly one survives.
	peers := make(chan error, 5)
	for i := 0; i < 5; i++ {
		go func() {
			p := f.srv.Dial(t)
			_, err := p.AuthAgent(tok, "pi")
			peers <- err
		}()
	}
	for i := 0; i < 5; i++ {
		if err := <-peers; err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "one agent connection", func() bool { return f.srv.Relay.Stats().Agents == 1 })
	if p := f.srv.Relay.Presence(context.Background(), "a"); len(p) != 1 {
		t.Fatalf("presence %+v", p)
	}
}

func TestClientGone(t *testing.T) {
	f := newFixture(t, relay.Config{})
	pi, _ := f.agent("a", "pi")
	nas, _ := f.agent("a", "nas")
	cl := f.client("a")
	cl.Relay("pi", "1", "x")
	conn := pi.Expect(t, "relay").Conn
	cl.Close()
	if g := pi.Expect(t, "client_gone"); g.Conn != conn {
		t.Fatalf("client_gone %s", g.Raw)
	}
	expectNothing(t, nas) // it never wrote to nas
}

func TestHeartbeat(t *testing.T) {
	f := newFixture(t, relay.Config{Heartbeat: relay.DefaultHeartbeat})
	alive, _ := f.agent("a", "alive")
	// A raw agent that stops reading after auth never answers pings.
	tok, _ := f.auth.AddAgent("a", "deaf")
	deaf, _, err := websocket.DefaultDialer.Dial(f.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close()
	deaf.WriteJSON(map[string]any{"type": "auth", "api_token": tok, "client_type": "device", "agent_id": "deaf"})
	if _, b, err := deaf.ReadMessage(); err != nil || !strings.Contains(string(b), "authenticated") {
		t.Fatalf("auth: %s %v", b, err)
	}
	f.waitTimers(2) // the two heartbeats
	// The live agent shows life each period (any frame counts; an
	// application ping is one whose processing the test can observe).
	lifeSign := func() {
		alive.SendRaw([]byte(`{"type":"ping"}`))
		alive.Expect(t, "pong")
	}
	f.clock.Advance(relay.DefaultHeartbeat)
	lifeSign()
	f.clock.Advance(relay.DefaultHeartbeat)
	waitFor(t, "the deaf agent to go", func() bool { return f.srv.Relay.Stats().Agents == 1 })
	for {
		_, _, err := deaf.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4009 || ce.Text != "HEARTBEAT_TIMEOUT" {
			t.Fatalf("deaf agent: %v, want close 4009", err)
		}
		break
	}
	ev := f.obs.list()
	if last := ev[len(ev)-1]; last.AgentID != "deaf" || last.Online || last.Reason != "timeout" {
		t.Fatalf("last event %+v", last)
	}
	for i := 0; i < 3; i++ {
		lifeSign()
		f.clock.Advance(relay.DefaultHeartbeat)
	}
	if st := f.srv.Relay.Stats(); st.Agents != 1 {
		t.Fatalf("agents = %d, want 1", st.Agents)
	}
}

func TestShutdown(t *testing.T) {
	f := newFixture(t, relay.Config{})
	ag, _ := f.agent("a", "pi")
	cl := f.client("a")
	unauth := f.srv.Dial(t)
	done := make(chan error, 1)
	go func() { done <- f.srv.Relay.Shutdown(context.Background()) }()
	for _, p := range []*relaytest.Peer{ag, cl} {
		r := p.Expect(t, "reconnect")
		if r.Reason != "shutdown" || r.AfterMS < 0 || r.AfterMS > 5000 {
			t.Fatalf("reconnect %s", r.Raw)
		}
		expectClose(t, p, 1001, "GOING_AWAY")
	}
	expectClose(t, unauth, 1001, "GOING_AWAY")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var sawShutdown bool
	for _, ev := range f.obs.list() {
		sawShutdown = sawShutdown || (!ev.Online && ev.Reason == "shutdown")
	}
	if !sawShutdown {
		t.Fatalf("no offline/shutdown event: %+v", f.obs.list())
	}
	if err := f.srv.Relay.Shutdown(context.Background()); err != relay.ErrClosed {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	f := newFixture(t, relay.Config{})
	// A peer that never reads never answers the close frame.
	ws, _, err := websocket.DefaultDialer.Dial(f.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := f.srv.Relay.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	if st := f.srv.Relay.Stats(); st.Connections != 0 {
		t.Fatalf("connections = %d after Shutdown", st.Connections)
	}
}
