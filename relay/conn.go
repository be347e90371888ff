package relay

import (
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
)

// conn is one peer connection. Its reader goroutine (run) owns the
// lifecycle: it reads and handles frames, and on any read error finishes
// the connection (unregisters it, reports presence). A writer goroutine
// exists only while frames are queued. Timers (auth window, heartbeat,
// session expiry) only signal; they never do I/O themselves.
type conn struct {
	s   *Server
	ws  *websocket.Conn
	seq uint64
	id  string // "<node>:<seq>"
	ip  string

	lastLife atomic.Int64 // clock UnixNano of the last frame, ping or pong from the peer
	authed   atomic.Bool
	killed   atomic.Bool // evicted: the writer stops between frames

	// Set by the reader during authentication, before authed is stored;
	// read-only afterwards.
	p            *Principal
	kind         Kind
	account      string
	agentID      string
	acct         *account
	wantPresence bool
	ewsp         []string
	firmware     string
	platform     string
	offlineTTL   time.Duration // clients: TTL of the frames they queue (≤ 0: no queue)

	// Reader-only state.
	lim         *rate.Limiter // nil: unlimited
	refused     *rate.Limiter // refusals; made on the first one
	requests    int
	maxRequests int // < 0: unlimited
	errCount    int
	errStart    time.Time

	mu          sync.Mutex
	q           []qframe
	qFrames     int // queued and being written
	qBytes      int
	writing     bool // a writer goroutine runs
	hold        bool // no writer until released: registration in progress
	pingDue     bool
	closeState  uint8
	closeCode   int
	closeReason string
	offReason   string // presence reason when it ends
	dead        bool   // the reader finished
	gotFirst    bool   // the first frame arrived (auth window met)
	authTimer   Timer
	hbTimer     Timer
	expTimer    Timer
	peers       map[string]int64    // agents: conn id → clock UnixNano of its last frame
	wrote       map[string]struct{} // clients: agent ids written to
}

// Close states.
const (
	closeOpen    = iota
	closePending // a close frame is queued after the remaining frames
	closeSending // the writer is writing it
	closeDone    // the connection is finished
)

// Presence offline reasons (API.md §3.6 agent.offline).
const (
	offClosed   = "closed"
	offTimeout  = "timeout"
	offKicked   = "kicked"
	offReplaced = "replaced"
	offNodeLost = "node_lost"
	offShutdown = "shutdown"
)

// qframe is a frame waiting in a send queue. pooled frames go back to the
// frame buffer pool once written; shared ones (fan-out) do not.
type qframe struct {
	b      *[]byte
	pooled bool
}

// maxPooledFrame: larger buffers are not returned to the pools.
const maxPooledFrame = 64 << 10

// getFrameBuf returns a buffer to build an outgoing frame in, from the
// Server's pool.
func (s *Server) getFrameBuf() *[]byte {
	if b, ok := s.frameBufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 512)
	return &b
}

// getBatchBuf returns a buffer for coalescing frames (writeBatch).
func (s *Server) getBatchBuf() *[]byte {
	if b, ok := s.batchBufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, batchBytes+DefaultMaxFrameBytes)
	return &b
}

func (s *Server) putBatchBuf(b *[]byte) {
	if cap(*b) > 2*batchBytes+maxPooledFrame {
		return
	}
	*b = (*b)[:0]
	s.batchBufs.Put(b)
}

func (s *Server) putFrameBuf(b *[]byte) {
	if cap(*b) > maxPooledFrame {
		return
	}
	*b = (*b)[:0]
	s.frameBufs.Put(b)
}

func (s *Server) newConn(ws *websocket.Conn, ip string) *conn {
	seq := s.seq.Add(1)
	c := &conn{
		s:   s,
		ws:  ws,
		seq: seq,
		id:  s.node + ":" + strconv.FormatUint(seq, 10),
		ip:  ip,
	}
	c.touch()
	ws.SetPongHandler(c.onPong)
	ws.SetPingHandler(c.onPing)
	return c
}

func (c *conn) touch() { c.lastLife.Store(c.s.clock.Now().UnixNano()) }

func (c *conn) onPong(string) error {
	c.touch()
	return nil
}

func (c *conn) onPing(data string) error {
	c.touch()
	// Errors surface on the next read or write; a ping is not worth more.
	c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(closeWriteWait))
	return nil
}

// run is the reader goroutine.
func (c *conn) run() {
	defer c.s.wg.Done()
	c.mu.Lock()
	if !c.gotFirst && !c.dead {
		c.authTimer = c.s.clock.AfterFunc(c.s.cfg.AuthTimeout, c.authTimeout)
	}
	c.mu.Unlock()
	err := c.readLoop()
	c.finish(err)
}

func (c *conn) readLoop() error {
	limit := c.s.cfg.MaxFrameBytes
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			return err
		}
		c.touch()
		if c.closing() {
			continue // draining until the peer's close frame or closeGrace
		}
		if mt != websocket.TextMessage {
			c.s.stats.drops[dropBinary].Add(1)
			c.closeWith(CloseUnsupportedData, CloseName(CloseUnsupportedData), "")
			continue
		}
		bp := c.s.readBufs.Get().(*[]byte)
		n, err := readFrame(r, *bp)
		if err != nil {
			c.s.readBufs.Put(bp)
			return err
		}
		if n > limit {
			c.s.readBufs.Put(bp)
			c.s.stats.drops[dropTooBig].Add(1)
			c.closeWith(CloseMessageTooBig, CloseName(CloseMessageTooBig), "")
			continue
		}
		c.s.stats.framesIn.Add(1)
		c.s.stats.bytesIn.Add(uint64(n))
		c.handle((*bp)[:n])
		c.s.readBufs.Put(bp)
	}
}

// readFrame reads a message into b; n == len(b) means it did not fit.
func readFrame(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *conn) closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeState != closeOpen
}

// --- sending ---

// enqueue queues a frame for the peer and starts the writer if none runs.
// It reports false when the connection is closing, or when the frame
// overflows the send queue: then the connection is evicted (4007).
// The frame buffer is owned by the queue from here on.
func (c *conn) enqueue(b *[]byte, pooled bool) bool {
	return c.enqueuePeer(b, pooled, "")
}

// enqueuePeer is enqueue that also records, for an agent, that connection
// peer wrote to it (the reply rule of API.md §4.3).
func (c *conn) enqueuePeer(b *[]byte, pooled bool, peer string) bool {
	n := len(*b)
	c.mu.Lock()
	if c.closeState != closeOpen || c.dead {
		c.mu.Unlock()
		if pooled {
			c.s.putFrameBuf(b)
		}
		return false
	}
	if c.qFrames+1 > c.s.cfg.SendQueueFrames || c.qBytes+n > c.s.cfg.SendQueueBytes {
		c.s.stats.drops[dropSlowConsumer].Add(1)
		c.killLocked(CloseSlowConsumer)
		c.mu.Unlock()
		if pooled {
			c.s.putFrameBuf(b)
		}
		return false
	}
	if peer != "" {
		c.notePeerLocked(peer)
	}
	c.q = append(c.q, qframe{b, pooled})
	c.qFrames++
	c.qBytes += n
	c.s.stats.queued.Add(1)
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

// enqueueAfterAuth puts the presence snapshot right after auth_response,
// ahead of any device_status queued while it was being built (those are
// at least as new as the snapshot, so the client never sees an older
// state after a newer one). Called during the authentication hold, when
// auth_response is still the queue's head.
func (c *conn) enqueueAfterAuth(b *[]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeState != closeOpen || c.dead || !c.hold || len(c.q) == 0 {
		return
	}
	if c.qFrames+1 > c.s.cfg.SendQueueFrames || c.qBytes+len(*b) > c.s.cfg.SendQueueBytes {
		c.s.stats.drops[dropSlowConsumer].Add(1)
		c.killLocked(CloseSlowConsumer)
		return
	}
	c.q = slices.Insert(c.q, 1, qframe{b, false})
	c.qFrames++
	c.qBytes += len(*b)
	c.s.stats.queued.Add(1)
}

// startWriterLocked reports whether the caller must start the writer.
// The reader's wg count is held while c.dead is false, so wg.Add here
// never races with Close's Wait.
func (c *conn) startWriterLocked() bool {
	if c.writing || c.dead || c.hold {
		return false
	}
	c.writing = true
	c.s.wg.Add(1)
	return true
}

// release ends a hold, starting the writer for what queued up meanwhile.
func (c *conn) release() {
	c.mu.Lock()
	c.hold = false
	start := (len(c.q) > 0 || c.pingDue || c.closeState == closePending) && c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// sendFrame builds a frame with build in a pooled buffer and queues it.
func (c *conn) sendFrame(build func([]byte) []byte) bool {
	bp := c.s.getFrameBuf()
	*bp = build(*bp)
	return c.enqueue(bp, true)
}

func (c *conn) sendAck(a *ack) {
	bp := c.s.getFrameBuf()
	*bp = appendAck(*bp, a)
	c.enqueue(bp, true)
}

// sendError sends an error frame (API.md §4.3); more than maxErrorFrames a
// minute close the connection 4006.
func (c *conn) sendError(code, msg string, mid []byte) {
	c.s.stats.drops[dropInvalid].Add(1)
	now := c.s.clock.Now()
	if now.Sub(c.errStart) >= errorWindow {
		c.errStart, c.errCount = now, 0
	}
	c.errCount++
	if c.errCount > maxErrorFrames {
		c.closeWith(CloseProtocolError, CloseName(CloseProtocolError), "")
		return
	}
	if mid != nil && !validMID(mid) {
		mid = nil
	}
	bp := c.s.getFrameBuf()
	*bp = appendError(*bp, code, msg, mid)
	c.enqueue(bp, true)
}

// writeLoop is the writer goroutine: it writes what is queued, then the
// ping or close frame if due, and exits when nothing is left.
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	var batch []qframe
	for {
		c.mu.Lock()
		if c.dead {
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch, c.q = c.q, batch[:0]
		ping := c.pingDue
		c.pingDue = false
		closing := c.closeState == closePending
		if closing {
			c.closeState = closeSending
		}
		if len(batch) == 0 && !ping && !closing {
			c.writing = false
			c.q = nil // an idle connection keeps no queue array
			c.mu.Unlock()
			return
		}
		code, reason := c.closeCode, c.closeReason
		c.mu.Unlock()

		err := c.writeBatch(batch)
		clear(batch)
		batch = batch[:0]
		if err == nil && ping {
			err = c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
		}
		if err == nil && closing {
			err = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeWriteWait))
			// Wait at most closeGrace for the peer's close frame.
			c.ws.NetConn().SetReadDeadline(time.Now().Add(closeGrace))
		}
		if err != nil {
			c.ws.NetConn().Close() // the reader sees it and finishes
			c.mu.Lock()
			c.writing = false
			c.dropQueueLocked()
			c.mu.Unlock()
			return
		}
	}
}

// batchBytes: queued frames are coalesced into writes of about this size.
const batchBytes = 32 << 10

// writeBatch writes frames in order, returning their buffers. Complete
// WebSocket frames are encoded here and coalesced, so a burst costs one
// write system call per batchBytes instead of one per frame. Writing to
// the net.Conn directly is safe next to gorilla's own control-frame
// writes: each Write call carries whole frames, and the net package
// serializes Write calls on one connection.
func (c *conn) writeBatch(batch []qframe) error {
	if len(batch) == 0 {
		return nil
	}
	nc := c.ws.NetConn()
	nc.SetWriteDeadline(time.Now().Add(writeWait))
	out := c.s.getBatchBuf()
	defer c.s.putBatchBuf(out)
	var err error
	written, bytes, pendingFrames, pendingBytes := 0, 0, 0, 0
	flush := func() {
		if err == nil && len(*out) > 0 {
			if _, err = nc.Write(*out); err == nil {
				written += pendingFrames
				bytes += pendingBytes
			}
		}
		*out = (*out)[:0]
		pendingFrames, pendingBytes = 0, 0
	}
	for i, f := range batch {
		n := len(*f.b)
		if err == nil && !c.killed.Load() {
			*out = appendFrameHeader(*out, n)
			*out = append(*out, *f.b...)
			pendingFrames++
			pendingBytes += n
			if len(*out) >= batchBytes {
				flush()
			}
		}
		if f.pooled {
			c.s.putFrameBuf(f.b)
		}
		batch[i] = qframe{}
	}
	flush()
	c.mu.Lock()
	for range batch {
		c.qFrames--
	}
	c.qBytes = 0
	for _, f := range c.q {
		c.qBytes += len(*f.b)
	}
	c.mu.Unlock()
	c.s.stats.queued.Add(-int64(len(batch)))
	c.s.stats.framesOut.Add(uint64(written))
	c.s.stats.bytesOut.Add(uint64(bytes))
	return err
}

// appendFrameHeader appends the header of an unmasked, final text frame
// of n payload bytes (RFC 6455 §5.2), as a server sends it.
func appendFrameHeader(b []byte, n int) []byte {
	const finText = 0x81
	switch {
	case n <= 125:
		return append(b, finText, byte(n))
	case n <= 0xffff:
		return append(b, finText, 126, byte(n>>8), byte(n))
	default:
		return append(b, finText, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// dropQueueLocked releases every queued frame.
func (c *conn) dropQueueLocked() {
	for i, f := range c.q {
		c.qFrames--
		c.qBytes -= len(*f.b)
		if f.pooled {
			c.s.putFrameBuf(f.b)
		}
		c.q[i] = qframe{}
	}
	c.s.stats.queued.Add(-int64(len(c.q)))
	c.q = nil
}

// --- closing ---

// closeWith closes the connection after the frames already queued: a close
// frame with code and reason, then at most closeGrace for the peer's. off,
// if not empty, is the presence reason reported for an agent.
func (c *conn) closeWith(code int, reason, off string) {
	c.mu.Lock()
	if c.closeState != closeOpen || c.dead {
		c.mu.Unlock()
		return
	}
	c.closeState = closePending
	c.closeCode, c.closeReason = code, reason
	if off != "" {
		c.offReason = off
	}
	c.s.stats.closeCode(code)
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// killLocked evicts the connection with code: its queue is dropped, the
// write in progress gets killWriteWait to finish, then the close frame is
// attempted. For slow consumers (4007).
func (c *conn) killLocked(code int) {
	if c.closeState != closeOpen || c.dead {
		return
	}
	c.killed.Store(true)
	c.closeState = closePending
	c.closeCode, c.closeReason = code, CloseName(code)
	c.s.stats.closeCode(code)
	c.dropQueueLocked()
	c.ws.NetConn().SetWriteDeadline(time.Now().Add(killWriteWait))
	if c.startWriterLocked() {
		go c.writeLoop()
	}
}

// drain sends the reconnect hint and closes 1001 (Shutdown).
func (c *conn) drain() {
	if c.authed.Load() {
		after := int64(0)
		if j := c.s.cfg.ReconnectJitter; j > 0 {
			after = randInt63n(int64(j / time.Millisecond))
		}
		c.sendFrame(func(b []byte) []byte { return appendReconnect(b, after, "shutdown") })
	}
	c.closeWith(CloseGoingAway, CloseName(CloseGoingAway), offShutdown)
}

// abort drops the TCP connection at once (Close).
func (c *conn) abort() {
	c.mu.Lock()
	if c.offReason == "" {
		c.offReason = offShutdown
	}
	c.mu.Unlock()
	c.ws.NetConn().Close()
}

// finish runs once, in the reader goroutine, when the connection ends.
func (c *conn) finish(err error) {
	c.mu.Lock()
	c.dead = true
	c.closeState = closeDone
	c.dropQueueLocked()
	for _, t := range []Timer{c.authTimer, c.hbTimer, c.expTimer} {
		if t != nil {
			t.Stop()
		}
	}
	reason := c.offReason
	if reason == "" {
		reason = offClosed
	}
	wrote := c.wrote
	c.wrote = nil
	c.peers = nil
	c.mu.Unlock()
	c.ws.Close()
	c.s.untrack(c)
	if !c.authed.Load() {
		return
	}
	c.s.stats.authGone(c.kind)
	switch c.kind {
	case KindAgent:
		c.s.unregisterAgent(c, reason)
	case KindClient:
		c.s.clientLeft(c, wrote)
	}
	c.s.leaveAccount(c)
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		c.s.log.Debug("connection closed by peer", "conn", c.id, "code", ce.Code)
	} else {
		c.s.log.Debug("connection ended", "conn", c.id, "reason", reason)
	}
}

// --- timers ---

// authTimeout fires at the end of the auth window.
func (c *conn) authTimeout() {
	c.mu.Lock()
	late := c.gotFirst || c.dead || c.closeState != closeOpen
	c.gotFirst = true
	c.mu.Unlock()
	if late {
		return
	}
	c.failAuth(CodeAuthTimeout, "no auth frame within the auth window", 0)
}

// heartbeat fires every Heartbeat period on an authenticated connection
// and sends a ping; it closes 4009 as soon as two periods passed without a
// life sign (firing early for that, rather than up to a period late).
func (c *conn) heartbeat() {
	hb := c.s.cfg.Heartbeat
	idle := c.s.clock.Now().Sub(time.Unix(0, c.lastLife.Load()))
	if idle >= 2*hb {
		c.closeWith(CloseHeartbeat, CloseName(CloseHeartbeat), offTimeout)
		return
	}
	c.mu.Lock()
	if c.dead || c.closeState != closeOpen {
		c.mu.Unlock()
		return
	}
	c.pingDue = true
	start := c.startWriterLocked()
	c.hbTimer.Reset(min(hb, 2*hb-idle))
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// expired fires when the session behind a client connection expires.
func (c *conn) expired() {
	c.closeWith(CloseTokenExpired, CloseName(CloseTokenExpired), "")
}

// --- peers ---

// notePeerLocked records that conn id wrote to this agent connection.
func (c *conn) notePeerLocked(id string) {
	now := c.s.clock.Now().UnixNano()
	if c.peers == nil {
		c.peers = make(map[string]int64)
	}
	if _, ok := c.peers[id]; !ok && len(c.peers) >= maxPeersPerAgent {
		// Forget the least recent writer.
		oldK, oldV := "", int64(0)
		for k, v := range c.peers {
			if oldK == "" || v < oldV {
				oldK, oldV = k, v
			}
		}
		delete(c.peers, oldK)
	}
	c.peers[id] = now
}

// hasPeer reports whether conn id wrote to this agent within replyWindow.
func (c *conn) hasPeer(id []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.peers[string(id)]
	return ok && c.s.clock.Now().UnixNano()-t <= int64(replyWindow)
}

// clientGone tells the agent that client conn id left.
func (c *conn) clientGone(id string) {
	c.mu.Lock()
	delete(c.peers, id)
	c.mu.Unlock()
	c.sendFrame(func(b []byte) []byte { return appendClientGone(b, id) })
}

// noteAgent records that this client wrote to agentID.
func (c *conn) noteAgent(agentID []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return
	}
	if _, ok := c.wrote[string(agentID)]; ok {
		return
	}
	if c.wrote == nil {
		c.wrote = make(map[string]struct{})
	}
	if len(c.wrote) < maxAgentsPerClient {
		c.wrote[string(agentID)] = struct{}{}
	}
}
