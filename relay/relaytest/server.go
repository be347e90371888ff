package relaytest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wakelink-go/wakelink/relay"
)

// Server is a relay.Server mounted at /wss of an httptest server on
// 127.0.0.1.
type Server struct {
	Relay *relay.Server
	HTTP  *httptest.Server
	// URL is the relay's WebSocket URL: ws://127.0.0.1:<port>/wss.
	URL string

	lis *trackingListener
}

// Start starts a relay with auth and cfg on a loopback port. The caller
// closes it with Close.
func Start(auth relay.Authenticator, cfg relay.Config) (*Server, error) {
	rs, err := relay.New(auth, cfg)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		rs.Close()
		return nil, err
	}
	tl := &trackingListener{Listener: l, conns: make(map[net.Conn]struct{})}
	mux := http.NewServeMux()
	mux.Handle("/wss", rs)
	hs := httptest.NewUnstartedServer(mux)
	hs.Listener = tl
	hs.Start()
	return &Server{
		Relay: rs,
		HTTP:  hs,
		URL:   "ws" + strings.TrimPrefix(hs.URL, "http") + "/wss",
		lis:   tl,
	}, nil
}

// NewServer is Start for tests: it fails tb on error and closes the server
// when the test ends.
func NewServer(tb testing.TB, auth relay.Authenticator, cfg relay.Config) *Server {
	tb.Helper()
	s, err := Start(auth, cfg)
	if err != nil {
		tb.Fatalf("relaytest: starting relay: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Close closes the relay (dropping its connections) and the HTTP server.
func (s *Server) Close() {
	s.Relay.Close()
	s.lis.closeAll()
	s.HTTP.Close()
}

// Kill simulates the death of the node's network: it closes the listener
// and every TCP connection at once, without close frames (peers see 1006).
// The relay itself is not told; call Close later to stop its goroutines.
func (s *Server) Kill() {
	s.lis.Close()
	s.lis.closeAll()
}

// trackingListener remembers the connections it accepted, hijacked ones
// included, so Kill can drop them.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	once  sync.Once
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	return &trackedConn{Conn: c, l: l}, nil
}

func (l *trackingListener) Close() error {
	var err error
	l.once.Do(func() { err = l.Listener.Close() })
	return err
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	conns := l.conns
	l.conns = make(map[net.Conn]struct{})
	l.mu.Unlock()
	for c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // reset, like a crashed host
		}
		c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c.Conn)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
