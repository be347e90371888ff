package relay

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
)

// PresenceEvent is an agent going online or offline, passed to
// Config.OnPresence (API.md §4.5; refserver turns it into agent.online /
// agent.offline and last_seen).
type PresenceEvent struct {
	Account string
	AgentID string
	Online  bool
	// Time is when the change happened (connect or disconnect); it is the
	// agent's last_seen for an offline event.
	Time time.Time
	// Reason (offline only): closed, timeout, kicked, replaced, node_lost
	// or shutdown. An agent replaced by a newer connection of its own stays
	// online: no offline event is reported for the older connection.
	Reason string
	// Node and Conn: where the agent is (was) connected.
	Node string
	Conn string
	// What the agent declared at relay auth, and its address.
	RemoteIP        string
	EWSPVersions    []string
	FirmwareVersion string
	Platform        string
}

// AgentPresence is a connected agent, as Presence reports it.
type AgentPresence struct {
	AgentID         string
	Node            string
	Conn            string
	Since           time.Time
	RemoteIP        string
	EWSPVersions    []string
	FirmwareVersion string
	Platform        string
}

// presence is the cluster-wide registration of one agent connection.
// Entries are immutable: updates replace the pointer.
type presence struct {
	account  string
	agentID  string
	node     string
	conn     string
	local    *conn // non-nil when the connection is on this node
	since    time.Time
	remoteIP string
	ewsp     []string
	firmware string
	platform string
}

// newer reports whether registration a wins over b: the later connection,
// ties broken by conn id, so every node picks the same winner (API.md §4.9).
func newer(a, b *presence) bool {
	if !a.since.Equal(b.since) {
		return a.since.After(b.since)
	}
	return a.conn > b.conn
}

const presShards = 64

// presenceTable maps (account, agent) to the agent's connection on any
// node. Its size is bounded by the agents connected to the cluster.
type presenceTable struct {
	shards [presShards]presShard
}

type presShard struct {
	mu sync.RWMutex
	m  map[string]map[string]*presence // account → agent id → entry
}

func (t *presenceTable) init() {
	for i := range t.shards {
		t.shards[i].m = make(map[string]map[string]*presence)
	}
}

func (t *presenceTable) shard(account string) *presShard {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(account); i++ {
		h ^= uint32(account[i])
		h *= 16777619
	}
	return &t.shards[h%presShards]
}

func (t *presenceTable) lookup(account string, agentID []byte) *presence {
	sh := t.shard(account)
	sh.mu.RLock()
	e := sh.m[account][string(agentID)]
	sh.mu.RUnlock()
	return e
}

func (sh *presShard) get(account, agentID string) *presence { return sh.m[account][agentID] }

func (sh *presShard) set(e *presence) {
	a := sh.m[e.account]
	if a == nil {
		a = make(map[string]*presence)
		sh.m[e.account] = a
	}
	a[e.agentID] = e
}

func (sh *presShard) del(account, agentID string) {
	a := sh.m[account]
	delete(a, agentID)
	if len(a) == 0 {
		delete(sh.m, account)
	}
}

// accountAgents returns the connected agents of an account.
func (t *presenceTable) accountAgents(account string) []*presence {
	sh := t.shard(account)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	a := sh.m[account]
	out := make([]*presence, 0, len(a))
	for _, e := range a {
		out = append(out, e)
	}
	return out
}

func (e *presence) event(online bool, at time.Time, reason string) *PresenceEvent {
	return &PresenceEvent{
		Account: e.account, AgentID: e.agentID, Online: online, Time: at, Reason: reason,
		Node: e.node, Conn: e.conn, RemoteIP: e.remoteIP,
		EWSPVersions: e.ewsp, FirmwareVersion: e.firmware, Platform: e.platform,
	}
}

func (e *presence) message(node string) *Message {
	return &Message{Kind: MsgPresence, Node: node, Account: e.account, AgentID: e.agentID,
		Conn: e.conn, Status: "online", Time: e.since, RemoteIP: e.remoteIP,
		EWSPVersions: e.ewsp, FirmwareVersion: e.firmware, Platform: e.platform}
}

// registerAgent makes c the agent's connection, cluster-wide: an older
// local connection of the agent is closed 4003 here, older ones elsewhere
// by their nodes when the online message reaches them (API.md §4.9).
func (s *Server) registerAgent(c *conn, now time.Time) {
	e := &presence{account: c.account, agentID: c.agentID, node: s.node, conn: c.id, local: c,
		since: now, remoteIP: c.ip, ewsp: c.ewsp, firmware: c.firmware, platform: c.platform}
	sh := s.pres.shard(c.account)
	sh.mu.Lock()
	old := sh.get(c.account, c.agentID)
	if old != nil && old.local == nil && newer(old, e) {
		// A newer connection of this agent exists on another node.
		sh.mu.Unlock()
		c.closeWith(CloseAgentReplaced, CloseName(CloseAgentReplaced), offReplaced)
		return
	}
	if old == nil || old.local == nil {
		// Subscribe before announcing, so frames sent on the announcement
		// reach this node. Under the shard lock, so a concurrent
		// unregister cannot unsubscribe after this subscribe.
		if err := s.broker.SubscribeAgent(s.ctx, c.account, c.agentID); err != nil {
			s.stats.brokerErrors.Add(1)
			s.log.Warn("broker subscribe failed", "account", c.account, "agent_id", c.agentID, "err", err)
		}
	}
	sh.set(e)
	sh.mu.Unlock()
	if old != nil && old.local != nil {
		// Same node: the new connection inherits the reply permissions.
		old.local.mu.Lock()
		peers := old.local.peers
		old.local.peers = nil
		old.local.mu.Unlock()
		if len(peers) > 0 {
			c.mu.Lock()
			if c.peers == nil {
				c.peers = peers
			}
			c.mu.Unlock()
		}
		old.local.closeWith(CloseAgentReplaced, CloseName(CloseAgentReplaced), offReplaced)
	}
	s.publish(e.message(s.node))
	s.notifyPresence(e.event(true, now, ""), true)
	s.offline.flush(c.account, c.agentID)
}

// unregisterAgent removes c's registration if it is still the agent's.
func (s *Server) unregisterAgent(c *conn, reason string) {
	sh := s.pres.shard(c.account)
	sh.mu.Lock()
	e := sh.get(c.account, c.agentID)
	if e == nil || e.local != c {
		sh.mu.Unlock()
		return // replaced: the agent stays online
	}
	sh.del(c.account, c.agentID)
	if err := s.broker.UnsubscribeAgent(s.ctx, c.account, c.agentID); err != nil {
		s.stats.brokerErrors.Add(1)
	}
	sh.mu.Unlock()
	now := s.clock.Now()
	s.publish(&Message{Kind: MsgPresence, Node: s.node, Account: c.account, AgentID: c.agentID,
		Conn: c.id, Status: "offline", Reason: reason, Time: now})
	s.notifyPresence(e.event(false, now, reason), true)
}

// remotePresence applies another node's presence message.
func (s *Server) remotePresence(m *Message) {
	sh := s.pres.shard(m.Account)
	if m.Status != "online" {
		sh.mu.Lock()
		old := sh.get(m.Account, m.AgentID)
		if old == nil || old.conn != m.Conn || old.local != nil {
			sh.mu.Unlock()
			return
		}
		sh.del(m.Account, m.AgentID)
		sh.mu.Unlock()
		reason := m.Reason
		if reason == "" {
			reason = offClosed
		}
		s.notifyPresence(old.event(false, m.Time, reason), false)
		return
	}
	if !validAgentID(m.AgentID) || m.Account == "" {
		return
	}
	e := &presence{account: m.Account, agentID: m.AgentID, node: m.Node, conn: m.Conn,
		since: m.Time, remoteIP: m.RemoteIP, ewsp: m.EWSPVersions, firmware: m.FirmwareVersion, platform: m.Platform}
	sh.mu.Lock()
	old := sh.get(m.Account, m.AgentID)
	if old != nil && !newer(e, old) {
		sh.mu.Unlock()
		return // stale, or already known
	}
	sh.set(e)
	if old != nil && old.local != nil {
		if err := s.broker.UnsubscribeAgent(s.ctx, m.Account, m.AgentID); err != nil {
			s.stats.brokerErrors.Add(1)
		}
	}
	sh.mu.Unlock()
	if old != nil && old.local != nil {
		old.local.closeWith(CloseAgentReplaced, CloseName(CloseAgentReplaced), offReplaced)
	}
	s.notifyPresence(e.event(true, m.Time, ""), false)
	s.offline.flush(m.Account, m.AgentID)
}

// nodeLost takes the agents of a lost node offline (reason node_lost) and
// tells local agents that the clients of that node are gone.
func (s *Server) nodeLost(node string, report bool) {
	if node == s.node {
		return
	}
	var lost []*presence
	for i := range s.pres.shards {
		sh := &s.pres.shards[i]
		sh.mu.Lock()
		for acct, agents := range sh.m {
			for id, e := range agents {
				if e.local == nil && e.node == node {
					lost = append(lost, e)
					delete(agents, id)
				}
			}
			if len(agents) == 0 {
				delete(sh.m, acct)
			}
		}
		sh.mu.Unlock()
	}
	now := s.clock.Now()
	for _, e := range lost {
		s.notifyPresence(e.event(false, now, offNodeLost), report)
	}
	prefix := node + ":"
	for _, c := range s.allConns() {
		if !c.authed.Load() || c.kind != KindAgent {
			continue
		}
		var gone []string
		c.mu.Lock()
		for id := range c.peers {
			if strings.HasPrefix(id, prefix) {
				gone = append(gone, id)
			}
		}
		c.mu.Unlock()
		for _, id := range gone {
			c.clientGone(id)
		}
	}
	if len(lost) > 0 {
		s.log.Info("node lost", "lost_node", node, "agents", len(lost))
	}
}

// notifyPresence sends device_status to the account's local clients and,
// if observe, reports to OnPresence.
func (s *Server) notifyPresence(ev *PresenceEvent, observe bool) {
	if clients := s.accountConns(ev.Account, true); len(clients) > 0 {
		st := agentStatus{Type: typeDeviceStatus, AgentID: ev.AgentID, Status: "offline",
			TS: jsonTime(ev.Time), LastSeen: jsonTime(ev.Time), Reason: ev.Reason,
			EWSPVersions: nonNil(ev.EWSPVersions), FirmwareVersion: nullable(ev.FirmwareVersion)}
		if ev.Online {
			st.Status = "online"
		}
		b, _ := json.Marshal(st)
		for _, c := range clients {
			c.enqueue(&b, false) // shared, never mutated
		}
	}
	if observe && s.cfg.OnPresence != nil {
		s.cfg.OnPresence(*ev)
	}
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sendSnapshot sends the presence frame to a new client (API.md §4.3): the
// account's registered agents (first snapshotLimit by agent_id), connected
// ones with the values of their relay auth. Without a Directory, or when
// it fails, the connected agents only.
func (s *Server) sendSnapshot(c *conn) {
	var infos []AgentInfo
	if s.dir != nil {
		ctx, cancel := context.WithTimeout(s.ctx, directoryTimeout)
		var err error
		infos, err = s.dir.agents(ctx, c.account, snapshotLimit)
		cancel()
		if err != nil {
			s.log.Warn("directory listing failed", "account", c.account, "err", err)
			infos = nil
		}
	}
	now := s.clock.Now()
	byID := make(map[string]agentStatus, len(infos))
	for _, in := range infos {
		if !validAgentID(in.AgentID) {
			continue
		}
		byID[in.AgentID] = agentStatus{AgentID: in.AgentID, Status: "offline", LastSeen: jsonTime(in.LastSeen),
			EWSPVersions: nonNil(in.EWSPVersions), FirmwareVersion: nullable(in.FirmwareVersion)}
	}
	for _, e := range s.pres.accountAgents(c.account) {
		byID[e.agentID] = agentStatus{AgentID: e.agentID, Status: "online", LastSeen: jsonTime(now),
			EWSPVersions: nonNil(e.ewsp), FirmwareVersion: nullable(e.firmware)}
	}
	list := make([]agentStatus, 0, len(byID))
	for _, st := range byID {
		list = append(list, st)
	}
	slices.SortFunc(list, func(a, b agentStatus) int { return strings.Compare(a.AgentID, b.AgentID) })
	if len(list) > snapshotLimit {
		list = list[:snapshotLimit]
	}
	b, _ := json.Marshal(presenceFrame{Type: typePresence, Agents: list})
	c.enqueueAfterAuth(&b)
}

// Presence returns the agents of an account connected to any node of the
// cluster, in agent_id order.
func (s *Server) Presence(ctx context.Context, accountID string) []AgentPresence {
	agents := s.pres.accountAgents(accountID)
	out := make([]AgentPresence, 0, len(agents))
	for _, e := range agents {
		out = append(out, e.public())
	}
	slices.SortFunc(out, func(a, b AgentPresence) int { return strings.Compare(a.AgentID, b.AgentID) })
	return out
}

// AgentPresence reports whether an agent of the account is connected to
// any node of the cluster, and where.
func (s *Server) AgentPresence(ctx context.Context, accountID, agentID string) (AgentPresence, bool) {
	e := s.pres.lookup(accountID, []byte(agentID))
	if e == nil {
		return AgentPresence{}, false
	}
	return e.public(), true
}

func (e *presence) public() AgentPresence {
	return AgentPresence{AgentID: e.agentID, Node: e.node, Conn: e.conn, Since: e.since, RemoteIP: e.remoteIP,
		EWSPVersions: slices.Clone(e.ewsp), FirmwareVersion: e.firmware, Platform: e.platform}
}

// localSnapshot returns an online message for each agent connected here.
func (s *Server) localSnapshot() []*Message {
	var out []*Message
	for i := range s.pres.shards {
		sh := &s.pres.shards[i]
		sh.mu.RLock()
		for _, agents := range sh.m {
			for _, e := range agents {
				if e.local != nil {
					out = append(out, e.message(s.node))
				}
			}
		}
		sh.mu.RUnlock()
	}
	return out
}
