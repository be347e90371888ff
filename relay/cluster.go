package relay

import "slices"

// nodeHandler is the Server as its broker sees it.
type nodeHandler Server

var _ BrokerHandler = (*nodeHandler)(nil)

// HandleMessage handles a message from another node.
func (h *nodeHandler) HandleMessage(m *Message) {
	s := (*Server)(h)
	if m.Node == s.node {
		return
	}
	switch m.Kind {
	case MsgFrame:
		s.remoteFrame(m)
	case MsgReply:
		s.remoteReply(m)
	case MsgAck:
		s.remoteAck(m)
	case MsgBounce:
		s.remoteBounce(m)
	case MsgClientGone:
		if e := s.pres.lookup(m.Account, []byte(m.AgentID)); e != nil && e.local != nil {
			e.local.clientGone(m.Conn)
		}
	case MsgPresence:
		s.remotePresence(m)
	case MsgKick:
		if m.All || m.Account != "" {
			s.applyKick(m)
		}
	}
}

// NodeLost takes a lost node's agents offline.
func (h *nodeHandler) NodeLost(node string, report bool) { (*Server)(h).nodeLost(node, report) }

// Snapshot lists this node's agents for a joining node.
func (h *nodeHandler) Snapshot() []*Message { return (*Server)(h).localSnapshot() }

// remoteFrame delivers a client's frame from another node to a local agent
// and acks it from here (API.md §4.9), or bounces it to the sender's node.
func (s *Server) remoteFrame(m *Message) {
	e := s.pres.lookup(m.Account, []byte(m.AgentID))
	if e == nil || e.local == nil {
		// Not here (any more): let the sender's node re-route, queue or
		// ack it.
		b := *m
		b.Kind, b.Node = MsgBounce, s.node
		s.publish(&b)
		return
	}
	bp := s.getFrameBuf()
	*bp = appendRelayToAgent(*bp, m.Conn, []byte(m.MID), m.Packet)
	status := ackDelivered
	if !e.local.enqueuePeer(bp, true, m.Conn) {
		status = ackOffline
	}
	s.publish(&Message{Kind: MsgAck, Node: s.node, Conn: m.Conn, MID: m.MID, Status: status, AgentID: m.AgentID})
}

// remoteReply delivers an agent's frame from another node to a local
// client and acks it from here.
func (s *Server) remoteReply(m *Message) {
	_, seq, ok := parseConnID(m.Conn)
	var dst *conn
	if ok {
		dst = s.lookupConn(seq)
	}
	status := ackDelivered
	if !s.deliverReply(dst, m.Conn, m.Account, m.AgentID, []byte(m.MID), m.Packet) {
		s.stats.drops[dropUnknownConn].Add(1)
		status = ackUnknownConn
	}
	if m.MID != "" {
		s.publish(&Message{Kind: MsgAck, Node: s.node, Conn: m.Peer, MID: m.MID, Status: status, Peer: m.Conn})
	}
}

// remoteAck passes an ack produced on another node to the local sender.
func (s *Server) remoteAck(m *Message) {
	_, seq, ok := parseConnID(m.Conn)
	if !ok || !validMID([]byte(m.MID)) {
		return
	}
	c := s.lookupConn(seq)
	if c == nil || c.id != m.Conn || !c.authed.Load() {
		return
	}
	a := &ack{mid: []byte(m.MID), status: m.Status}
	if c.kind == KindAgent {
		a.conn = []byte(m.Peer)
	} else {
		a.agentID = []byte(m.AgentID)
	}
	switch a.status {
	case ackDelivered, ackOffline, ackUnknownConn, ackUnknownAgent:
	default:
		return
	}
	c.sendAck(a)
}

// remoteBounce re-routes a frame the agent's presumed node did not hold.
// Re-routing may consult the Directory, so it runs in its own goroutine,
// at most maxBounces at a time; beyond that the frame is acked offline.
func (s *Server) remoteBounce(m *Message) {
	_, seq, ok := parseConnID(m.Conn)
	if !ok {
		return
	}
	from := s.lookupConn(seq)
	if from == nil || from.id != m.Conn || !from.authed.Load() || from.kind != KindClient || from.account != m.Account {
		return
	}
	// The presence entry pointing at the bouncing node is stale (its
	// offline message is late or lost): drop it, as that message would.
	sh := s.pres.shard(m.Account)
	sh.mu.Lock()
	stale := sh.get(m.Account, m.AgentID)
	if stale != nil && (stale.node != m.Node || stale.local != nil) {
		stale = nil
	}
	if stale != nil {
		sh.del(m.Account, m.AgentID)
	}
	sh.mu.Unlock()
	if stale != nil {
		s.notifyPresence(stale.event(false, s.clock.Now(), offClosed), false)
	}
	agentID, mid, packet := []byte(m.AgentID), []byte(m.MID), slices.Clone(m.Packet)
	select {
	case s.bounces <- struct{}{}:
	default:
		s.stats.drops[dropOffline].Add(1)
		from.sendAck(&ack{mid: mid, status: ackOffline, agentID: agentID})
		return
	}
	if !s.goTracked(func() {
		defer func() { <-s.bounces }()
		s.routeToAgent(from, agentID, mid, packet, 1)
	}) {
		<-s.bounces
	}
}
