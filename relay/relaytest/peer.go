package relaytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultTimeout bounds each wait of the test helpers.
const DefaultTimeout = 5 * time.Second

// Frame is a decoded relay frame (any type; absent fields are zero).
type Frame struct {
	Type             string        `json:"type"`
	Status           string        `json:"status"`
	Error            string        `json:"error"`
	Message          string        `json:"message"`
	Code             string        `json:"code"`
	RetryAfterS      int           `json:"retry_after_s"`
	SessionToken     *string       `json:"session_token"`
	ExpiresIn        *int64        `json:"expires_in"`
	MaxRequests      int           `json:"max_requests"`
	Conn             string        `json:"conn"`
	Node             string        `json:"node"`
	AgentID          string        `json:"agent_id"`
	HeartbeatS       int           `json:"heartbeat_s"`
	MaxFrameBytes    int           `json:"max_frame_bytes"`
	OfflineQueueTTLS int           `json:"offline_queue_ttl_s"`
	ServerTime       string        `json:"server_time"`
	Protocol         int           `json:"protocol"`
	MID              string        `json:"mid"`
	Packet           string        `json:"packet"`
	RetryAfterMS     int64         `json:"retry_after_ms"`
	Scope            string        `json:"scope"`
	AfterMS          int64         `json:"after_ms"`
	Reason           string        `json:"reason"`
	TS               string        `json:"ts"`
	LastSeen         *string       `json:"last_seen"`
	EWSPVersions     []string      `json:"ewsp_versions"`
	FirmwareVersion  *string       `json:"firmware_version"`
	Agents           []AgentStatus `json:"agents"`
	// Raw is the frame as received.
	Raw []byte `json:"-"`
}

// AgentStatus is an entry of a presence frame.
type AgentStatus struct {
	AgentID         string   `json:"agent_id"`
	Status          string   `json:"status"`
	LastSeen        *string  `json:"last_seen"`
	EWSPVersions    []string `json:"ewsp_versions"`
	FirmwareVersion *string  `json:"firmware_version"`
}

// ErrTimeout is returned when nothing arrives in time.
var ErrTimeout = errors.New("relaytest: timeout")

// Peer is a test WebSocket peer of a relay. A background goroutine reads
// frames (answering pings) into a bounded buffer; Recv takes them in
// order. Safe for use by one test goroutine; Send may be called from
// several.
type Peer struct {
	WS *websocket.Conn

	wmu    sync.Mutex
	frames chan *Frame
	done   chan struct{}
	err    error // read error, valid after done is closed
}

// Dial opens a WebSocket to a relay URL (ws://…/wss).
func Dial(ctx context.Context, url string) (*Peer, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	p := &Peer{WS: ws, frames: make(chan *Frame, 1024), done: make(chan struct{})}
	go p.read()
	return p, nil
}

func (p *Peer) read() {
	defer close(p.done)
	for {
		mt, b, err := p.WS.ReadMessage()
		if err != nil {
			p.err = err
			return
		}
		f := &Frame{Raw: b}
		if mt != websocket.TextMessage || json.Unmarshal(b, f) != nil {
			f.Type = "?"
		}
		select {
		case p.frames <- f:
		case <-time.After(time.Minute): // a test that stopped reading
			p.err = errors.New("relaytest: frame buffer full")
			p.WS.Close()
			return
		}
	}
}

// Send writes v as a JSON text frame.
func (p *Peer) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p.SendRaw(b)
}

// SendRaw writes b as a text frame.
func (p *Peer) SendRaw(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.WS.SetWriteDeadline(time.Now().Add(DefaultTimeout))
	return p.WS.WriteMessage(websocket.TextMessage, b)
}

// SendBinary writes b as a binary frame.
func (p *Peer) SendBinary(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.WS.WriteMessage(websocket.BinaryMessage, b)
}

// Recv returns the next frame, waiting up to timeout. After the connection
// ended it returns the read error (a *websocket.CloseError carries the
// close code).
func (p *Peer) Recv(timeout time.Duration) (*Frame, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f := <-p.frames:
		return f, nil
	case <-p.done:
		select {
		case f := <-p.frames:
			return f, nil
		default:
			return nil, p.err
		}
	case <-t.C:
		return nil, ErrTimeout
	}
}

// RecvType returns the next frame of type typ, skipping others (pings of
// the application layer, device_status, …).
func (p *Peer) RecvType(typ string, timeout time.Duration) (*Frame, error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := p.Recv(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if f.Type == typ {
			return f, nil
		}
	}
}

// Closed waits until the connection ends, discarding frames, and returns
// the close code and reason the relay sent (1006 if none).
func (p *Peer) Closed(timeout time.Duration) (code int, reason string, err error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-p.frames:
		case <-p.done:
			var ce *websocket.CloseError
			if errors.As(p.err, &ce) {
				return ce.Code, ce.Text, nil
			}
			return websocket.CloseAbnormalClosure, "", nil
		case <-t.C:
			return 0, "", ErrTimeout
		}
	}
}

// Close closes the connection (close 1000, then the socket).
func (p *Peer) Close() {
	p.wmu.Lock()
	p.WS.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	p.wmu.Unlock()
	p.WS.Close()
	<-p.done
}

// AuthClient sends a client auth frame with an account (wl_) or session
// (wls_) token and returns the auth_response.
func (p *Peer) AuthClient(token string) (*Frame, error) {
	field := "api_token"
	if len(token) > 4 && token[:4] == "wls_" {
		field = "session_token"
	}
	if err := p.Send(map[string]any{"type": "auth", field: token, "client_type": "client"}); err != nil {
		return nil, err
	}
	return p.RecvType("auth_response", DefaultTimeout)
}

// AuthAgent sends a device auth frame and returns the auth_response.
func (p *Peer) AuthAgent(token, agentID string) (*Frame, error) {
	err := p.Send(map[string]any{"type": "auth", "api_token": token, "client_type": "device",
		"agent_id": agentID, "ewsp_versions": []string{"1.0", "2"}, "firmware_version": "1.2.3"})
	if err != nil {
		return nil, err
	}
	return p.RecvType("auth_response", DefaultTimeout)
}

// Relay sends a client's relay frame to agentID.
func (p *Peer) Relay(agentID, mid, packet string) error {
	return p.Send(map[string]string{"type": "relay", "agent_id": agentID, "mid": mid, "packet": packet})
}

// Reply sends an agent's relay frame to conn (mid may be empty).
func (p *Peer) Reply(conn, mid, packet string) error {
	m := map[string]string{"type": "relay", "conn": conn, "packet": packet}
	if mid != "" {
		m["mid"] = mid
	}
	return p.Send(m)
}

// Client dials s and authenticates a client with token, failing tb on
// error. The presence frame that follows is left for the test to read.
func (s *Server) Client(tb testing.TB, token string) *Peer {
	tb.Helper()
	p := s.dial(tb)
	f, err := p.AuthClient(token)
	if err != nil || f.Status != "authenticated" {
		tb.Fatalf("relaytest: client auth: %v %s", err, raw(f))
	}
	return p
}

// Agent dials s and authenticates agentID with its device token, failing
// tb on error.
func (s *Server) Agent(tb testing.TB, token, agentID string) *Peer {
	tb.Helper()
	p := s.dial(tb)
	f, err := p.AuthAgent(token, agentID)
	if err != nil || f.Status != "authenticated" {
		tb.Fatalf("relaytest: agent auth: %v %s", err, raw(f))
	}
	return p
}

// Dial dials s, failing tb on error; the peer is closed when the test ends.
func (s *Server) Dial(tb testing.TB) *Peer { tb.Helper(); return s.dial(tb) }

func (s *Server) dial(tb testing.TB) *Peer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	p, err := Dial(ctx, s.URL)
	if err != nil {
		tb.Fatalf("relaytest: dial %s: %v", s.URL, err)
	}
	tb.Cleanup(p.Close)
	return p
}

// Expect returns the next frame of type typ, failing tb if none arrives.
func (p *Peer) Expect(tb testing.TB, typ string) *Frame {
	tb.Helper()
	f, err := p.RecvType(typ, DefaultTimeout)
	if err != nil {
		tb.Fatalf("relaytest: waiting for a %s frame: %v", typ, err)
	}
	return f
}

func raw(f *Frame) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("%s", f.Raw)
}
