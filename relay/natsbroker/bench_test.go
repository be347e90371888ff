package natsbroker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wakelink-go/wakelink/relay/relaytest"
)

// benchRoundTrip measures client → relay → agent → relay → client with
// the client on node 0 and the agent on node agentNode.
func benchRoundTrip(b *testing.B, agentNode int) {
	auth := relaytest.NewAuth()
	nodes, _ := cluster(b, auth, 2, fast)
	ctx := context.Background()
	atok, _ := auth.AddAgent("a", "pi")
	ag, _, err := relaytest.DialRaw(ctx, nodes[agentNode].Server.URL, relaytest.AgentAuth(atok, "pi"))
	if err != nil {
		b.Fatal(err)
	}
	defer ag.Close()
	go relaytest.Echo(ag)
	relaytest.WaitOnline(b, nodes, "a", "pi", nodes[agentNode].ID)
	ctok, _ := auth.AddClient("a")
	cl, _, err := relaytest.DialRaw(ctx, nodes[0].Server.URL, relaytest.ClientAuth(ctok))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
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

// BenchmarkRoundTripSameNode and BenchmarkRoundTripCrossNode: the
// difference is what the broker hop adds (one hop each way).
func BenchmarkRoundTripSameNode(b *testing.B)  { benchRoundTrip(b, 0) }
func BenchmarkRoundTripCrossNode(b *testing.B) { benchRoundTrip(b, 1) }

// BenchmarkThroughputCrossNode256: 256 B frames from clients on node 0 to
// echo agents on node 1, 8 pairs, 32 in flight each.
func BenchmarkThroughputCrossNode256(b *testing.B) {
	auth := relaytest.NewAuth()
	nodes, _ := cluster(b, auth, 2, fast)
	ctx := context.Background()
	var clients []*websocket.Conn
	for i := 0; i < 8; i++ {
		acct := fmt.Sprint("acct-", i)
		atok, _ := auth.AddAgent(acct, "pi")
		ag, _, err := relaytest.DialRaw(ctx, nodes[1].Server.URL, relaytest.AgentAuth(atok, "pi"))
		if err != nil {
			b.Fatal(err)
		}
		defer ag.Close()
		go relaytest.Echo(ag)
		relaytest.WaitOnline(b, nodes, acct, "pi", "n2")
		ctok, _ := auth.AddClient(acct)
		cl, _, err := relaytest.DialRaw(ctx, nodes[0].Server.URL, relaytest.ClientAuth(ctok))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		clients = append(clients, cl)
	}
	relaytest.Throughput(b, clients, 256)
}
