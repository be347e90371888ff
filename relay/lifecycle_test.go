package relay_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/relay/relaytest"
)

// Close stops every goroutine the relay started, with connections busy,
// frames queued and timers armed.
func TestCloseStopsGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	auth := relaytest.NewAuth()
	srv, err := relaytest.Start(auth, relay.Config{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	var peers []*relaytest.Peer
	for i := 0; i < 5; i++ {
		acct := fmt.Sprint("a", i)
		atok, _ := auth.AddAgent(acct, "pi")
		ctok, _ := auth.AddClient(acct)
		auth.RegisterAgent(acct, "offline")
		ag := srv.Agent(t, atok, "pi")
		cl := srv.Client(t, ctok)
		cl.Relay("pi", "1", strings.Repeat("x", 1000))
		cl.Relay("offline", "2", "queued") // an offline-queue timer
		peers = append(peers, ag, cl)
	}
	unauth := srv.Dial(t) // an auth timer
	peers = append(peers, unauth)
	srv.Close()
	for _, p := range peers {
		if code, _, err := p.Closed(wait); err != nil || code != 1006 {
			t.Fatalf("peer after Close: %d %v", code, err)
		}
		p.Close()
	}
}

func TestCollector(t *testing.T) {
	f := newFixture(t, relay.Config{})
	ag, _ := f.agent("a", "pi")
	cl := f.client("a")
	cl.Relay("pi", "1", "x")
	ag.Expect(t, "relay")
	expectAck(t, cl, "1", "delivered")
	cl.Relay("nobody", "2", "x")
	expectAck(t, cl, "2", "unknown_agent")

	reg := prometheus.NewRegistry()
	if err := reg.Register(f.srv.Relay.Collector()); err != nil {
		t.Fatal(err)
	}
	// A second relay registers in its own registry without conflict, and
	// could share one thanks to the node label.
	f2 := newFixture(t, relay.Config{Node: "n2"})
	if err := reg.Register(f2.srv.Relay.Collector()); err != nil {
		t.Fatalf("second relay: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			if m.Counter != nil {
				got[key] = m.Counter.GetValue()
			} else if m.Gauge != nil {
				got[key] = m.Gauge.GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"wakelink_relay_connections,kind=client,node=n1":                1,
		"wakelink_relay_connections,kind=agent,node=n1":                 1,
		"wakelink_relay_drops_total,node=n1,reason=unknown_agent":       1,
		"wakelink_relay_accepted_total,node=n1":                         2,
		"wakelink_relay_connections,kind=client,node=n2":                0,
		"wakelink_relay_auth_failures_total,code=INVALID_TOKEN,node=n1": 0,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if got["wakelink_relay_frames_total,direction=in,node=n1"] < 4 {
		t.Errorf("frames in = %v", got["wakelink_relay_frames_total,direction=in,node=n1"])
	}
}
