package relaytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Raw peers skip Peer's decoding and buffering, for benchmarks and load.

// DialRaw dials url and authenticates with the auth frame auth (a value
// marshalled to JSON), returning the connection and the auth_response.
func DialRaw(ctx context.Context, url string, auth any) (*websocket.Conn, *Frame, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := ws.WriteJSON(auth); err != nil {
		ws.Close()
		return nil, nil, err
	}
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, nil, err
		}
		f := &Frame{Raw: b}
		if json.Unmarshal(b, f) == nil && f.Type == "auth_response" {
			if f.Status != "authenticated" {
				ws.Close()
				return nil, f, fmt.Errorf("relaytest: auth failed: %s", f.Error)
			}
			return ws, f, nil
		}
	}
}

// ClientAuth and AgentAuth build auth frames for DialRaw.
func ClientAuth(token string) any {
	return map[string]any{"type": "auth", "api_token": token, "client_type": "client", "presence": false}
}

// AgentAuth is the auth frame of agent agentID.
func AgentAuth(token, agentID string) any {
	return map[string]any{"type": "auth", "api_token": token, "client_type": "device", "agent_id": agentID}
}

// Echo serves an agent connection: every relay frame is sent back to its
// sender with the same mid and packet; other frames are ignored. It
// returns when the connection fails or closes.
func Echo(ws *websocket.Conn) error {
	out := make([]byte, 0, 1024)
	for {
		mt, b, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		if mt != websocket.TextMessage || !bytes.HasPrefix(b, []byte(`{"type":"relay","conn":`)) {
			continue
		}
		conn, rest, ok := cutString(b[len(`{"type":"relay","conn":`):])
		if !ok {
			continue
		}
		// The relay writes {"type":"relay","conn":…,"mid":…,"packet":…}:
		// the reply is {"type":"relay","conn":…,"mid":…,"packet":…} too.
		out = append(out[:0], `{"type":"relay","conn":`...)
		out = append(out, conn...)
		out = append(out, rest...)
		if err := ws.WriteMessage(websocket.TextMessage, out); err != nil {
			return err
		}
	}
}

// cutString splits a JSON string token (no escapes inside) off b.
func cutString(b []byte) (tok, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != '"' {
		return nil, nil, false
	}
	i := bytes.IndexByte(b[1:], '"')
	if i < 0 {
		return nil, nil, false
	}
	return b[:i+2], b[i+2:], true
}

// RelayFrame builds a client's relay frame with a numeric mid and a packet
// of n bytes of 'p'.
func RelayFrame(agentID string, mid uint64, n int) []byte {
	b := make([]byte, 0, 64+n)
	b = append(b, `{"type":"relay","agent_id":`...)
	b = strconv.AppendQuote(b, agentID)
	b = append(b, `,"mid":"`...)
	b = strconv.AppendUint(b, mid, 10)
	b = append(b, `","packet":"`...)
	b = append(b, bytes.Repeat([]byte{'p'}, n)...)
	return append(b, `"}`...)
}

// IsRelay reports whether a frame read by a raw client is a relay frame
// (not an ack or presence frame).
func IsRelay(b []byte) bool { return bytes.HasPrefix(b, []byte(`{"type":"relay"`)) }

// Throughput is a benchmark body: it sends b.N relay frames spread over
// clients (raw client connections whose agents run Echo), each client
// with at most 16 replies outstanding (so acks and replies stay well under
// the relay's send queue), and reports relayed-msgs/s (a round trip is two
// relayed frames). The clients are not reusable afterwards.
func Throughput(b *testing.B, clients []*websocket.Conn, size int) {
	const window = 16
	var next atomic.Int64
	total := int64(b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			credits := make(chan struct{}, window)
			for range window {
				credits <- struct{}{}
			}
			done := make(chan struct{})
			var got, final atomic.Int64
			final.Store(-1)
			go func() {
				defer close(done)
				for {
					_, m, err := cl.ReadMessage()
					if err != nil {
						if f := final.Load(); f < 0 || got.Load() < f {
							b.Errorf("relaytest: reading replies: %v", err)
						}
						return
					}
					if IsRelay(m) {
						n := got.Add(1)
						credits <- struct{}{}
						if f := final.Load(); f >= 0 && n >= f {
							return
						}
					}
				}
			}()
			sent := int64(0)
			var mid uint64
		send:
			for next.Add(1) <= total {
				select {
				case <-credits:
				case <-done:
					break send
				}
				mid++
				sent++
				if err := cl.WriteMessage(websocket.TextMessage, RelayFrame("pi", mid, size)); err != nil {
					b.Errorf("relaytest: sending: %v", err)
					break
				}
			}
			final.Store(sent)
			if got.Load() >= sent {
				cl.SetReadDeadline(time.Now()) // the reader may wait for nothing
			}
			<-done
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "relayed-msgs/s")
}
