package relay

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// handleRelay handles a relay frame from an authenticated peer (API.md
// §4.3, §4.4, §4.6).
func (c *conn) handleRelay(e *envelope) {
	if e.badField != "" {
		c.sendError(CodeInvalidMessage, e.badField+" must be a string", e.mid)
		return
	}
	if c.kind == KindClient {
		if !e.hasMID || !validMID(e.mid) {
			c.sendError(CodeInvalidMessage, "mid: 1–64 of [A-Za-z0-9._:-] required", nil)
			return
		}
		if !e.hasAgentID {
			c.sendError(CodeInvalidMessage, "agent_id required", e.mid)
			return
		}
	} else {
		if e.hasMID && !validMID(e.mid) {
			c.sendError(CodeInvalidMessage, "mid: 1–64 of [A-Za-z0-9._:-]", nil)
			return
		}
		if !e.hasConn {
			c.sendError(CodeInvalidMessage, "conn required", e.mid)
			return
		}
	}
	if e.packet == nil {
		c.sendError(CodeInvalidMessage, "packet must be a JSON string", e.mid)
		return
	}
	if !c.allowRelay(e) {
		return
	}
	if c.maxRequests >= 0 && c.requests >= c.maxRequests {
		c.s.stats.drops[dropQuota].Add(1)
		c.sendAck(c.ackFor(e, ackQuotaExceeded))
		c.closeWith(CloseQuotaExceeded, CloseName(CloseQuotaExceeded), "")
		return
	}
	c.requests++
	if c.kind == KindClient {
		c.s.routeToAgent(c, e.agentID, e.mid, e.packet, 0)
	} else {
		c.s.routeToConn(c, e.conn, e.mid, e.packet)
	}
}

// ackFor starts an ack for frame e of this connection.
func (c *conn) ackFor(e *envelope, status string) *ack {
	a := &ack{mid: e.mid, status: status}
	if c.kind == KindClient {
		a.agentID = e.agentID
	} else {
		a.conn = e.conn
	}
	return a
}

// allowRelay applies the token buckets of API.md §4.6: the connection's,
// then for clients the account's. A refused frame is acked rate_limited
// with its scope; MaxRefused refusals within RefusedWindow close 4010.
func (c *conn) allowRelay(e *envelope) bool {
	now := c.s.clock.Now()
	scope := ""
	var lim *rate.Limiter
	if c.lim != nil && c.lim.TokensAt(now) < 1 {
		scope, lim = "connection", c.lim
	} else if c.kind == KindClient && !c.acct.limiter.AllowN(now, 1) {
		scope, lim = "account", c.acct.limiter
	}
	if scope == "" {
		if c.lim != nil {
			c.lim.AllowN(now, 1)
		}
		return true
	}
	c.s.stats.drops[dropRateLimited].Add(1)
	if c.refused == nil {
		w := c.s.cfg.RefusedWindow
		c.refused = rate.NewLimiter(rate.Limit(float64(c.s.cfg.MaxRefused)/w.Seconds()), c.s.cfg.MaxRefused)
	}
	if !c.refused.AllowN(now, 1) {
		c.closeWith(CloseFlooding, CloseName(CloseFlooding), "")
		return false
	}
	a := c.ackFor(e, ackRateLimited)
	a.scope = scope
	a.retryMS = retryAfterMS(lim, now)
	c.sendAck(a)
	return false
}

// retryAfterMS is when lim will next hold a token, in ms (at least 1).
func retryAfterMS(lim *rate.Limiter, now time.Time) int64 {
	tok := lim.TokensAt(now)
	if tok >= 1 || lim.Limit() <= 0 {
		return 1
	}
	ms := int64((1 - tok) / float64(lim.Limit()) * 1000)
	return max(ms+1, 1)
}

// routeToAgent routes a client's frame to agent agentID of its account
// (API.md §4.3). hops counts bounces already taken.
func (s *Server) routeToAgent(from *conn, agentID, mid, packet []byte, hops int) {
	if !validAgentID(agentID) {
		s.stats.drops[dropUnknownAgent].Add(1)
		from.sendAck(&ack{mid: mid, status: ackUnknownAgent, agentID: agentID})
		return
	}
	if s.offline.pending() && s.offline.routeIfQueued(from, agentID, mid, packet) {
		return
	}
	if !s.sendToAgent(from, agentID, mid, packet, hops) {
		s.agentOffline(from, agentID, mid, packet)
	}
}

// sendToAgent delivers to the agent if it is connected on any node;
// false if it is not (known to be) connected.
func (s *Server) sendToAgent(from *conn, agentID, mid, packet []byte, hops int) bool {
	e := s.pres.lookup(from.account, agentID)
	if e == nil {
		return false
	}
	if e.local != nil {
		bp := s.getFrameBuf()
		*bp = appendRelayToAgent(*bp, from.id, mid, packet)
		if e.local.enqueuePeer(bp, true, from.id) {
			from.noteAgent(agentID)
			from.sendAck(&ack{mid: mid, status: ackDelivered, agentID: agentID})
		} else {
			s.stats.drops[dropOffline].Add(1)
			from.sendAck(&ack{mid: mid, status: ackOffline, agentID: agentID})
		}
		return true
	}
	if hops > 0 {
		// Bounced once already: the presence view is changing; do not
		// ping-pong across nodes.
		s.stats.drops[dropOffline].Add(1)
		from.sendAck(&ack{mid: mid, status: ackOffline, agentID: agentID})
		return true
	}
	from.noteAgent(agentID)
	m := &Message{Kind: MsgFrame, Node: s.node, Account: from.account, AgentID: e.agentID,
		Conn: from.id, MID: string(mid), Packet: packet}
	if err := s.publish(m); err != nil {
		s.stats.drops[dropOffline].Add(1)
		from.sendAck(&ack{mid: mid, status: ackOffline, agentID: agentID})
	}
	return true
}

// agentOffline answers a frame for an agent connected nowhere: queued,
// offline, queue_full or unknown_agent (API.md §4.3, §4.4).
func (s *Server) agentOffline(from *conn, agentID, mid, packet []byte) {
	if s.dir == nil {
		s.stats.drops[dropUnknownAgent].Add(1)
		from.sendAck(&ack{mid: mid, status: ackUnknownAgent, agentID: agentID})
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, directoryTimeout)
	_, found, err := s.dir.lookup(ctx, from.account, string(agentID))
	cancel()
	switch {
	case err != nil:
		s.log.Warn("directory lookup failed", "account", from.account, "agent_id", string(agentID), "err", err)
		s.stats.drops[dropOffline].Add(1)
		from.sendAck(&ack{mid: mid, status: ackOffline, agentID: agentID})
	case !found:
		s.stats.drops[dropUnknownAgent].Add(1)
		from.sendAck(&ack{mid: mid, status: ackUnknownAgent, agentID: agentID})
	case from.offlineTTL <= 0:
		s.stats.drops[dropOffline].Add(1)
		from.sendAck(&ack{mid: mid, status: ackOffline, agentID: agentID})
	default:
		s.offline.add(from, agentID, mid, packet)
	}
}

// routeToConn routes an agent's frame to client connection connID (API.md
// §4.3): only to a connection that wrote to this agent within replyWindow.
func (s *Server) routeToConn(from *conn, connID, mid, packet []byte) {
	if !from.hasPeer(connID) {
		s.unknownConn(from, connID, mid)
		return
	}
	node, seq, ok := parseConnID(connID)
	if !ok {
		s.unknownConn(from, connID, mid)
		return
	}
	if string(node) != s.node {
		m := &Message{Kind: MsgReply, Node: s.node, Account: from.account, AgentID: from.agentID,
			Conn: string(connID), Peer: from.id, MID: string(mid), Packet: packet}
		if err := s.publish(m); err != nil {
			s.unknownConn(from, connID, mid)
		}
		return
	}
	dst := s.lookupConn(seq)
	if !s.deliverReply(dst, string(connID), from.account, from.agentID, mid, packet) {
		s.unknownConn(from, connID, mid)
		return
	}
	if len(mid) > 0 {
		from.sendAck(&ack{mid: mid, status: ackDelivered, conn: connID})
	}
}

// deliverReply queues an agent's frame on client connection dst, which
// must be connID of the agent's account.
func (s *Server) deliverReply(dst *conn, connID, accountID, agentID string, mid, packet []byte) bool {
	if dst == nil || dst.id != connID || !dst.authed.Load() || dst.kind != KindClient || dst.account != accountID {
		return false
	}
	bp := s.getFrameBuf()
	*bp = appendRelayToClient(*bp, agentID, mid, packet)
	return dst.enqueue(bp, true)
}

func (s *Server) unknownConn(from *conn, connID, mid []byte) {
	s.stats.drops[dropUnknownConn].Add(1)
	if len(mid) > 0 {
		from.sendAck(&ack{mid: mid, status: ackUnknownConn, conn: connID})
	}
}

// clientLeft tells the agents a client wrote to that it is gone, and drops
// its offline-queued frames (API.md §4.3, §4.4).
func (s *Server) clientLeft(c *conn, wrote map[string]struct{}) {
	for agentID := range wrote {
		e := s.pres.lookup(c.account, []byte(agentID))
		if e == nil {
			continue
		}
		if e.local != nil {
			e.local.clientGone(c.id)
			continue
		}
		s.publish(&Message{Kind: MsgClientGone, Node: s.node, Account: c.account, AgentID: agentID, Conn: c.id})
	}
	s.offline.dropSender(c, wrote)
}

// publish sends m through the broker, counting failures.
func (s *Server) publish(m *Message) error {
	err := s.broker.Publish(s.ctx, m)
	if err != nil {
		s.stats.brokerErrors.Add(1)
		s.log.Debug("broker publish failed", "kind", int(m.Kind), "err", err)
	}
	return err
}
