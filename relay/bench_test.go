package relay_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/relay/relaytest"
)

// benchConfig lifts the per-peer limits so benchmarks measure the relay.
var benchConfig = relay.Config{
	Node: "bench", ClientRate: -1, AgentRate: -1, AccountRate: -1, ClientMaxRequests: -1,
	MaxClientsPerAccount: -1, AcceptRate: -1,
}

// benchPair connects pairs of (client, echo agent) in separate accounts.
func benchPair(b *testing.B, url string, auth *relaytest.Auth, n int) []*websocket.Conn {
	b.Helper()
	ctx := context.Background()
	clients := make([]*websocket.Conn, n)
	for i := range clients {
		acct := fmt.Sprintf("acct-%d", i)
		atok, _ := auth.AddAgent(acct, "pi")
		ag, _, err := relaytest.DialRaw(ctx, url, relaytest.AgentAuth(atok, "pi"))
		if err != nil {
			b.Fatal(err)
		}
		go relaytest.Echo(ag)
		b.Cleanup(func() { ag.Close() })
		ctok, _ := auth.AddClient(acct)
		cl, _, err := relaytest.DialRaw(ctx, url, relaytest.ClientAuth(ctok))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cl.Close() })
		clients[i] = cl
	}
	return clients
}

// BenchmarkRoundTrip: client → relay → agent → relay → client, 64 B, one
// frame in flight. ns/op is the round-trip latency.
func BenchmarkRoundTrip(b *testing.B) {
	auth := relaytest.NewAuth()
	srv, err := relaytest.Start(auth, benchConfig)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cl := benchPair(b, srv.URL, auth, 1)[0]
	var mid uint64
	b.ReportAllocs()
	for b.Loop() {
		mid++
		if err := cl.WriteMessage(websocket.TextMessage, relaytest.RelayFrame("pi", mid, 64)); err != nil {
			b.Fatal(err)
		}
		for {
			_, m, err := cl.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if relaytest.IsRelay(m) {
				break
			}
		}
	}
}

// BenchmarkThroughput256: relayed 256 B frames per second over 8
// client/agent pairs, each keeping a window of frames in flight.
func BenchmarkThroughput256(b *testing.B) {
	auth := relaytest.NewAuth()
	srv, err := relaytest.Start(auth, benchConfig)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	relaytest.Throughput(b, benchPair(b, srv.URL, auth, 8), 256)
}
