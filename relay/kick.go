package relay

import (
	"context"
	"slices"
	"time"
)

// Target selects connections for Kick: those matching every non-empty
// field (for CredentialIDs: holding any of the listed ids). Account is
// required, because agent ids are unique only per account; All selects
// every connection of the cluster (restore: 1012).
type Target struct {
	Account       string
	AgentID       string
	CredentialIDs []string
	Kind          Kind // KindClient, KindAgent or empty for both
	All           bool
}

// pendingKick is a kick scheduled for a later time on this node.
type pendingKick struct {
	timer Timer
}

// Kick closes, on every node of the cluster, each connection matching t
// with close code code (API.md §4.7) at time at (zero: now; else the end
// of a grace period), within 1 s of at (API.md §4.8). It also drops, on
// every node, the directory cache entries of the account (of the agent
// when t names one), and for code 4004 or 4005 the offline-queued frames
// for the agent or account (their senders get expired acks).
// Examples (DESIGN.md): session deleted → {Account, CredentialIDs:
// [ses_…]} 4001; agent deleted → {Account, AgentID} 4004; user disabled →
// {Account} 4005. Credentials are named by id, never by token. The kick is
// applied locally even when the broker fails; the error is returned.
func (s *Server) Kick(ctx context.Context, t Target, code int, at time.Time) error {
	if !t.All && t.Account == "" {
		return ErrInvalidTarget
	}
	if t.Kind != "" && t.Kind != KindClient && t.Kind != KindAgent {
		return ErrInvalidTarget
	}
	if code < 1000 || code > 4999 || code == 1004 || code == 1005 || code == 1006 || code == 1015 {
		return ErrInvalidCode
	}
	s.mu.Lock()
	closed := s.state == stateClosed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	m := &Message{Kind: MsgKick, Node: s.node, Account: t.Account, AgentID: t.AgentID,
		CredentialIDs: slices.Clone(t.CredentialIDs), TargetKind: t.Kind, All: t.All, Code: code, Time: at}
	if err := s.applyKick(m); err != nil {
		return err
	}
	if err := s.broker.Publish(ctx, m); err != nil {
		s.stats.brokerErrors.Add(1)
		return err
	}
	return nil
}

// applyKick applies a kick on this node, now or at m.Time.
func (s *Server) applyKick(m *Message) error {
	if s.dir != nil && !m.All {
		s.dir.drop(m.Account, m.AgentID)
	}
	d := m.Time.Sub(s.clock.Now())
	if m.Time.IsZero() || d <= 0 {
		s.kickNow(m)
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return ErrClosed
	}
	if len(s.kicks) >= s.cfg.MaxPendingKicks {
		return ErrTooManyKicks
	}
	k := &pendingKick{}
	k.timer = s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		_, ok := s.kicks[k]
		delete(s.kicks, k)
		s.mu.Unlock()
		if ok {
			s.kickNow(m)
		}
	})
	s.kicks[k] = struct{}{}
	return nil
}

// kickNow closes the matching local connections.
func (s *Server) kickNow(m *Message) {
	var conns []*conn
	if m.All {
		conns = s.allConns()
	} else {
		conns = s.accountConns(m.Account, false)
	}
	n := 0
	for _, c := range conns {
		if !m.All && !kickMatches(m, c) {
			continue
		}
		c.closeWith(m.Code, CloseName(m.Code), offKicked)
		n++
	}
	if (m.Code == CloseAgentDeleted || m.Code == CloseAccountDisabled) && !m.All {
		s.offline.dropAgents(m.Account, m.AgentID)
	}
	if n > 0 {
		s.stats.kicked.Add(uint64(n))
		s.log.Info("kick", "account", m.Account, "agent_id", m.AgentID, "credential_ids", m.CredentialIDs,
			"kind", string(m.TargetKind), "all", m.All, "code", m.Code, "connections", n)
	}
}

func kickMatches(m *Message, c *conn) bool {
	if !c.authed.Load() || c.account != m.Account {
		return false
	}
	if m.AgentID != "" && (c.kind != KindAgent || c.agentID != m.AgentID) {
		return false
	}
	if m.TargetKind != "" && c.kind != m.TargetKind {
		return false
	}
	if len(m.CredentialIDs) > 0 && !holdsAny(c.p.CredentialIDs, m.CredentialIDs) {
		return false
	}
	return true
}

func holdsAny(have, want []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}

// revalidateTick runs every RevalidateInterval when the Authenticator is
// a Revalidator.
func (s *Server) revalidateTick() {
	s.goTracked(func() {
		s.revalidate()
		s.mu.Lock()
		if s.state != stateClosed {
			s.revalT = s.clock.AfterFunc(s.cfg.RevalidateInterval, s.revalidateTick)
		}
		s.mu.Unlock()
	})
}

// revalidate asks the Revalidator about every live credential id and
// closes the connections holding a revoked one with 4001 (API.md §4.8).
func (s *Server) revalidate() {
	byID := make(map[string][]*conn)
	for _, c := range s.allConns() {
		if !c.authed.Load() {
			continue
		}
		for _, id := range c.p.CredentialIDs {
			byID[id] = append(byID[id], c)
		}
	}
	if len(byID) == 0 {
		return
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for start := 0; start < len(ids); start += revalidateBatch {
		batch := ids[start:min(start+revalidateBatch, len(ids))]
		ctx, cancel := context.WithTimeout(s.ctx, revalidateTimeout)
		revoked, err := s.reval.Revalidate(ctx, batch)
		cancel()
		if err != nil {
			s.stats.revalidateFailures.Add(1)
			s.log.Warn("revalidation failed", "ids", len(batch), "err", err)
			continue
		}
		for _, id := range revoked {
			for _, c := range byID[id] {
				c.closeWith(CloseTokenRevoked, CloseName(CloseTokenRevoked), offKicked)
			}
		}
		if len(revoked) > 0 {
			s.log.Info("revalidation revoked credentials", "credential_ids", revoked)
		}
	}
}
