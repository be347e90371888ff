package relay_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/relay/relaytest"
)

func TestHandshake(t *testing.T) {
	f := newFixture(t, relay.Config{Heartbeat: relay.DefaultHeartbeat})
	clientTok, _ := f.auth.AddClient("acct-a")
	sessTok, sessID := f.auth.AddSession("acct-a", time.Hour)
	agentTok, _ := f.auth.AddAgent("acct-a", "pi")
	otherAgentTok, _ := f.auth.AddAgent("acct-a", "nas")
	revokedTok, revokedID := f.auth.AddClient("acct-a")
	f.auth.Revoke(revokedID)

	big := `{"type":"auth","pad":"` + strings.Repeat("x", relay.DefaultMaxFrameBytes) + `"}`
	tests := []struct {
		name      string
		send      func(p *relaytest.Peer) error
		status    string // auth_response status; empty: none expected
		code      string // auth error code
		closeCode int    // 0: stays open
	}{
		{name: "client with account token", status: "authenticated",
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": clientTok, "client_type": "client"})
			}},
		{name: "client with session token", status: "authenticated",
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "session_token": sessTok, "client_type": "client"})
			}},
		{name: "agent", status: "authenticated",
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": agentTok, "client_type": "firmware", "agent_id": "pi"})
			}},
		{name: "wrong token", status: "failed", code: "INVALID_TOKEN", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": "wl_" + strings.Repeat("0", 64), "client_type": "client"})
			}},
		{name: "malformed token", status: "failed", code: "INVALID_TOKEN", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": "nope", "client_type": "client"})
			}},
		{name: "revoked token", status: "failed", code: "TOKEN_REVOKED", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": revokedTok, "client_type": "client"})
			}},
		{name: "wrong agent id", status: "failed", code: "AGENT_MISMATCH", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": otherAgentTok, "client_type": "device", "agent_id": "pi"})
			}},
		{name: "device token as client", status: "failed", code: "TOKEN_SCOPE_MISMATCH", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": agentTok, "client_type": "client"})
			}},
		{name: "account token as device", status: "failed", code: "TOKEN_SCOPE_MISMATCH", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": clientTok, "client_type": "device", "agent_id": "pi"})
			}},
		{name: "session token as device", status: "failed", code: "TOKEN_SCOPE_MISMATCH", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "session_token": sessTok, "client_type": "device", "agent_id": "pi"})
			}},
		{name: "both tokens", status: "failed", code: "INVALID_MESSAGE", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": clientTok, "session_token": sessTok, "client_type": "client"})
			}},
		{name: "no token", status: "failed", code: "INVALID_MESSAGE", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "client_type": "client"})
			}},
		{name: "bad client_type", status: "failed", code: "INVALID_MESSAGE", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": clientTok, "client_type": "robot"})
			}},
		{name: "device without agent_id", status: "failed", code: "INVALID_MESSAGE", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "auth", "api_token": agentTok, "client_type": "device"})
			}},
		{name: "garbage first frame", status: "failed", code: "INVALID_MESSAGE", closeCode: 1008,
			send: func(p *relaytest.Peer) error { return p.SendRaw([]byte("hello relay")) }},
		{name: "JSON array first frame", status: "failed", code: "INVALID_MESSAGE", closeCode: 1008,
			send: func(p *relaytest.Peer) error { return p.SendRaw([]byte(`["auth"]`)) }},
		{name: "type not a string", status: "failed", code: "INVALID_MESSAGE", closeCode: 1008,
			send: func(p *relaytest.Peer) error { return p.SendRaw([]byte(`{"type":1}`)) }},
		{name: "first frame not auth", status: "failed", code: "AUTH_REQUIRED", closeCode: 1008,
			send: func(p *relaytest.Peer) error {
				return p.Send(map[string]any{"type": "relay", "agent_id": "pi", "mid": "1", "packet": "x"})
			}},
		{name: "binary frame", closeCode: 1003,
			send: func(p *relaytest.Peer) error { return p.SendBinary([]byte(`{"type":"auth"}`)) }},
		{name: "oversize frame", closeCode: 1009,
			send: func(p *relaytest.Peer) error { return p.SendRaw([]byte(big)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := f.srv.Dial(t)
			if err := tc.send(p); err != nil {
				t.Fatal(err)
			}
			if tc.status != "" {
				r := p.Expect(t, "auth_response")
				if r.Status != tc.status || r.Error != tc.code {
					t.Fatalf("auth_response: got %s, want status %q error %q", r.Raw, tc.status, tc.code)
				}
				if r.Status == "authenticated" {
					checkAuthOK(t, r)
				}
			}
			if tc.closeCode == 0 {
				return
			}
			reason := tc.code
			switch tc.closeCode {
			case 1003:
				reason = "UNSUPPORTED_DATA"
			case 1009:
				reason = "MESSAGE_TOO_BIG"
			}
			// Binary and oversize frames get no auth_response: the close
			// must be the first thing the peer sees.
			if tc.status == "" {
				if fr, err := p.Recv(wait); err == nil {
					t.Fatalf("got frame %s before the close", fr.Raw)
				}
			}
			expectClose(t, p, tc.closeCode, reason)
		})
	}
	_ = sessID
}

func checkAuthOK(t *testing.T, r *relaytest.Frame) {
	t.Helper()
	if r.Conn == "" || !strings.HasPrefix(r.Conn, "n1:") || r.Node != "n1" || r.HeartbeatS != 30 ||
		r.MaxFrameBytes != 16384 || r.OfflineQueueTTLS != 30 || r.Protocol != 1 || r.ServerTime == "" {
		t.Fatalf("auth_response fields: %s", r.Raw)
	}
	if r.AgentID != "" {
		if r.SessionToken != nil || r.ExpiresIn != nil || r.MaxRequests != 0 {
			t.Fatalf("device auth_response must have null session_token/expires_in, max_requests 0: %s", r.Raw)
		}
		if !strings.Contains(string(r.Raw), `"session_token":null`) {
			t.Fatalf("device session_token must be null, not absent: %s", r.Raw)
		}
		return
	}
	if r.SessionToken == nil || !strings.HasPrefix(*r.SessionToken, "wls_") || r.ExpiresIn == nil || *r.ExpiresIn <= 0 || r.MaxRequests != 10000 {
		t.Fatalf("client auth_response: %s", r.Raw)
	}
}

func TestHandshakeAuthTimeout(t *testing.T) {
	f := newFixture(t, relay.Config{})
	p := f.srv.Dial(t)
	f.waitTimers(1) // the auth window
	f.clock.Advance(relay.DefaultAuthTimeout - time.Second)
	expectNothing(t, p)
	f.clock.Advance(time.Second)
	r := p.Expect(t, "auth_response")
	if r.Status != "failed" || r.Error != "AUTH_TIMEOUT" {
		t.Fatalf("got %s, want a failed AUTH_TIMEOUT", r.Raw)
	}
	expectClose(t, p, 1008, "AUTH_TIMEOUT")
}

// A frame arriving after the auth window closed is not processed.
func TestHandshakeAuthAfterTimeout(t *testing.T) {
	f := newFixture(t, relay.Config{})
	tok, _ := f.auth.AddClient("a")
	p := f.srv.Dial(t)
	f.waitTimers(1)
	f.clock.Advance(relay.DefaultAuthTimeout)
	p.Send(map[string]any{"type": "auth", "api_token": tok, "client_type": "client"})
	r := p.Expect(t, "auth_response")
	if r.Error != "AUTH_TIMEOUT" {
		t.Fatalf("got %s", r.Raw)
	}
	if r2, err := p.Recv(200 * time.Millisecond); err == nil {
		t.Fatalf("late auth processed: %s", r2.Raw)
	}
}

func TestHandshakeAuthenticatorFault(t *testing.T) {
	f := newFixture(t, relay.Config{})
	tok, _ := f.auth.AddClient("a")
	f.auth.SetAuthError(errors.New("database down"))
	p := f.srv.Dial(t)
	r, err := p.AuthClient(tok)
	if err != nil || r.Status != "failed" || r.Error != "SERVICE_UNAVAILABLE" {
		t.Fatalf("got %v %v", r, err)
	}
	if strings.Contains(string(r.Raw), "database") {
		t.Fatalf("internal error text leaked: %s", r.Raw)
	}
	expectClose(t, p, 1011, "INTERNAL_ERROR")
}

func TestHandshakeExpiredSession(t *testing.T) {
	f := newFixture(t, relay.Config{})
	tok, _ := f.auth.AddSession("a", time.Minute)
	p := f.srv.Client(t, tok)
	p.Expect(t, "presence")
	f.clock.Advance(time.Minute - time.Second)
	expectNothing(t, p)
	f.clock.Advance(time.Second)
	expectClose(t, p, 4002, "TOKEN_EXPIRED")
}

func TestPlainGET(t *testing.T) {
	f := newFixture(t, relay.Config{})
	httpURL := strings.Replace(f.srv.URL, "ws://", "http://", 1)
	resp, err := http.Get(httpURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || !strings.Contains(string(body), `"code":"UPGRADE_REQUIRED"`) ||
		!strings.Contains(string(body), `"success":false`) {
		t.Fatalf("got %d %s, want 426 UPGRADE_REQUIRED envelope", resp.StatusCode, body)
	}
	resp, err = http.Post(httpURL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: got %d, want 405", resp.StatusCode)
	}
}

func TestAcceptLimiter(t *testing.T) {
	f := newFixture(t, relay.Config{AcceptRate: 2, AcceptBurst: 2})
	f.srv.Dial(t)
	f.srv.Dial(t)
	_, resp, err := websocket.DefaultDialer.Dial(f.srv.URL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third upgrade: got %v %v, want 503 with Retry-After", resp, err)
	}
	f.clock.Advance(time.Second) // the bucket refills on the relay's clock
	f.srv.Dial(t)
	if got := f.srv.Relay.Stats().Rejected["accept_rate"]; got != 1 {
		t.Fatalf("rejected accept_rate = %d, want 1", got)
	}
}

func TestMaxConnections(t *testing.T) {
	f := newFixture(t, relay.Config{MaxConnections: 1})
	p := f.srv.Dial(t)
	_, resp, err := websocket.DefaultDialer.Dial(f.srv.URL, nil)
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %v %v, want 503", resp, err)
	}
	p.Close()
	waitFor(t, "the slot to free", func() bool { return f.srv.Relay.Stats().Connections == 0 })
	f.srv.Dial(t)
}

func TestFailedAuthsPerIP(t *testing.T) {
	f := newFixture(t, relay.Config{AuthFailuresPerIP: 3})
	for i := 0; i < 3; i++ {
		p := f.srv.Dial(t)
		p.SendRaw([]byte("garbage"))
		expectClose(t, p, 1008, "INVALID_MESSAGE")
	}
	_, resp, err := websocket.DefaultDialer.Dial(f.srv.URL, nil)
	if err == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("got %v %v, want 429 with Retry-After", resp, err)
	}
	f.clock.Advance(time.Minute)
	f.srv.Dial(t)
}

func TestConnectionLimit(t *testing.T) {
	f := newFixture(t, relay.Config{MaxClientsPerAccount: 2})
	f.client("a")
	f.client("a")
	f.client("b") // other accounts are not affected
	tok, _ := f.auth.AddClient("a")
	p := f.srv.Dial(t)
	r, err := p.AuthClient(tok)
	if err != nil || r.Error != "CONNECTION_LIMIT" || r.RetryAfterS < 1 {
		t.Fatalf("got %v %v, want CONNECTION_LIMIT with retry_after_s", r, err)
	}
	expectClose(t, p, 1008, "CONNECTION_LIMIT")
	// Agents do not count toward the client cap.
	f.agent("a", "pi")
}

func TestNewConfigErrors(t *testing.T) {
	auth := relaytest.NewAuth()
	for _, cfg := range []relay.Config{
		{Node: "bad node"},
		{Node: strings.Repeat("n", 33)},
		{AuthTimeout: -1},
		{MaxFrameBytes: 100},
		{OfflineQueueTTL: time.Hour},
		{SendQueueFrames: -1},
	} {
		if s, err := relay.New(auth, cfg); err == nil {
			s.Close()
			t.Errorf("New(%+v): no error", cfg)
		}
	}
	if _, err := relay.New(nil, relay.Config{}); err == nil {
		t.Error("New(nil auth): no error")
	}
	s, err := relay.New(auth, relay.Config{})
	if err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	if s.Node() == "" {
		t.Error("empty default node")
	}
	s.Close()
	if err := s.Kick(context.Background(), relay.Target{Account: "a"}, 4001, time.Time{}); !errors.Is(err, relay.ErrClosed) {
		t.Errorf("Kick after Close: %v", err)
	}
}

func TestSecretRedacted(t *testing.T) {
	s := relay.Secret("wl_supersecret")
	for _, got := range []string{s.String(), s.GoString(), s.LogValue().String()} {
		if strings.Contains(got, "supersecret") {
			t.Errorf("secret printed: %q", got)
		}
	}
	cred := relay.Credentials{Token: s}
	if strings.Contains(fmtV(cred), "supersecret") {
		t.Error("secret printed when formatting Credentials")
	}
}
