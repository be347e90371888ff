package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// Server is the relay: an http.Handler for /wss (API.md §4). Mount it in
// any mux; it upgrades, authenticates and routes. All methods are safe for
// concurrent use.
type Server struct {
	cfg      Config
	auth     Authenticator
	reval    Revalidator // nil unless the Authenticator implements it
	dir      *dirCache   // nil unless the Authenticator implements Directory
	broker   Broker
	log      *slog.Logger
	clock    Clock
	node     string
	upgrader websocket.Upgrader
	stats    stats

	// ctx is the server's lifetime: Authenticator, Directory and Broker
	// calls derive from it, and Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	seq atomic.Uint64 // conn sequence numbers

	mu       sync.Mutex // guards the fields below and every wg.Add outside a connection
	state    int
	accounts map[string]*account
	kicks    map[*pendingKick]struct{}
	revalT   Timer

	conns  [connShards]connShard
	nconns atomic.Int64

	pres    presenceTable
	offline offlineQueues

	acceptMu  sync.Mutex
	acceptLim *rate.Limiter // nil: unlimited
	ipFails   *ipLimiter    // nil: off

	readBufs  sync.Pool // *[]byte of MaxFrameBytes+1
	writeBufs sync.Pool // gorilla write buffers (control frames only)
	frameBufs sync.Pool // *[]byte: outgoing frames being built or queued
	batchBufs sync.Pool // *[]byte: frames coalesced for one write
	bounces   chan struct{}

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Server states.
const (
	stateRunning = iota
	stateDraining
	stateClosed
)

const connShards = 64

type connShard struct {
	mu sync.RWMutex
	m  map[uint64]*conn
}

// account is the per-node state of an account with local connections.
type account struct {
	id      string
	refs    int                // local authenticated connections
	conns   map[*conn]struct{} // all of them (kicks)
	clients map[*conn]struct{} // the clients (device_status, caps)
	limiter *rate.Limiter      // relay frames of the account's clients; set by the first client, then fixed
}

// maxBounces bounds bounced frames being re-routed at once; more are
// acked offline.
const maxBounces = 64

// New returns a Server that authenticates with auth. It starts the
// broker (cfg.Broker.Start) and the revalidation timer; Close stops them.
func New(auth Authenticator, cfg Config) (*Server, error) {
	if auth == nil {
		return nil, fmt.Errorf("relay: New: nil Authenticator")
	}
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      c,
		auth:     auth,
		broker:   c.Broker,
		log:      c.Logger.With("node", c.Node),
		clock:    c.Clock,
		node:     c.Node,
		accounts: make(map[string]*account),
		kicks:    make(map[*pendingKick]struct{}),
		bounces:  make(chan struct{}, maxBounces),
	}
	if s.broker == nil {
		s.broker = localBroker{}
	}
	if r, ok := auth.(Revalidator); ok {
		s.reval = r
	}
	if d, ok := auth.(Directory); ok {
		s.dir = newDirCache(d, c.DirectoryCacheSize, c.Clock, &s.stats)
	}
	for i := range s.conns {
		s.conns[i].m = make(map[uint64]*conn)
	}
	s.pres.init()
	s.offline.init(s)
	if c.AcceptRate > 0 {
		s.acceptLim = rate.NewLimiter(rate.Limit(c.AcceptRate), c.AcceptBurst)
	}
	if c.AuthFailuresPerIP > 0 {
		s.ipFails = newIPLimiter(c.AuthFailuresPerIP, c.IPTableSize)
	}
	frameCap := c.MaxFrameBytes + 1
	s.readBufs.New = func() any { b := make([]byte, frameCap); return &b }
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  c.ReadBufferSize,
		WriteBufferSize: c.WriteBufferSize,
		WriteBufferPool: &s.writeBufs,
		Subprotocols:    []string{Subprotocol},
		CheckOrigin:     c.CheckOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			code := "VALIDATION_FAILED"
			if status == http.StatusForbidden {
				code = "ORIGIN_REJECTED"
			}
			writeHTTPError(w, status, code, "websocket handshake failed", 0)
		},
	}
	// Seed the sequence with the start time in microseconds, so conn ids of
	// a restarted node differ from those of its previous incarnation that
	// agents on other nodes may still remember.
	s.seq.Store(uint64(time.Now().UnixMicro()))
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.broker.Start(s.ctx, s.node, (*nodeHandler)(s)); err != nil {
		s.cancel()
		return nil, fmt.Errorf("relay: starting broker: %w", err)
	}
	if s.reval != nil {
		s.mu.Lock()
		s.revalT = s.clock.AfterFunc(c.RevalidateInterval, s.revalidateTick)
		s.mu.Unlock()
	}
	return s, nil
}

// Node returns this node's id.
func (s *Server) Node() string { return s.node }

// ServeHTTP upgrades GET /wss to a relay connection (API.md §4.1). A GET
// without upgrade is answered 426 UPGRADE_REQUIRED; over capacity, 503 with
// Retry-After; an IP over the failed-auth limit, 429. The connection's
// reader goroutine is started and ServeHTTP returns.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeHTTPError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "use GET with a WebSocket upgrade", 0)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		writeHTTPError(w, http.StatusUpgradeRequired, "UPGRADE_REQUIRED", "this endpoint speaks the relay protocol over WebSocket", 0)
		return
	}
	ip := remoteHost(r)
	if s.cfg.ClientIP != nil {
		ip = s.cfg.ClientIP(r)
	}
	now := s.clock.Now()
	if s.ipFails != nil {
		if d, blocked := s.ipFails.blocked(ip, now); blocked {
			s.stats.rejected[rejectIP].Add(1)
			writeHTTPError(w, http.StatusTooManyRequests, "RATE_LIMITED", "too many failed authentications", d)
			return
		}
	}
	if reason, ok := s.admit(now); !ok {
		s.stats.rejected[reason].Add(1)
		writeHTTPError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "relay at capacity", retryAfterBusy)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.nconns.Add(-1)
		s.stats.rejected[rejectHandshake].Add(1)
		return
	}
	c := s.newConn(ws, ip)
	ok, draining := s.track(c)
	if !ok {
		ws.Close()
		return
	}
	if draining {
		// Shutdown began during the handshake and did not see this one.
		c.drain()
	}
	go c.run()
}

// admit reserves a connection slot, or says which limit refused it.
func (s *Server) admit(now time.Time) (reason int, ok bool) {
	s.mu.Lock()
	running := s.state == stateRunning
	s.mu.Unlock()
	if !running {
		return rejectDraining, false
	}
	if s.nconns.Add(1) > int64(s.cfg.MaxConnections) {
		s.nconns.Add(-1)
		return rejectCapacity, false
	}
	if s.acceptLim != nil {
		s.acceptMu.Lock()
		allowed := s.acceptLim.AllowN(now, 1)
		s.acceptMu.Unlock()
		if !allowed {
			s.nconns.Add(-1)
			return rejectAcceptRate, false
		}
	}
	return 0, true
}

// track registers a new connection and accounts for its reader goroutine;
// false once the server is closed.
func (s *Server) track(c *conn) (ok, draining bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		s.nconns.Add(-1)
		return false, false
	}
	sh := &s.conns[c.seq%connShards]
	sh.mu.Lock()
	sh.m[c.seq] = c
	sh.mu.Unlock()
	s.wg.Add(1)
	s.stats.accepted.Add(1)
	return true, s.state == stateDraining
}

func (s *Server) untrack(c *conn) {
	sh := &s.conns[c.seq%connShards]
	sh.mu.Lock()
	delete(sh.m, c.seq)
	sh.mu.Unlock()
	s.nconns.Add(-1)
}

// lookupConn returns the local connection with sequence number seq.
func (s *Server) lookupConn(seq uint64) *conn {
	sh := &s.conns[seq%connShards]
	sh.mu.RLock()
	c := sh.m[seq]
	sh.mu.RUnlock()
	return c
}

// allConns returns a snapshot of every local connection.
func (s *Server) allConns() []*conn {
	out := make([]*conn, 0, s.nconns.Load())
	for i := range s.conns {
		sh := &s.conns[i]
		sh.mu.RLock()
		for _, c := range sh.m {
			out = append(out, c)
		}
		sh.mu.RUnlock()
	}
	return out
}

// goTracked runs f in a goroutine Close waits for; false once closed.
func (s *Server) goTracked(f func()) bool {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// Shutdown drains the node: new upgrades get 503, every peer gets a
// reconnect frame (reason "shutdown", a jittered after_ms) and close 1001,
// agents go offline with reason "shutdown". It waits for the connections
// to end or ctx to be done, then calls Close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.state = stateDraining
	s.mu.Unlock()
	for _, c := range s.allConns() {
		c.drain()
	}
	const poll = 5 * time.Millisecond // wall-clock polling of the connection count
	t := time.NewTicker(poll)
	defer t.Stop()
	for s.nconns.Load() > 0 {
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-t.C:
		}
	}
	return s.Close()
}

// Close stops the node at once: connections are dropped (peers see 1006
// and reconnect), timers stopped, the broker closed. It waits for every
// goroutine the Server started. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.state = stateClosed
		if s.revalT != nil {
			s.revalT.Stop()
		}
		for k := range s.kicks {
			k.timer.Stop()
			delete(s.kicks, k)
		}
		s.mu.Unlock()
		s.cancel()
		for _, c := range s.allConns() {
			c.abort()
		}
		s.wg.Wait()
		s.offline.close()
		s.closeErr = s.broker.Close()
	})
	return s.closeErr
}

// writeHTTPError writes the API envelope of API.md §1.2.
func writeHTTPError(w http.ResponseWriter, status int, code, msg string, retryAfter time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(max(1, int((retryAfter+time.Second-1)/time.Second))))
	}
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]any{
		"success": false,
		"error":   map[string]any{"code": code, "message": msg, "detail": map[string]any{}},
	})
	w.Write(body)
}

// --- accounts ---

// joinAccount admits an authenticated connection into its account's
// per-node state, enforcing the client cap; false with the cap when full.
func (s *Server) joinAccount(c *conn, p *Principal) (ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[p.Account]
	if a == nil {
		a = &account{id: p.Account, conns: make(map[*conn]struct{})}
		s.accounts[p.Account] = a
	}
	if c.kind == KindClient {
		limit := s.cfg.MaxClientsPerAccount
		if p.Limits.MaxClientsPerAccount != 0 {
			limit = p.Limits.MaxClientsPerAccount
		}
		if limit >= 0 && len(a.clients) >= limit {
			if a.refs == 0 {
				delete(s.accounts, p.Account)
			}
			return false
		}
		if a.clients == nil {
			a.clients = make(map[*conn]struct{})
		}
		a.clients[c] = struct{}{}
		if a.limiter == nil {
			r, b := s.cfg.AccountRate, s.cfg.AccountBurst
			if p.Limits.AccountRatePerS != 0 {
				r = p.Limits.AccountRatePerS
			}
			if p.Limits.AccountBurst != 0 {
				b = p.Limits.AccountBurst
			}
			if r > 0 {
				a.limiter = rate.NewLimiter(rate.Limit(r), b)
			} else {
				a.limiter = rate.NewLimiter(rate.Inf, 0)
			}
		}
	}
	a.refs++
	a.conns[c] = struct{}{}
	c.acct = a
	return true
}

func (s *Server) leaveAccount(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := c.acct
	if a == nil {
		return
	}
	delete(a.conns, c)
	delete(a.clients, c)
	a.refs--
	if a.refs <= 0 && s.accounts[a.id] == a {
		delete(s.accounts, a.id)
	}
}

// accountConns returns the local connections of an account; clientsOnly
// restricts them to presence-receiving clients.
func (s *Server) accountConns(accountID string, clientsOnly bool) []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	if a == nil {
		return nil
	}
	var out []*conn
	if clientsOnly {
		for c := range a.clients {
			if c.wantPresence && c.authed.Load() {
				out = append(out, c)
			}
		}
		return out
	}
	out = make([]*conn, 0, len(a.conns))
	for c := range a.conns {
		out = append(out, c)
	}
	return out
}

// --- per-IP failed authentications ---

// ipLimiter counts failed authentications per client IP in a bounded LRU.
type ipLimiter struct {
	mu    sync.Mutex
	lru   *lru[string, *rate.Limiter]
	limit rate.Limit
	burst int
}

func newIPLimiter(perMinute, size int) *ipLimiter {
	return &ipLimiter{
		lru:   newLRU[string, *rate.Limiter](size),
		limit: rate.Limit(float64(perMinute) / 60),
		burst: perMinute,
	}
}

// blocked reports whether ip has used up its failures, and for how long.
func (l *ipLimiter) blocked(ip string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.lru.get(ip)
	if !ok {
		return 0, false
	}
	tok := lim.TokensAt(now)
	if tok >= 1 {
		return 0, false
	}
	return time.Duration((1 - tok) / float64(l.limit) * float64(time.Second)), true
}

func (l *ipLimiter) fail(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.lru.get(ip)
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.lru.put(ip, lim)
	}
	lim.AllowN(now, 1)
}
