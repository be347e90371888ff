package relay

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// offlineQueues holds, on the sender's node, frames for registered agents
// that are offline (API.md §4.4): per agent at most OfflineQueueFrames /
// OfflineQueueBytes, all together at most OfflineQueueTotalBytes, each
// frame for its sender's TTL. Flushed in order when the agent's online
// reaches this node; dropped when the sender leaves or the agent is
// deleted; never persisted.
type offlineQueues struct {
	s      *Server
	mu     sync.Mutex
	m      map[agentKey]*offlineQueue
	bytes  int
	frames atomic.Int64 // fast "anything queued?" for the routing hot path
	closed bool
}

type agentKey struct{ account, agentID string }

type offlineQueue struct {
	key   agentKey
	items []offlineItem
	bytes int
	timer Timer // fires at the head's expiry
	due   time.Time
}

type offlineItem struct {
	from    *conn
	mid     []byte
	packet  []byte
	expires time.Time
}

func (o *offlineQueues) init(s *Server) {
	o.s = s
	o.m = make(map[agentKey]*offlineQueue)
}

func (o *offlineQueues) pending() bool { return o.frames.Load() > 0 }

// routeIfQueued routes a new frame for an agent that has queued frames, so
// it never overtakes them: if the agent is back, the queue is flushed
// first; otherwise the frame joins the queue. False if the agent has no
// queue here.
func (o *offlineQueues) routeIfQueued(from *conn, agentID, mid, packet []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.m[agentKey{from.account, string(agentID)}]
	if q == nil {
		return false
	}
	if o.s.pres.lookup(from.account, agentID) != nil {
		o.flushLocked(q)
		return false // the caller sends the new frame after the flushed ones
	}
	o.addLocked(q.key, from, agentID, mid, packet)
	return true
}

// add queues a frame for an offline registered agent and acks it queued
// (or queue_full). If the agent came online meanwhile, it is sent instead.
func (o *offlineQueues) add(from *conn, agentID, mid, packet []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := agentKey{from.account, string(agentID)}
	if o.s.pres.lookup(from.account, agentID) != nil {
		// It came online while the directory was asked.
		if q := o.m[key]; q != nil {
			o.flushLocked(q)
		}
		if o.s.sendToAgent(from, agentID, mid, packet, 0) {
			return
		}
	}
	o.addLocked(key, from, agentID, mid, packet)
}

func (o *offlineQueues) addLocked(key agentKey, from *conn, agentID, mid, packet []byte) {
	s := o.s
	q := o.m[key]
	n := len(packet) + len(mid)
	full := o.closed || o.bytes+n > s.cfg.OfflineQueueTotalBytes
	if q != nil {
		full = full || len(q.items) >= s.cfg.OfflineQueueFrames || q.bytes+n > s.cfg.OfflineQueueBytes
	} else {
		full = full || n > s.cfg.OfflineQueueBytes
	}
	if full {
		s.stats.drops[dropQueueFull].Add(1)
		from.sendAck(&ack{mid: mid, status: ackQueueFull, agentID: agentID})
		return
	}
	if q == nil {
		q = &offlineQueue{key: key}
		o.m[key] = q
	}
	now := s.clock.Now()
	ttl := from.offlineTTL
	q.items = append(q.items, offlineItem{
		from: from, mid: slices.Clone(mid), packet: slices.Clone(packet), expires: now.Add(ttl),
	})
	q.bytes += n
	o.bytes += n
	o.frames.Add(1)
	s.stats.offlineQueued.Add(1)
	from.noteAgent(agentID)
	o.armLocked(q)
	from.sendAck(&ack{mid: mid, status: ackQueued, agentID: agentID, expiresIn: int((ttl + time.Second - 1) / time.Second)})
}

// armLocked (re)arms q's timer for its head's expiry.
func (o *offlineQueues) armLocked(q *offlineQueue) {
	if len(q.items) == 0 {
		if q.timer != nil {
			q.timer.Stop()
			q.timer = nil
		}
		return
	}
	head := q.items[0].expires
	if q.timer != nil && q.due.Equal(head) {
		return
	}
	if q.timer != nil {
		q.timer.Stop()
	}
	q.due = head
	d := head.Sub(o.s.clock.Now())
	q.timer = o.s.clock.AfterFunc(max(d, 0), func() { o.expire(q) })
}

// expire drops q's frames whose TTL passed, acking each expired.
func (o *offlineQueues) expire(q *offlineQueue) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m[q.key] != q {
		return
	}
	now := o.s.clock.Now()
	n := 0
	for n < len(q.items) && !q.items[n].expires.After(now) {
		it := q.items[n]
		o.s.stats.drops[dropExpired].Add(1)
		it.from.sendAck(&ack{mid: it.mid, status: ackExpired, agentID: []byte(q.key.agentID)})
		n++
	}
	o.removeLocked(q, n)
	q.timer = nil
	o.armLocked(q)
}

// removeLocked drops the first n items of q.
func (o *offlineQueues) removeLocked(q *offlineQueue, n int) {
	for _, it := range q.items[:n] {
		sz := len(it.packet) + len(it.mid)
		q.bytes -= sz
		o.bytes -= sz
	}
	o.frames.Add(-int64(n))
	o.s.stats.offlineQueued.Add(-int64(n))
	clear(q.items[:n])
	q.items = q.items[n:]
	if len(q.items) == 0 {
		if q.timer != nil {
			q.timer.Stop()
			q.timer = nil
		}
		delete(o.m, q.key)
	}
}

// flush sends an agent's queued frames now that it is online somewhere.
func (o *offlineQueues) flush(account, agentID string) {
	if !o.pending() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if q := o.m[agentKey{account, agentID}]; q != nil {
		o.flushLocked(q)
	}
}

func (o *offlineQueues) flushLocked(q *offlineQueue) {
	items := slices.Clone(q.items)
	o.removeLocked(q, len(items))
	for _, it := range items {
		if !o.s.sendToAgent(it.from, []byte(q.key.agentID), it.mid, it.packet, 0) {
			// Gone again before the flush: the frame is lost.
			o.s.stats.drops[dropExpired].Add(1)
			it.from.sendAck(&ack{mid: it.mid, status: ackExpired, agentID: []byte(q.key.agentID)})
		}
	}
}

// dropSender drops the frames sender c queued (it disconnected).
func (o *offlineQueues) dropSender(c *conn, agents map[string]struct{}) {
	if !o.pending() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for agentID := range agents {
		q := o.m[agentKey{c.account, agentID}]
		if q == nil {
			continue
		}
		kept := q.items[:0]
		var dropped []offlineItem
		for _, it := range q.items {
			if it.from == c {
				dropped = append(dropped, it)
			} else {
				kept = append(kept, it)
			}
		}
		if len(dropped) == 0 {
			continue
		}
		for _, it := range dropped {
			sz := len(it.packet) + len(it.mid)
			q.bytes -= sz
			o.bytes -= sz
		}
		clear(q.items[len(kept):])
		q.items = kept
		o.frames.Add(-int64(len(dropped)))
		o.s.stats.offlineQueued.Add(-int64(len(dropped)))
		if len(q.items) == 0 {
			o.removeLocked(q, 0)
		} else {
			o.armLocked(q)
		}
	}
}

// dropAgents drops the queued frames of an agent (agentID set) or of a
// whole account, acking them expired: the agent or account is gone.
func (o *offlineQueues) dropAgents(account, agentID string) {
	if !o.pending() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for key, q := range o.m {
		if key.account != account || (agentID != "" && key.agentID != agentID) {
			continue
		}
		for _, it := range q.items {
			o.s.stats.drops[dropExpired].Add(1)
			it.from.sendAck(&ack{mid: it.mid, status: ackExpired, agentID: []byte(key.agentID)})
		}
		o.removeLocked(q, len(q.items))
	}
}

// close stops every timer and drops everything (Server.Close).
func (o *offlineQueues) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for _, q := range o.m {
		o.removeLocked(q, len(q.items))
	}
}
