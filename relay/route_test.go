package relay_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/relay/relaytest"
)

// Packets arrive with identical decoded bytes, whatever they hold.
func TestRelayPacketBytes(t *testing.T) {
	f := newFixture(t, relay.Config{})
	ag, _ := f.agent("a", "pi")
	cl := f.client("a")
	packets := []string{
		"",
		"plain",
		`{"v":1,"seq":18446744073709551615,"sig":"abc"}`,
		"quotes \" and \\ backslashes / slashes",
		"control \x00\x01\x1f and \t\r\n",
		"unicode ü € 𝄞 and \u2028\u2029",
		strings.Repeat("x", 8000),
	}
	for i, pkt := range packets {
		mid := fmt.Sprintf("m%d", i)
		if err := cl.Relay("pi", mid, pkt); err != nil {
			t.Fatal(err)
		}
		got := ag.Expect(t, "relay")
		if got.Packet != pkt || got.MID != mid || got.Conn == "" {
			t.Fatalf("packet %d: agent got %q mid %q, want %q", i, got.Packet, got.MID, pkt)
		}
		expectAck(t, cl, mid, "delivered")
		if err := ag.Reply(got.Conn, mid, pkt); err != nil {
			t.Fatal(err)
		}
		back := cl.Expect(t, "relay")
		if back.Packet != pkt || back.AgentID != "pi" || back.MID != mid {
			t.Fatalf("packet %d: client got %s", i, back.Raw)
		}
		a := ag.Expect(t, "ack")
		if a.Status != "delivered" || a.Conn != got.Conn || a.MID != mid {
			t.Fatalf("agent ack %s", a.Raw)
		}
	}
	// The raw JSON token is forwarded unchanged, escapes included.
	raw := `{"type":"relay","agent_id":"pi","mid":"raw","packet":"\u0041\/\ud83d\ude00x"}`
	cl.SendRaw([]byte(raw))
	got := ag.Expect(t, "relay")
	if !strings.Contains(string(got.Raw), `"packet":"\u0041\/\ud83d\ude00x"`) || got.Packet != "A/😀x" {
		t.Fatalf("raw packet token changed: %s", got.Raw)
	}
	expectAck(t, cl, "raw", "delivered")
	// An agent reply without mid is delivered without mid and not acked.
	ag.Reply(got.Conn, "", "no-mid")
	back := cl.Expect(t, "relay")
	if back.MID != "" || strings.Contains(string(back.Raw), `"mid"`) || back.Packet != "no-mid" {
		t.Fatalf("got %s", back.Raw)
	}
	expectNothing(t, ag)
}

func TestCrossAccountIsolation(t *testing.T) {
	f := newFixture(t, relay.Config{})
	agA, _ := f.agent("acct-a", "pi")
	agB, _ := f.agent("acct-b", "pi") // same agent id, other account
	f.auth.RegisterAgent("acct-a", "only-a")
	clA := f.client("acct-a")
	clB := f.client("acct-b")

	clB.Relay("pi", "1", "for b's pi")
	expectAck(t, clB, "1", "delivered")
	if got := agB.Expect(t, "relay"); got.Packet != "for b's pi" {
		t.Fatalf("got %s", got.Raw)
	}
	expectNothing(t, agA)

	// An agent of another account, registered or connected, is unknown.
	clB.Relay("only-a", "2", "x")
	expectAck(t, clB, "2", "unknown_agent")
	clB.Relay("no-such", "3", "x")
	expectAck(t, clB, "3", "unknown_agent")
	clB.Relay("../etc", "4", "x") // not an agent id at all
	expectAck(t, clB, "4", "unknown_agent")

	// B's client cannot make A's agent talk to it: A's agent may only
	// reply to connections that wrote to it.
	clA.Relay("pi", "5", "for a's pi")
	fromA := agA.Expect(t, "relay")
	expectAck(t, clA, "5", "delivered")
	clB.Relay("pi", "6", "hello")
	fromB := agB.Expect(t, "relay")
	expectAck(t, clB, "6", "delivered")
	agA.Reply(fromB.Conn, "7", "leak?")
	a := expectAck(t, agA, "7", "unknown_conn")
	if a.Conn != fromB.Conn {
		t.Fatalf("ack conn %q, want %q", a.Conn, fromB.Conn)
	}
	expectNothing(t, clB)
	agA.Reply(fromA.Conn, "8", "ok")
	if got := clA.Expect(t, "relay"); got.Packet != "ok" {
		t.Fatalf("got %s", got.Raw)
	}
	// B's agent can reply to B's client only.
	agB.Reply(fromA.Conn, "9", "leak?")
	expectAck(t, agB, "9", "unknown_conn")
	expectNothing(t, clA)
}

func TestReplyRouting(t *testing.T) {
	f := newFixture(t, relay.Config{})
	ag, _ := f.agent("a", "pi")
	const n = 5
	clients := make([]*relaytest.Peer, n)
	conns := make(map[string]int)
	for i := range clients {
		clients[i] = f.client("a")
		clients[i].Relay("pi", fmt.Sprintf("req-%d", i), fmt.Sprintf("from %d", i))
		expectAck(t, clients[i], fmt.Sprintf("req-%d", i), "delivered")
	}
	for range clients {
		got := ag.Expect(t, "relay")
		var i int
		fmt.Sscanf(got.Packet, "from %d", &i)
		if _, dup := conns[got.Conn]; dup {
			t.Fatalf("two clients share conn %s", got.Conn)
		}
		conns[got.Conn] = i
	}
	// Reply in reverse order; each client gets exactly its own.
	for conn, i := range conns {
		ag.Reply(conn, fmt.Sprintf("req-%d", i), fmt.Sprintf("to %d", i))
		expectAck(t, ag, fmt.Sprintf("req-%d", i), "delivered")
	}
	for i, c := range clients {
		got := c.Expect(t, "relay")
		if got.Packet != fmt.Sprintf("to %d", i) || got.MID != fmt.Sprintf("req-%d", i) {
			t.Fatalf("client %d got %s", i, got.Raw)
		}
		expectNothing(t, c)
	}
	// A conn id that never wrote, a malformed one, and one of a gone
	// client are unknown.
	ag.Reply("n1:1", "x1", "?")
	expectAck(t, ag, "x1", "unknown_conn")
	ag.Reply("garbage", "x2", "?")
	expectAck(t, ag, "x2", "unknown_conn")
	var gone string
	for conn, i := range conns {
		if i == 0 {
			gone = conn
		}
	}
	clients[0].Close()
	cg := ag.Expect(t, "client_gone")
	if cg.Conn != gone {
		t.Fatalf("client_gone for %q, want %q", cg.Conn, gone)
	}
	ag.Reply(gone, "x3", "?")
	expectAck(t, ag, "x3", "unknown_conn")
}

// An agent may reply only within 30 minutes of the client's last frame.
func TestReplyWindow(t *testing.T) {
	f := newFixture(t, relay.Config{})
	ag, _ := f.agent("a", "pi")
	cl := f.client("a")
	cl.Relay("pi", "1", "x")
	conn := ag.Expect(t, "relay").Conn
	f.clock.Advance(30 * time.Minute)
	ag.Reply(conn, "2", "still ok")
	expectAck(t, ag, "2", "delivered")
	f.clock.Advance(time.Second)
	ag.Reply(conn, "3", "too late")
	expectAck(t, ag, "3", "unknown_conn")
}

func TestRelayFrameErrors(t *testing.T) {
	f := newFixture(t, relay.Config{})
	ag, _ := f.agent("a", "pi")
	cl := f.client("a")
	tests := []struct {
		peer *relaytest.Peer
		raw  string
		code string
	}{
		{cl, `not json`, "INVALID_MESSAGE"},
		{cl, `{"type":"wake","mid":"m1"}`, "UNKNOWN_TYPE"},
		{cl, `{"type":"relay","agent_id":"pi","packet":"x"}`, "INVALID_MESSAGE"}, // no mid
		{cl, `{"type":"relay","agent_id":"pi","mid":"bad mid!","packet":"x"}`, "INVALID_MESSAGE"},
		{cl, `{"type":"relay","mid":"m2","packet":"x"}`, "INVALID_MESSAGE"},                     // no agent_id
		{cl, `{"type":"relay","agent_id":"pi","mid":"m3"}`, "INVALID_MESSAGE"},                  // no packet
		{cl, `{"type":"relay","agent_id":"pi","mid":"m4","packet":{"a":1}}`, "INVALID_MESSAGE"}, // packet not a string
		{cl, `{"type":"relay","agent_id":7,"mid":"m5","packet":"x"}`, "INVALID_MESSAGE"},
		{cl, `{"type":"auth","api_token":"x","client_type":"client"}`, "INVALID_MESSAGE"},
		{ag, `{"type":"relay","packet":"x"}`, "INVALID_MESSAGE"}, // no conn
		{ag, `{"type":"relay","conn":"n1:1","mid":"","packet":"x"}`, "INVALID_MESSAGE"},
	}
	for _, tc := range tests {
		tc.peer.SendRaw([]byte(tc.raw))
		e := tc.peer.Expect(t, "error")
		if e.Code != tc.code {
			t.Errorf("%s: got %s, want code %s", tc.raw, e.Raw, tc.code)
		}
	}
	// The connections still work.
	cl.Relay("pi", "ok", "x")
	expectAck(t, cl, "ok", "delivered")
	// An error frame echoes a valid mid.
	cl.SendRaw([]byte(`{"type":"relay","agent_id":"pi","mid":"m9"}`))
	if e := cl.Expect(t, "error"); e.MID != "m9" {
		t.Fatalf("error frame: %s", e.Raw)
	}
}

func TestProtocolErrorClose(t *testing.T) {
	f := newFixture(t, relay.Config{})
	cl := f.client("a")
	for i := 0; i < 10; i++ {
		cl.SendRaw([]byte(`{"type":"nope"}`))
		cl.Expect(t, "error")
	}
	cl.SendRaw([]byte(`{"type":"nope"}`))
	expectClose(t, cl, 4006, "PROTOCOL_ERROR")
	// The count is per minute.
	cl2 := f.client("a")
	for i := 0; i < 10; i++ {
		cl2.SendRaw([]byte(`{"type":"nope"}`))
		cl2.Expect(t, "error")
	}
	f.clock.Advance(time.Minute)
	cl2.SendRaw([]byte(`{"type":"nope"}`))
	cl2.Expect(t, "error")
}

func TestApplicationPing(t *testing.T) {
	f := newFixture(t, relay.Config{})
	cl := f.client("a")
	cl.SendRaw([]byte(`{"type":"ping","ts":"t-1"}`))
	if p := cl.Expect(t, "pong"); p.TS != "t-1" {
		t.Fatalf("pong %s", p.Raw)
	}
	cl.SendRaw([]byte(`{"type":"ping"}`))
	if p := cl.Expect(t, "pong"); strings.Contains(string(p.Raw), "ts") {
		t.Fatalf("pong %s", p.Raw)
	}
	cl.SendRaw([]byte(`{"type":"ping","ts":"` + strings.Repeat("x", 65) + `"}`))
	cl.Expect(t, "error")
	cl.SendRaw([]byte(`{"type":"pong"}`))
	expectNothing(t, cl)
}

func TestMaxRequests(t *testing.T) {
	f := newFixture(t, relay.Config{})
	f.agent("a", "pi")
	f.auth.SetMaxRequests("a", 3)
	cl := f.client("a")
	for i := 0; i < 3; i++ {
		cl.Relay("pi", fmt.Sprint(i), "x")
		expectAck(t, cl, fmt.Sprint(i), "delivered")
	}
	// Application pings do not count.
	cl.SendRaw([]byte(`{"type":"ping"}`))
	cl.Expect(t, "pong")
	cl.Relay("pi", "3", "x")
	expectAck(t, cl, "3", "quota_exceeded")
	expectClose(t, cl, 4008, "QUOTA_EXCEEDED")
}

func TestRateLimits(t *testing.T) {
	t.Run("connection", func(t *testing.T) {
		f := newFixture(t, relay.Config{})
		f.agent("a", "pi")
		cl := f.client("a")
		// The clock stands still: exactly the burst passes.
		for i := 0; i < relay.DefaultClientBurst; i++ {
			cl.Relay("pi", fmt.Sprint(i), "x")
			expectAck(t, cl, fmt.Sprint(i), "delivered")
		}
		cl.Relay("pi", "over", "x")
		a := expectAck(t, cl, "over", "rate_limited")
		if a.Scope != "connection" || a.RetryAfterMS < 1 || a.RetryAfterMS > 60 || a.AgentID != "pi" {
			t.Fatalf("ack %s", a.Raw)
		}
		f.clock.Advance(time.Second / relay.DefaultClientRate)
		cl.Relay("pi", "again", "x")
		expectAck(t, cl, "again", "delivered")
	})
	t.Run("account", func(t *testing.T) {
		f := newFixture(t, relay.Config{AccountRate: 10, AccountBurst: 50})
		f.agent("a", "pi")
		var cls []*relaytest.Peer
		for i := 0; i < 2; i++ {
			cls = append(cls, f.client("a"))
		}
		other := f.client("b") // another account has its own bucket
		f.agent("b", "pi")
		n := 0
		for i := 0; i < 30; i++ {
			cls[0].Relay("pi", fmt.Sprint(i), "x")
			expectAck(t, cls[0], fmt.Sprint(i), "delivered")
			n++
		}
		for i := 0; i < 20; i++ {
			cls[1].Relay("pi", fmt.Sprint(i), "x")
			expectAck(t, cls[1], fmt.Sprint(i), "delivered")
			n++
		}
		cls[1].Relay("pi", "over", "x")
		a := expectAck(t, cls[1], "over", "rate_limited")
		if a.Scope != "account" {
			t.Fatalf("ack %s", a.Raw)
		}
		other.Relay("pi", "b1", "x")
		expectAck(t, other, "b1", "delivered")
	})
	t.Run("flooding", func(t *testing.T) {
		f := newFixture(t, relay.Config{ClientBurst: 1, MaxRefused: 5})
		cl := f.client("a")
		cl.Relay("pi", "ok", "x")
		expectAck(t, cl, "ok", "unknown_agent")
		for i := 0; i < 5; i++ {
			cl.Relay("pi", fmt.Sprint(i), "x")
			expectAck(t, cl, fmt.Sprint(i), "rate_limited")
		}
		cl.Relay("pi", "flood", "x")
		expectClose(t, cl, 4010, "FLOODING")
	})
	t.Run("agent", func(t *testing.T) {
		f := newFixture(t, relay.Config{AgentBurst: 2})
		ag, _ := f.agent("a", "pi")
		cl := f.client("a")
		cl.Relay("pi", "1", "x")
		conn := ag.Expect(t, "relay").Conn
		ag.Reply(conn, "r1", "x")
		ag.Reply(conn, "r2", "x")
		ag.Reply(conn, "r3", "x")
		expectAck(t, ag, "r1", "delivered")
		expectAck(t, ag, "r2", "delivered")
		a := expectAck(t, ag, "r3", "rate_limited")
		if a.Scope != "connection" || a.Conn != conn {
			t.Fatalf("ack %s", a.Raw)
		}
	})
}

func TestSlowConsumer(t *testing.T) {
	f := newFixture(t, relay.Config{ClientRate: -1, AccountRate: -1, SendQueueFrames: 8})
	tok, _ := f.auth.AddAgent("a", "pi")
	// The agent authenticates, then stops reading: its peer buffers 1024
	// frames and then blocks, and the socket buffers fill up.
	ag := f.srv.Dial(t)
	if r, err := ag.AuthAgent(tok, "pi"); err != nil || r.Status != "authenticated" {
		t.Fatal(r, err)
	}
	cl := f.client("a")
	pkt := strings.Repeat("p", 15000)
	evicted := false
	for i := 0; i < 2000 && !evicted; i++ {
		cl.Relay("pi", fmt.Sprint(i), pkt)
		a := cl.Expect(t, "ack")
		evicted = a.Status != "delivered"
	}
	if !evicted {
		t.Fatal("the agent was never evicted")
	}
	waitFor(t, "slow consumer drop", func() bool { return f.srv.Relay.Stats().Drops["slow_consumer"] == 1 })
	waitFor(t, "agent gone", func() bool { return f.srv.Relay.Stats().Agents == 0 })
	if got := f.srv.Relay.Stats().Closes["SLOW_CONSUMER"]; got != 1 {
		t.Fatalf("closes SLOW_CONSUMER = %d", got)
	}
	// The peer sees the close (4007 if the socket let it through, else 1006).
	code, _, err := ag.Closed(wait)
	if err != nil || (code != 4007 && code != 1006) {
		t.Fatalf("agent close: %d %v", code, err)
	}
	// Nothing of the evicted agent's memory is kept.
	if q := f.srv.Relay.Stats().SendQueueFrames; q != 0 {
		t.Fatalf("send queue frames = %d after eviction", q)
	}
}

func TestOfflineQueue(t *testing.T) {
	f := newFixture(t, relay.Config{})
	tok, _ := f.auth.AddAgent("a", "pi")
	cl := f.client("a")
	for i := 0; i < 3; i++ {
		cl.Relay("pi", fmt.Sprint(i), fmt.Sprint("queued ", i))
		a := expectAck(t, cl, fmt.Sprint(i), "queued")
		if a.ExpiresIn == nil || *a.ExpiresIn != 30 {
			t.Fatalf("queued ack %s", a.Raw)
		}
	}
	if q := f.srv.Relay.Stats().OfflineQueueFrames; q != 3 {
		t.Fatalf("offline queue = %d", q)
	}
	f.clock.Advance(10 * time.Second)
	ag := f.srv.Agent(t, tok, "pi")
	for i := 0; i < 3; i++ {
		got := ag.Expect(t, "relay")
		if got.Packet != fmt.Sprint("queued ", i) || got.MID != fmt.Sprint(i) {
			t.Fatalf("flush %d: got %s", i, got.Raw)
		}
	}
	// The follow-up acks come after device_status online.
	for i := 0; i < 3; i++ {
		expectAck(t, cl, fmt.Sprint(i), "delivered")
	}
	if q := f.srv.Relay.Stats().OfflineQueueFrames; q != 0 {
		t.Fatalf("offline queue = %d after flush", q)
	}
}

func TestOfflineQueueTTL(t *testing.T) {
	f := newFixture(t, relay.Config{})
	tok, _ := f.auth.AddAgent("a", "pi")
	cl := f.client("a")
	cl.Relay("pi", "early", "x")
	expectAck(t, cl, "early", "queued")
	f.clock.Advance(20 * time.Second)
	cl.Relay("pi", "late", "y")
	expectAck(t, cl, "late", "queued")
	f.clock.Advance(10*time.Second - time.Millisecond)
	expectNothing(t, cl)
	f.clock.Advance(time.Millisecond)
	expectAck(t, cl, "early", "expired")
	expectNothing(t, cl)
	ag := f.srv.Agent(t, tok, "pi")
	if got := ag.Expect(t, "relay"); got.MID != "late" {
		t.Fatalf("got %s", got.Raw)
	}
	expectAck(t, cl, "late", "delivered")
	if d := f.srv.Relay.Stats().Drops["expired"]; d != 1 {
		t.Fatalf("expired drops = %d", d)
	}
}

func TestOfflineQueueLimits(t *testing.T) {
	f := newFixture(t, relay.Config{ClientRate: -1})
	f.auth.RegisterAgent("a", "pi")
	cl := f.client("a")
	for i := 0; i < relay.DefaultOfflineQueueFrames; i++ {
		cl.Relay("pi", fmt.Sprint(i), "x")
		expectAck(t, cl, fmt.Sprint(i), "queued")
	}
	cl.Relay("pi", "full", "x")
	expectAck(t, cl, "full", "queue_full")

	// A queue TTL of zero (negative in Config) means offline acks.
	f2 := newFixture(t, relay.Config{OfflineQueueTTL: -1})
	f2.auth.RegisterAgent("a", "pi")
	cl2 := f2.client("a")
	cl2.Relay("pi", "1", "x")
	expectAck(t, cl2, "1", "offline")

	// The sender leaving drops its queued frames.
	cl3 := f.client("b")
	f.auth.RegisterAgent("b", "nas")
	cl3.Relay("nas", "1", "x")
	expectAck(t, cl3, "1", "queued")
	cl3.Close()
	waitFor(t, "queue drop", func() bool {
		return f.srv.Relay.Stats().OfflineQueueFrames == relay.DefaultOfflineQueueFrames
	})
}

func TestDirectoryFailure(t *testing.T) {
	f := newFixture(t, relay.Config{})
	f.auth.RegisterAgent("a", "pi")
	f.auth.SetDirectoryError(fmt.Errorf("directory down"))
	cl := f.client("a") // the snapshot falls back to connected agents
	cl.Relay("pi", "1", "x")
	expectAck(t, cl, "1", "offline")
	f.auth.SetDirectoryError(nil)
	// Failures are not cached.
	cl.Relay("pi", "2", "x")
	expectAck(t, cl, "2", "queued")
	if st := f.srv.Relay.Stats(); st.DirectoryFailures < 2 {
		t.Fatalf("directory failures = %d", st.DirectoryFailures)
	}
}

func TestDirectoryCache(t *testing.T) {
	f := newFixture(t, relay.Config{OfflineQueueTTL: -1})
	cl := f.client("a")
	_, lists0, _ := f.auth.Calls()
	for i := 0; i < 5; i++ {
		cl.Relay("ghost", fmt.Sprint(i), "x")
		expectAck(t, cl, fmt.Sprint(i), "unknown_agent")
	}
	lookups, _, _ := f.auth.Calls()
	if lookups != 1 {
		t.Fatalf("lookups = %d, want 1 (absent answers are cached 5 s)", lookups)
	}
	// A new agent is unknown until the absent entry expires (≤ 5 s).
	f.auth.RegisterAgent("a", "ghost")
	cl.Relay("ghost", "x", "x")
	expectAck(t, cl, "x", "unknown_agent")
	f.clock.Advance(5 * time.Second)
	cl.Relay("ghost", "y", "x")
	expectAck(t, cl, "y", "offline")
	// A kick drops the cache: the deleted agent is unknown at once.
	f.auth.RemoveAgent("a", "ghost")
	f.srv.Relay.Kick(t.Context(), relay.Target{Account: "a", AgentID: "ghost"}, relay.CloseAgentDeleted, time.Time{})
	cl.Relay("ghost", "z", "x")
	expectAck(t, cl, "z", "unknown_agent")
	// Snapshots of one account within 5 s share one Agents call.
	f.client("a")
	f.client("a")
	_, lists, _ := f.auth.Calls()
	if lists-lists0 > 2 { // the kick dropped the list once
		t.Fatalf("Agents calls = %d", lists-lists0)
	}
}

// Without a Directory only connected agents exist.
func TestNoDirectory(t *testing.T) {
	auth := staticAuth{}
	srv := relaytest.NewServer(t, auth, relay.Config{Node: "bare"})
	ag := srv.Agent(t, "wld_pi", "pi")
	cl := srv.Client(t, "wl_c")
	pres := cl.Expect(t, "presence")
	if len(pres.Agents) != 1 || pres.Agents[0].AgentID != "pi" || pres.Agents[0].Status != "online" {
		t.Fatalf("presence %s", pres.Raw)
	}
	cl.Relay("pi", "1", "x")
	expectAck(t, cl, "1", "delivered")
	ag.Expect(t, "relay")
	cl.Relay("nas", "2", "x")
	expectAck(t, cl, "2", "unknown_agent")
}

// staticAuth accepts wl_<x> as a client and wld_<id> as agent id of one
// account: a bare relay without Directory or Revalidator.
type staticAuth struct{}

func (staticAuth) Authenticate(_ contextT, c relay.Credentials) (*relay.Principal, error) {
	tok := string(c.Token)
	if id, ok := strings.CutPrefix(tok, "wld_"); ok && c.ClientType != "client" {
		return &relay.Principal{Account: "acct", Kind: relay.KindAgent, AgentID: id, CredentialIDs: []string{"tok_" + id}}, nil
	}
	if strings.HasPrefix(tok, "wl_") && c.ClientType == "client" {
		return &relay.Principal{Account: "acct", Kind: relay.KindClient, CredentialIDs: []string{"tok_c"}}, nil
	}
	return nil, relay.ErrInvalidToken
}

func TestJSONOutput(t *testing.T) {
	// Every frame the relay sends is valid JSON.
	f := newFixture(t, relay.Config{})
	ag, _ := f.agent("a", "pi")
	cl := f.client("a")
	cl.Relay("pi", "1", "\x00\"\\")
	for _, p := range []*relaytest.Peer{ag, cl} {
		fr, err := p.Recv(wait)
		if err != nil || !json.Valid(fr.Raw) {
			t.Fatalf("invalid JSON %q %v", fr.Raw, err)
		}
	}
}
